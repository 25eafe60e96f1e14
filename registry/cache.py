"""The cache of versions' files, keyed by commit id: a local directory or a bucket.

A commit never changes, so its files are fetched once into
``<cache root>/<dataset>/<commit id>/<path>`` and kept. Each file is downloaded to a temporary
name, checked against its sha256 and moved into place; a marker under ``.verified/`` records
the size and modification time it had when verified. A cached file that no longer matches its
marker is re-hashed and, if corrupted, fetched again.

The root may be any Beam filesystem URI (``s3://bucket/cache``, ``gs://…``), so that the
machines of a cluster share one copy of a version instead of each downloading it from the
registry: set ``CURATE_CACHE_DIR`` to it. ``s3://`` is reached with boto3's own configuration
(``AWS_*`` variables, instance roles; ``AWS_ENDPOINT_URL_S3`` for MinIO and the like) unless a
pipeline in this process has given Beam its S3 options.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath

from curate.fsio import (
    bucket_errors,
    delete_file,
    ensure_filesystem_options,
    file_stat,
    open_read,
    require_credentials,
    is_local,
    join,
    sha256_of,
    write_in_place,
)
from curate.sources.paths import is_within
from registry.errors import IntegrityError, StoreUnavailableError
from registry.store import Store

__all__ = ["ENV_CACHE_DIR", "CommitCache", "default_cache_dir"]

log = logging.getLogger(__name__)

ENV_CACHE_DIR = "CURATE_CACHE_DIR"
_MARKERS = ".verified"


def default_cache_dir() -> str:
    """``$CURATE_CACHE_DIR`` (a directory or a bucket URI), else the user's cache directory."""
    env = os.environ.get(ENV_CACHE_DIR, "").strip()
    if env:
        return env if not is_local(env) else os.path.expanduser(env)
    import platformdirs

    return platformdirs.user_cache_dir("curate")


def _safe_relative(path: str) -> str:
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or p.parts[0] == _MARKERS:
        raise IntegrityError(f"refusing to cache object path {path!r}")
    return path


class CommitCache:
    """The files of one commit of one dataset under a cache root, each verified once."""

    def __init__(self, store: Store, *, repo: str, commit_id: str,
                 root: str | os.PathLike[str]) -> None:
        root = os.fspath(root)
        self.store = store
        self.repo = repo
        self.commit_id = commit_id
        self.local = is_local(root)
        if not self.local:
            ensure_filesystem_options(root)
            try:  # else Beam retries every request for minutes before it fails
                require_credentials(root)
            except PermissionError as e:
                raise StoreUnavailableError(f"registry cache {root}: {e}") from None
        for part in (repo, commit_id):  # names from the store: they must not climb out
            if not part or "/" in part or "\\" in part or part in (".", ".."):
                raise IntegrityError(f"refusing to cache under {root}: bad name {part!r}")
        self.dir = join(root.rstrip("/") if not self.local else root, f"{repo}/{commit_id}")

    def __repr__(self) -> str:
        return f"CommitCache({self.dir!r})"

    def path(self, rel: str) -> str:
        """Where ``rel`` is (or would be) cached: a local path or a URI, always below the
        commit's directory (IntegrityError otherwise)."""
        resolved = join(self.dir, _safe_relative(rel))
        if not is_within(self.dir, resolved) or resolved == self.dir:
            raise IntegrityError(f"refusing to cache object path {rel!r}: outside {self.dir}")
        return resolved

    def exists(self, rel: str) -> bool:
        return file_stat(self.path(rel)) is not None

    def _marker(self, rel: str) -> str:
        return join(self.dir, f"{_MARKERS}/{rel}.json")

    def _marked_ok(self, rel: str, sha256: str | None, st: tuple[int, int] | None) -> bool:
        """The file (whose stat is ``st``) is unchanged since it was verified: same size and
        mtime as its marker recorded."""
        if st is None:
            return False
        try:
            with open_read(self._marker(rel)) as f:
                m = json.loads(f.read())
        except (OSError, ValueError, *bucket_errors()):
            return False
        return (sha256 is None or m.get("sha256") == sha256) and [
            m.get("size_bytes"), m.get("mtime_ns")] == list(st)

    def _mark(self, rel: str, sha256: str) -> None:
        """Record that ``rel`` was verified. Written in place, not atomically: a torn marker
        is no valid JSON, so the file is only re-hashed."""
        size, mtime_ns = file_stat(self.path(rel)) or (None, None)
        record = {"sha256": sha256, "size_bytes": size, "mtime_ns": mtime_ns}
        write_in_place(self._marker(rel), data=json.dumps(record).encode())

    def forget(self, rel: str) -> None:
        """Drop the verification marker of ``rel``: the next fetch re-hashes it."""
        delete_file(self._marker(rel))

    def fetch(self, rel: str, *, sha256: str | None = None, size_bytes: int | None = None) -> str:
        """Path or URI of ``rel``, downloaded and verified unless already cached intact.
        Without ``sha256``, the one the store recorded for the object is used."""
        try:
            return self._fetch(rel, sha256, size_bytes)
        except (OSError, *bucket_errors()) as e:
            if self.local:
                raise
            raise StoreUnavailableError(f"registry cache {self.dir}: {e}") from e

    def _fetch(self, rel: str, sha256: str | None, size_bytes: int | None) -> str:
        dest = self.path(rel)
        st = file_stat(dest)
        if self._marked_ok(rel, sha256, st):
            return dest
        if sha256 is None:
            info = self.store.stat_object(self.repo, self.commit_id, rel)
            sha256, size_bytes = info.sha256, info.size_bytes
        if st is not None:
            if (size_bytes is None or st[0] == size_bytes) and sha256_of(dest) == sha256:
                self._mark(rel, sha256)
                return dest
            log.warning("cached %s is corrupted; fetching it again", dest)
        if self.local:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".curate-fetch-",
                                   dir=os.path.dirname(dest) if self.local else None)
        os.close(fd)
        try:
            self.store.download_object(self.repo, self.commit_id, rel, dest_path=tmp)
            got = sha256_of(tmp)
            if got != sha256:
                raise IntegrityError(
                    f"'{rel}' of {self.repo}@{self.commit_id[:12]}: downloaded sha256 {got}, "
                    f"expected {sha256}"
                )
            if self.local:
                os.replace(tmp, dest)
            else:  # no temporary name and rename (a copy in a bucket): trusted once marked
                write_in_place(dest, local_file=tmp)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._mark(rel, sha256)
        return dest

    def fetch_many(self, entries: list[tuple[str, str | None]], *, workers: int = 8,
                   done: Callable[[str], None] | None = None) -> list[str]:
        """``fetch`` every (path, sha256) in parallel; paths in the order given. ``done(path)``
        is called as each is in the cache (from the fetching threads)."""

        def fetch(entry: tuple[str, str | None]) -> str:
            path = self.fetch(entry[0], sha256=entry[1])
            if done is not None:
                done(entry[0])
            return path

        paths: list[str | None] = [None] * len(entries)
        todo = []
        for i, (rel, sha256) in enumerate(entries):
            # cached intact, locally: a stat and a marker read, no thread (a loader asks for
            # every shard of a split each epoch, and starting threads cost more than this)
            dest = self.path(rel)
            if self.local and self._marked_ok(rel, sha256, file_stat(dest)):
                paths[i] = dest
                if done is not None:
                    done(rel)
            else:
                todo.append(i)
        if todo:
            with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
                for i, path in zip(todo, pool.map(fetch, [entries[i] for i in todo])):
                    paths[i] = path
        return [p for p in paths if p is not None]
