"""The registry: builds become versions (``NAME@vN``), versions resolve to immutable commits.

One dataset is one repository of the store. ``register`` uploads a build to its own branch,
commits it with the build's metadata, merges it into ``main`` and tags the merge commit ``vN``::

    reg = Registry("file:///tmp/registry")
    v = reg.register("out/build", dataset="asr-demo")        # Version(tag='v1', …)
    ds = reg.open("asr-demo@v1")                              # DatasetVersion, log ds.commit_id
    for batch in ds.tf_dataset("train").padded_batch(8): …
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from curate.progress import phase
from curate.validation.result import NotValidatedError
from curate.fsio import is_local
from registry.build import META_EXAMPLES, META_FINGERPRINT, META_HOURS, META_IMPORTED_FROM, Build
from registry.dataset import DatasetVersion, default_cache_dir
from registry.diff import VersionDiff, diff_versions
from registry.errors import ConflictError, NotFoundError, ReferenceError_, RegistryError
from registry.refs import DatasetRef, RefKind, parse_ref, validate_dataset_name
from registry.store import Importer, Store, paginate
from registry.uri import open_store

if TYPE_CHECKING:
    from curate.progress import MeterFactory

__all__ = ["MAIN", "Registry", "Version"]

log = logging.getLogger(__name__)

MAIN = "main"
_TAG_RE = re.compile(r"^v([1-9]\d*)$")
_LAND_ATTEMPTS = 5  # a concurrent register moved main: rebase onto it and try again
_TAG_ATTEMPTS = 20  # a concurrent register took vN: take the next one


# Paths on main that belong to the repository, not to a build (lakeFS actions: the pre-merge
# validation hook lives there); registering a build never deletes them.
_REPOSITORY_PREFIXES = ("_lakefs_actions/",)


def _kept_on_main(paths: Any) -> set[str]:
    return {p for p in paths if p.startswith(_REPOSITORY_PREFIXES)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Version:
    """One registered version: a tag on an immutable commit, with the build's metadata."""

    dataset: str
    tag: str | None  # "v3"; None for a commit that no tag names
    number: int | None
    commit_id: str
    fingerprint: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    message: str = ""
    created: int = 0  # unix seconds

    @property
    def ref(self) -> str:
        """``NAME@v3``, or ``NAME@<commit id>`` for an untagged commit."""
        return f"{self.dataset}@{self.tag or self.commit_id}"

    @property
    def examples(self) -> int:
        return int(self.metadata.get(META_EXAMPLES, 0))

    @property
    def hours(self) -> float:
        return float(self.metadata.get(META_HOURS, 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "tag": self.tag,
            "number": self.number,
            "ref": self.ref,
            "commit_id": self.commit_id,
            "fingerprint": self.fingerprint,
            "message": self.message,
            "created": self.created,
            "metadata": dict(self.metadata),
        }


class _MainMoved(Exception):
    """The merge into main conflicted with a concurrent register."""


class Registry:
    """Versions of datasets in a :class:`registry.store.Store` (or a registry URI)."""

    def __init__(
        self,
        uri_or_store: str | os.PathLike[str] | Store | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        workers: int = 8,
    ) -> None:
        if uri_or_store is None or isinstance(uri_or_store, (str, os.PathLike)):
            uri_or_store = open_store(None if uri_or_store is None else os.fspath(uri_or_store))
        self.store: Store = uri_or_store
        self._cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
        self._workers = workers

    def __repr__(self) -> str:
        return f"Registry({self.store!r})"

    # -- reading ------------------------------------------------------------------------------

    def datasets(self) -> list[str]:
        return list(paginate(lambda after: self.store.list_repositories(after=after)))

    def _require(self, name: str) -> str:
        validate_dataset_name(name)
        if not self.store.repository_exists(name):
            raise NotFoundError(f"unknown dataset '{name}'")
        return name

    def _tags(self, repo: str) -> dict[str, str]:
        """vN tag -> commit id."""
        pairs = paginate(lambda after: self.store.list_tags(repo, after=after))
        return {t: c for t, c in pairs if _TAG_RE.match(t)}

    def _version(self, repo: str, tag: str | None, commit_id: str) -> Version:
        c = self.store.get_commit(repo, commit_id)
        return Version(
            dataset=repo,
            tag=tag,
            number=int(tag[1:]) if tag else None,
            commit_id=c.id,
            fingerprint=c.metadata.get(META_FINGERPRINT, ""),
            metadata=dict(c.metadata),
            message=c.message,
            created=c.creation_date,
        )

    def versions(self, name: str) -> list[Version]:
        """Every version of ``name``, oldest first."""
        repo = self._require(name)
        tags = sorted(self._tags(repo).items(), key=lambda tc: int(tc[0][1:]))
        return [self._version(repo, t, c) for t, c in tags]

    def latest(self, name: str) -> Version | None:
        repo = self._require(name)
        tags = self._tags(repo)
        if not tags:
            return None
        tag = max(tags, key=lambda t: int(t[1:]))
        return self._version(repo, tag, tags[tag])

    def _resolve(self, ref: DatasetRef) -> tuple[str, str | None]:
        """(commit id, vN tag naming it or None)."""
        repo = self._require(ref.name)
        tags = self._tags(repo)
        numbers = sorted(int(t[1:]) for t in tags)
        have = f"latest is v{numbers[-1]}" if numbers else "it has no versions yet"
        if ref.kind is RefKind.VERSION:
            if ref.value not in tags:
                raise NotFoundError(f"dataset '{repo}' has no version {ref.value} ({have})")
            return tags[ref.value], ref.value
        if ref.kind is RefKind.LATEST:
            if not numbers:
                raise NotFoundError(f"dataset '{repo}' has no versions yet")
            return tags[f"v{numbers[-1]}"], f"v{numbers[-1]}"
        by_commit = {c: t for t, c in tags.items()}
        if len(ref.value) == 64:
            try:
                commit_id = self.store.get_commit(repo, ref.value).id
            except NotFoundError:
                raise NotFoundError(f"dataset '{repo}' has no commit {ref.value}") from None
            return commit_id, by_commit.get(commit_id)
        found = {c for c in by_commit if c.startswith(ref.value)}
        found |= {
            c.id
            for c in paginate(lambda after: self.store.log(repo, MAIN, after=after))
            if c.id.startswith(ref.value)
        }
        if not found:
            raise NotFoundError(f"dataset '{repo}' has no commit starting with {ref.value}")
        if len(found) > 1:
            raise ReferenceError_(
                f"commit prefix '{ref.value}' is ambiguous in dataset '{repo}' "
                f"({len(found)} commits match); give more digits"
            )
        commit_id = found.pop()
        return commit_id, by_commit.get(commit_id)

    def resolve(self, ref: str) -> str:
        """The immutable commit id of ``NAME@vN``, ``NAME@latest`` or ``NAME@<commit>``."""
        return self._resolve(parse_ref(ref))[0]

    def show(self, ref: str) -> Version:
        parsed = parse_ref(ref)
        commit_id, tag = self._resolve(parsed)
        return self._version(parsed.name, tag, commit_id)

    def open(self, ref: str | Version) -> DatasetVersion:
        """The data of a version, read through the local cache keyed by commit id."""
        if isinstance(ref, Version):
            name, commit_id, tag = ref.dataset, ref.commit_id, ref.tag
        else:
            parsed = parse_ref(ref)
            commit_id, tag = self._resolve(parsed)
            name = parsed.name
        return DatasetVersion(
            self.store,
            dataset=name,
            commit_id=commit_id,
            tag=tag,
            cache_root=self._cache_dir or default_cache_dir(),
            workers=self._workers,
        )

    def diff(self, a: str, b: str) -> VersionDiff:
        """What changed from version ``a`` to version ``b``: keys, counts, hours, files."""
        return diff_versions(self.open(a), self.open(b))

    # -- registering --------------------------------------------------------------------------

    def register(
        self,
        build_dir: str | os.PathLike[str],
        *,
        dataset: str,
        message: str | None = None,
        allow_unvalidated: bool = False,
        copy: bool = False,
        progress: MeterFactory | None = None,
    ) -> Version:
        """Register a build directory as the next version of ``dataset`` (see module doc).

        Every file is verified against ``dataset_info.json`` before anything is written. A build
        whose fingerprint equals the latest version's returns that version and writes nothing.
        A build without a passing ``curate validate`` result for its current contents is refused
        (``NotValidatedError``) unless ``allow_unvalidated``, which is then recorded as
        ``curate.validation.unvalidated`` in the version's metadata.

        A build in a bucket that the store can import from (lakeFS with an S3 block store and an
        ``s3://`` build) is registered in place, its bytes not copied; the version then lives
        where the build is (``curate.imported_from``). ``copy`` copies it all the same.
        ``progress`` is told the bytes hashed (``verifying``) and uploaded (``uploading``).
        """
        repo = validate_dataset_name(dataset)
        importer = None if copy else self._importer(build_dir)
        build = Build.read(build_dir, workers=self._workers, checksums=importer is not None,
                           progress=progress)
        unvalidated = None
        try:
            build.require_validation()
        except NotValidatedError as e:
            if not allow_unvalidated:
                raise
            unvalidated = str(e)
        metadata = build.metadata(dataset, unvalidated=unvalidated)
        message = message or f"Register build {build.fingerprint[:12]} of {dataset}"
        last: _MainMoved | None = None
        for attempt in range(1, _LAND_ATTEMPTS + 1):
            if not self.store.repository_exists(repo):
                try:
                    self.store.create_repository(repo, default_branch=MAIN)
                except ConflictError:
                    pass  # created by a concurrent register
            tags = self._tags(repo)
            tagged = set(tags.values())
            if tags:
                latest = max(tags, key=lambda t: int(t[1:]))
                version = self._version(repo, latest, tags[latest])
                if version.fingerprint == build.fingerprint:
                    log.info("%s: build %s is already %s", repo, build.fingerprint[:12], latest)
                    return version
            head = self.store.get_commit(repo, MAIN)
            if head.metadata.get(META_FINGERPRINT) == build.fingerprint and head.id not in tagged:
                log.info("%s: completing an interrupted register of %s", repo, head.id[:12])
                return self._tag(repo, head.id)
            try:
                commit_id = self._land(repo, build, metadata, message, head.id, importer,
                                       progress)
            except _MainMoved as e:
                log.info("%s: attempt %d: %s; retrying on the new main", repo, attempt, e)
                last = e
                continue
            return self._tag(repo, commit_id)
        raise ConflictError(
            f"could not register into '{repo}': main kept moving under "
            f"{_LAND_ATTEMPTS} attempts ({last})"
        )

    def _importer(self, build_dir: str | os.PathLike[str]) -> Importer | None:
        """The store, if it can register this build in place (a build in a bucket of the
        store's own kind of storage, e.g. ``s3://`` on lakeFS with an S3 block store)."""
        root = os.fspath(build_dir)
        if is_local(root) or not isinstance(self.store, Importer):
            return None
        return self.store if self.store.can_import(root) else None

    def _land(
        self,
        repo: str,
        build: Build,
        metadata: dict[str, str],
        message: str,
        head_id: str,
        importer: Importer | None = None,
        progress: MeterFactory | None = None,
    ) -> str:
        """Upload (or import), commit and merge ``build`` on a fresh branch from ``head_id``;
        the merge id."""
        branch = f"build-{build.fingerprint[:12]}-{secrets.token_hex(4)}"
        self.store.create_branch(repo, branch, source_ref=head_id)
        try:
            present = {
                o.path: o.sha256
                for o in paginate(lambda after: self.store.list_objects(repo, head_id, after=after))
            }
            wanted = {f.path for f in build.files}
            uploads = [f for f in build.files if present.get(f.path) != f.sha256]
            if importer is not None and uploads:
                imported = self._import(repo, branch, build, uploads, present, importer, head_id)
                if imported:
                    uploads = []
                    metadata = {**metadata, META_IMPORTED_FROM: build.root}
            log.info("%s: uploading %d of %d files", repo, len(uploads), len(build.files))

            with phase(progress if uploads else None, "uploading",
                       sum(f.size_bytes for f in uploads)) as meter:

                def upload(f: Any) -> None:
                    with build.local_file(f) as local:
                        self.store.upload_object(repo, branch, f.path, local_path=local,
                                                 sha256=f.sha256)
                    meter.advance(f.size_bytes)

                with ThreadPoolExecutor(max_workers=self._workers) as pool:
                    list(pool.map(upload, uploads))
            for path in sorted(set(present) - wanted - _kept_on_main(present)):
                self.store.delete_object(repo, branch, path)
            try:
                self.store.commit(repo, branch, message=message, metadata=metadata)
            except ConflictError as e:
                raise ConflictError(
                    f"build {build.fingerprint[:12]} has exactly the files of main's head "
                    f"{head_id[:12]} of '{repo}', which is not a registered version of it"
                ) from e
            try:
                return self.store.merge(repo, branch, MAIN, message=message, metadata=metadata)
            except ConflictError as e:
                raise _MainMoved(str(e)) from e
        finally:
            try:
                self.store.delete_branch(repo, branch)
            except RegistryError as e:
                log.warning("%s: could not delete build branch %s: %s", repo, branch, e)

    def _import(
        self,
        repo: str,
        branch: str,
        build: Build,
        files: list[Any],
        present: Mapping[str, str],
        importer: Importer,
        head_id: str,
    ) -> bool:
        """Import ``files`` onto ``branch`` in place; False (branch reset to ``head_id``, the
        reason logged) when the store cannot, so that the caller uploads them instead."""
        paths = {f.path for f in files}
        # An object source replaces everything under its path on the branch: a kept path that
        # starts with an imported one would be lost.
        shadowed = sorted(p for p in present if p not in paths
                          and any(p.startswith(q) for q in paths))
        if shadowed:
            log.info("%s: not importing: %r would replace %r", repo, build.root, shadowed[0])
            return False
        log.info("%s: importing %d of %d files in place from %s", repo, len(files),
                 len(build.files), build.root)
        try:
            importer.import_objects(repo, branch, build.import_objects(files),
                                    message=f"Import build {build.fingerprint[:12]} in place")
        except RegistryError as e:
            log.warning("%s: cannot import from %s (%s); uploading instead", repo, build.root, e)
            self.store.delete_branch(repo, branch)
            self.store.create_branch(repo, branch, source_ref=head_id)
            return False
        return True

    def _tag(self, repo: str, commit_id: str) -> Version:
        """Tag ``commit_id`` with the next free vN (or return the tag it already has)."""
        for _ in range(_TAG_ATTEMPTS):
            tags = self._tags(repo)
            for tag, c in tags.items():
                if c == commit_id:
                    return self._version(repo, tag, c)
            tag = f"v{1 + max((int(t[1:]) for t in tags), default=0)}"
            try:
                self.store.create_tag(repo, tag, commit_id)
            except ConflictError:
                continue  # a concurrent register took it
            return self._version(repo, tag, commit_id)
        raise ConflictError(
            f"could not tag commit {commit_id[:12]} of '{repo}': "
            f"{_TAG_ATTEMPTS} version numbers in a row were taken concurrently"
        )
