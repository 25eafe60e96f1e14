"""The store protocol over a lakeFS server, through the official high-level ``lakefs`` SDK.

Configuration is lakectl's (see ``registry.lakectl_config``). New repositories need a storage
namespace: ``storage_namespace_root=`` or ``$CURATE_LAKEFS_STORAGE_NAMESPACE`` (for example
``local://curate`` on ``lakefs run --quickstart``, ``s3://bucket/prefix`` on S3), to which
``/<repository>`` is appended. It is only needed to create repositories.

Mapping onto lakeFS:

- an object's sha256 is lakeFS *user metadata* (``x-lakefs-meta-sha256`` on upload), so stats
  and listings carry it without reading the data;
- ``log`` follows first parents only (lakeFS ``first_parent=true``), newest first;
- ``diff`` is lakeFS's ``two_dot`` refs diff (left to right), not the three-dot default;
- commit metadata keys starting with ``.lakefs.`` are lakeFS's own (every merge commit gets
  ``.lakefs.merge.strategy``) and are hidden from ``Commit.metadata``;
- a commit or merge with nothing to do, and a merge into a branch with uncommitted changes,
  are ``ConflictError`` (lakeFS answers 400 for them).

Where the high-level SDK is bypassed (``client.sdk_client``), and why:

- the listings (``list_repositories``, ``list_branches``, ``list_tags``, ``list_objects``,
  ``log``, ``diff``): the high-level generators consume lakeFS's pagination themselves and hide
  ``has_more``/``next_offset``, which a ``Page`` must carry;
- ``create_branch`` and ``create_tag``: ``Branch.create()``/``Tag.create()`` drop the commit id
  the server returns; reading a branch back afterwards could see a later commit, and reading a
  tag back by name resolves a commit id of that name first (lakeFS: commit id, branch, tag;
  a tag cannot take a branch's name, nor a branch a tag's: 409);
- ``can_import``: ``Client.storage_config`` keeps the configuration in a class-level dict that
  every client of the process shares (lakefs 0.16), so it can answer for another server;
- the connection pool's size (``sdk_client.objects_api.api_client.rest_client.pool_manager``,
  the path the SDK's own raw upload uses).

Zero-copy registration (``Importer``): where the server's block store can import a build's
URIs (its ``import_support`` and ``import_validity_regex``, e.g. ``s3://`` on an S3 block
store), ``import_objects`` registers objects in place through lakeFS's import API (one object
source per file, committed on the branch), checks that what lakeFS found at each URI has the
size and ETag the registry verified, and stages each object's sha256 as user metadata
(``updateObjectUserMetadata``; an import carries none). The bytes then stay where the build
is: lakeFS points at them and does not own them.

Data never sits whole in memory: uploads go through the SDK's object writer (spooled to a
temporary file past 32 MiB, sent as a stream), downloads are 8 MiB ranged reads into a temporary
file renamed into place. Neither uses pre-signed URLs, so data passes through the lakeFS server.

Thread safety: one ``lakefs.Client`` (one urllib3 pool manager, which is thread-safe) is shared;
every call builds its own short-lived SDK objects and keeps no other state, so many threads may
upload through one store at once. The pool keeps up to ``MAX_CONNECTIONS`` connections alive
(the SDK's default, five per CPU, makes 16 upload threads log "Connection pool is full").
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

import lakefs
import lakefs_sdk

from registry.errors import IntegrityError, NotFoundError, RegistryError
from registry.lakectl_config import LakectlConfig, resolve_lakectl_config
from registry.lakefs_errors import lakefs_errors
from registry.store import Commit, DiffEntry, DiffType, ImportObject, ObjectInfo, Page, paginate

__all__ = ["MAX_CONNECTIONS", "SHA256_METADATA_KEY", "STORAGE_NAMESPACE_ENV", "LakeFSStore"]

STORAGE_NAMESPACE_ENV = "CURATE_LAKEFS_STORAGE_NAMESPACE"
SHA256_METADATA_KEY = "sha256"
MAX_CONNECTIONS = 32
_LAKEFS_METADATA_PREFIX = ".lakefs."
_MAX_AMOUNT = 1000  # lakeFS's maximum page size (DefaultMaxPerPage)
_CHUNK_BYTES = 8 * 1024 * 1024  # upload read size and download range size
_DIFF_TYPES = {"added": DiffType.ADDED, "removed": DiffType.REMOVED, "changed": DiffType.CHANGED}
_IMPORT_POLL = timedelta(seconds=0.2)
_METADATA_THREADS = 8

log = logging.getLogger(__name__)

T = TypeVar("T")


class LakeFSStore:
    """``registry.store.Store`` on a lakeFS server; see the module docstring."""

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        storage_namespace_root: str | None = None,
    ) -> None:
        self._config: LakectlConfig = resolve_lakectl_config(
            endpoint_url=endpoint_url,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
        root = storage_namespace_root or os.environ.get(STORAGE_NAMESPACE_ENV) or ""
        self._namespace_root = root.rstrip("/")
        self._client = _new_client(self._config)

    def __repr__(self) -> str:
        return (
            f"LakeFSStore(endpoint_url={self._config.endpoint_url!r}, "
            f"access_key_id={self._config.access_key_id!r})"
        )

    # Repositories.

    def create_repository(self, repo: str, *, default_branch: str = "main") -> None:
        if not self._namespace_root:
            raise RegistryError(
                f"cannot create lakeFS repository {repo!r}: no storage namespace configured; "
                f"pass storage_namespace_root= or set {STORAGE_NAMESPACE_ENV} "
                "(e.g. local://curate or s3://bucket/prefix)"
            )
        namespace = f"{self._namespace_root}/{repo}"
        with self._errors(f"create repository {repo!r} in {namespace}"):
            self._repo(repo).create(storage_namespace=namespace, default_branch=default_branch)

    def repository_exists(self, repo: str) -> bool:
        try:
            with self._errors(f"get repository {repo!r}"):
                _ = self._repo(repo).properties
        except NotFoundError:
            return False
        return True

    def list_repositories(self, *, after: str = "", amount: int = 100) -> Page[str]:
        with self._errors("list repositories"):
            listing = self._api.repositories_api.list_repositories(
                after=after, amount=_amount(amount)
            )
        return _page(listing, lambda r: r.id)

    # Branches and refs.

    def create_branch(self, repo: str, branch: str, *, source_ref: str) -> str:
        creation = lakefs_sdk.BranchCreation(name=branch, source=source_ref)
        with self._errors(f"create branch {branch!r} from {source_ref!r} in {repo!r}"):
            response = self._api.branches_api.create_branch_with_http_info(repo, creation)
        # The 201 body is the commit id as plain text. Take it raw: the generated client tries
        # json.loads first, which would turn an id that happens to be all digits into an int.
        return str(response.raw_data).strip()

    def delete_branch(self, repo: str, branch: str) -> None:
        with self._errors(f"delete branch {branch!r} of {repo!r}"):
            self._repo(repo).branch(branch).delete()

    def list_branches(self, repo: str, *, after: str = "", amount: int = 100) -> Page[str]:
        with self._errors(f"list branches of {repo!r}"):
            listing = self._api.branches_api.list_branches(
                repo, after=after, amount=_amount(amount)
            )
        return _page(listing, lambda r: r.id)

    def get_commit(self, repo: str, ref: str) -> Commit:
        with self._errors(f"get commit {ref!r} of {repo!r}"):
            return _commit(self._repo(repo).ref(ref).get_commit())

    def log(self, repo: str, ref: str, *, after: str = "", amount: int = 100) -> Page[Commit]:
        with self._errors(f"log {ref!r} of {repo!r}"):
            listing = self._api.refs_api.log_commits(
                repo, ref, after=after, amount=_amount(amount), first_parent=True
            )
        return _page(listing, _commit)

    # Objects.

    def upload_object(
        self, repo: str, branch: str, path: str, *, local_path: str, sha256: str
    ) -> ObjectInfo:
        """Stream ``local_path`` to the branch; nothing is staged if its bytes do not hash to
        ``sha256`` (the SDK's writer spools to a temporary file and sends on close)."""
        expected = sha256.lower()
        digest = hashlib.sha256()
        size = 0
        with self._errors(f"upload {path!r} to {repo!r}/{branch!r}"):
            writer = (
                self._repo(repo)
                .branch(branch)
                .object(path)
                .writer(
                    mode="wb",
                    pre_sign=False,
                    content_type="application/octet-stream",
                    metadata={SHA256_METADATA_KEY: expected},
                )
            )
            try:
                with open(local_path, "rb") as source:
                    while chunk := source.read(_CHUNK_BYTES):
                        writer.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
            except BaseException:
                writer.discard()
                raise
            if digest.hexdigest() != expected:
                writer.discard()
                raise IntegrityError(
                    f"{local_path}: sha256 is {digest.hexdigest()}, expected {expected}; "
                    f"not uploaded to {repo!r}/{branch!r}:{path}"
                )
            writer.close()  # the upload happens here
        return ObjectInfo(path=path, size_bytes=size, sha256=expected)

    def delete_object(self, repo: str, branch: str, path: str) -> None:
        with self._errors(f"delete {path!r} from {repo!r}/{branch!r}"):
            self._repo(repo).branch(branch).object(path).delete()

    def stat_object(self, repo: str, ref: str, path: str) -> ObjectInfo:
        with self._errors(f"stat {path!r} at {repo!r}@{ref!r}"):
            return _object_info(self._repo(repo).ref(ref).object(path).stat())

    def list_objects(
        self, repo: str, ref: str, *, prefix: str = "", after: str = "", amount: int = 1000
    ) -> Page[ObjectInfo]:
        with self._errors(f"list objects at {repo!r}@{ref!r}"):
            listing = self._api.objects_api.list_objects(
                repo, ref, prefix=prefix, after=after, amount=_amount(amount), user_metadata=True
            )
        return _page(listing, _object_info)

    def download_object(self, repo: str, ref: str, path: str, *, dest_path: str) -> str:
        """Fetch in ranged reads of 8 MiB into a temporary file renamed into place, so neither
        memory nor a half-written ``dest_path`` grows with the object; the bytes are hashed as
        they arrive (their sha256 is returned)."""
        dest = Path(dest_path)
        partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        try:
            with self._errors(f"download {path!r} at {repo!r}@{ref!r}"):
                obj = self._repo(repo).ref(ref).object(path)
                with obj.reader(mode="rb", pre_sign=False) as reader, open(partial, "wb") as out:
                    while chunk := reader.read(_CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
        return digest.hexdigest()

    # Commits, merges, tags, diffs.

    def commit(
        self, repo: str, branch: str, *, message: str, metadata: Mapping[str, str]
    ) -> Commit:
        with self._errors(f"commit to {repo!r}/{branch!r}"):
            ref = self._repo(repo).branch(branch).commit(message=message, metadata=dict(metadata))
            return _commit(ref.get_commit())

    def merge(
        self,
        repo: str,
        source_ref: str,
        destination_branch: str,
        *,
        message: str,
        metadata: Mapping[str, str],
    ) -> str:
        with self._errors(f"merge {source_ref!r} into {destination_branch!r} of {repo!r}"):
            return (
                self._repo(repo)
                .ref(source_ref)
                .merge_into(destination_branch, message=message, metadata=dict(metadata))
            )

    def create_tag(self, repo: str, tag: str, ref: str) -> str:
        creation = lakefs_sdk.TagCreation(id=tag, ref=ref)
        with self._errors(f"create tag {tag!r} at {ref!r} in {repo!r}"):
            return self._api.tags_api.create_tag(repo, creation).commit_id

    def list_tags(self, repo: str, *, after: str = "", amount: int = 100) -> Page[tuple[str, str]]:
        with self._errors(f"list tags of {repo!r}"):
            listing = self._api.tags_api.list_tags(repo, after=after, amount=_amount(amount))
        return _page(listing, lambda r: (r.id, r.commit_id))

    def diff(
        self, repo: str, left_ref: str, right_ref: str, *, after: str = "", amount: int = 1000
    ) -> Page[DiffEntry]:
        with self._errors(f"diff {left_ref!r}..{right_ref!r} of {repo!r}"):
            listing = self._api.refs_api.diff_refs(
                repo, left_ref, right_ref, after=after, amount=_amount(amount), type="two_dot"
            )
        entries = [d for d in listing.results if d.path_type == "object"]
        unknown = {d.type for d in entries} - _DIFF_TYPES.keys()
        if unknown:
            raise RegistryError(
                f"diff {left_ref!r}..{right_ref!r}: unexpected change types {unknown}"
            )
        return Page(
            results=[DiffEntry(path=d.path, type=_DIFF_TYPES[d.type]) for d in entries],
            has_more=listing.pagination.has_more,
            next_offset=listing.pagination.next_offset or "",
        )

    # Zero-copy registration.

    def can_import(self, uri: str) -> bool:
        """Whether the server's block store imports objects under ``uri`` (False, logged, when
        its storage configuration cannot be read)."""
        try:  # not Client.storage_config: lakefs 0.16 keeps that in a dict shared by every
            # client of the process, so two servers' configurations overwrite each other
            with self._errors("get the storage configuration"):
                config = self._api.config_api.get_config().storage_config
        except RegistryError as e:
            log.info("lakeFS import not available: %s", e)
            return False
        pattern = config.import_validity_regex if config is not None else ""
        return bool(config is not None and config.import_support and pattern
                    and re.match(pattern, uri))

    def import_objects(
        self, repo: str, branch: str, objects: list[ImportObject], *, message: str
    ) -> None:
        if not objects:
            return
        where = f"{repo!r}/{branch!r}"
        with self._errors(f"import {len(objects)} objects into {where}"):
            manager = self._repo(repo).branch(branch).import_data(commit_message=message)
            for o in objects:
                manager.object(object_store_uri=o.uri, destination=o.path)
            manager.run(poll_interval=_IMPORT_POLL)
        found = self._sizes_and_checksums(repo, branch)
        for o in objects:
            size, etag = found.get(o.path, (None, ""))
            if (size, etag) != (o.size_bytes, o.checksum):
                raise IntegrityError(
                    f"{o.uri}: lakeFS imported {size} bytes with ETag {etag or '-'}, the "
                    f"registry verified {o.size_bytes} bytes with ETag {o.checksum or '-'} "
                    "(the object changed since, or lakeFS reads another storage)"
                )

        def record_sha256(o: ImportObject) -> None:
            body = lakefs_sdk.UpdateObjectUserMetadata(set={SHA256_METADATA_KEY: o.sha256})
            with self._errors(f"set the sha256 of {o.path!r} on {where}"):
                self._api.experimental_api.update_object_user_metadata(repo, branch, o.path, body)

        with ThreadPoolExecutor(max_workers=_METADATA_THREADS) as pool:
            list(pool.map(record_sha256, objects))

    def _sizes_and_checksums(self, repo: str, ref: str) -> dict[str, tuple[int, str]]:
        def page(after: str) -> Page[Any]:
            with self._errors(f"list objects at {repo!r}@{ref!r}"):
                listing = self._api.objects_api.list_objects(
                    repo, ref, after=after, amount=_MAX_AMOUNT, user_metadata=False
                )
            return _page(listing, lambda s: s)

        return {
            s.path: (int(s.size_bytes or 0), (s.checksum or "").strip('"'))
            for s in paginate(page)
        }

    # Plumbing.

    @property
    def _api(self) -> Any:
        return self._client.sdk_client

    def _repo(self, repo: str) -> lakefs.Repository:
        return lakefs.Repository(repo, client=self._client)

    def _errors(self, action: str) -> AbstractContextManager[None]:
        return lakefs_errors(
            action,
            server=self._config.endpoint_url,
            secrets=(self._config.secret_access_key, self._config.access_key_id),
        )


def _new_client(config: LakectlConfig) -> lakefs.Client:
    """A client from explicit keyword arguments (the SDK then reads no environment or file of
    its own). lakefs_sdk's ``Configuration`` sets the process-wide "urllib3" and "lakefs_sdk"
    loggers to WARNING; their levels are put back, a library must not change them."""
    loggers = [logging.getLogger(name) for name in ("urllib3", "lakefs_sdk")]
    levels = [logger.level for logger in loggers]
    try:
        client = lakefs.Client(
            host=config.endpoint_url,
            username=config.access_key_id,
            password=config.secret_access_key,
        )
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    # Pools are made on first use, so this applies to all of them. The SDK's own raw upload
    # reaches the pool manager by this same path.
    pool_manager = client.sdk_client.objects_api.api_client.rest_client.pool_manager
    pool_manager.connection_pool_kw["maxsize"] = MAX_CONNECTIONS
    return client


def _amount(amount: int) -> int:
    if amount < 1:
        raise ValueError(f"amount must be at least 1, got {amount}")
    return min(amount, _MAX_AMOUNT)  # lakeFS caps pages at 1000 and the SDK rejects more


def _page(listing: Any, convert: Callable[[Any], T]) -> Page[T]:
    return Page(
        results=[convert(item) for item in listing.results],
        has_more=listing.pagination.has_more,
        next_offset=listing.pagination.next_offset or "",
    )


def _commit(c: Any) -> Commit:
    """From ``lakefs.models.Commit`` or ``lakefs_sdk.Commit`` (same field names)."""
    metadata = {
        k: v for k, v in (c.metadata or {}).items() if not k.startswith(_LAKEFS_METADATA_PREFIX)
    }
    return Commit(
        id=c.id,
        message=c.message,
        metadata=metadata,
        parents=tuple(c.parents or ()),
        creation_date=int(c.creation_date),
    )


def _object_info(stats: Any) -> ObjectInfo:
    """From ``lakefs.models.ObjectInfo`` or ``lakefs_sdk.ObjectStats``; sha256 is '' for an
    object that was not uploaded through the registry."""
    return ObjectInfo(
        path=stats.path,
        size_bytes=int(stats.size_bytes or 0),
        sha256=(stats.metadata or {}).get(SHA256_METADATA_KEY, ""),
    )
