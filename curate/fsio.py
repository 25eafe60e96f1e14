"""Reading, listing and deleting files that may be local or in a bucket (any Beam filesystem).

Local paths go straight to the OS (exact modification times, no glob surprises); URIs go
through Beam's ``FileSystems``. Outside a pipeline Beam's S3 filesystem has no options at all
and refuses to work, so :func:`ensure_filesystem_options` gives it empty ones: boto3 then
configures itself from the environment (``AWS_*`` variables, ``AWS_ENDPOINT_URL_S3`` for
MinIO and the like, instance roles). Writing one file is :mod:`curate.writers`' job
(``write_bytes``); :func:`replace_tree` copies a local directory with it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
from typing import Any, BinaryIO

from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

from curate.writers import is_local, write_bytes

__all__ = [
    "FileReader",
    "delete_file",
    "ensure_filesystem_options",
    "file_stat",
    "is_file",
    "join",
    "list_files",
    "local_path",
    "open_read",
    "replace_tree",
    "require_credentials",
    "sha256_and_size",
    "sha256_of",
    "write_in_place",
]

_CHUNK = 8 << 20


def ensure_filesystem_options() -> None:
    """Give Beam's filesystems empty pipeline options unless a pipeline gave them some."""
    if FileSystems._pipeline_options is None:
        from apache_beam.options.pipeline_options import PipelineOptions

        FileSystems.set_options(PipelineOptions([]))


def local_path(path: str) -> str:
    """``path`` without a ``file://`` scheme (for a local path)."""
    return path[len("file://"):] if path.startswith("file://") else path


def join(root: str, rel: str) -> str:
    """``root/rel`` for a local directory (OS separators) or a URI (``/``); ``rel`` is POSIX."""
    return os.path.join(root, *rel.split("/")) if is_local(root) else f"{root.rstrip('/')}/{rel}"


def open_read(path: str | os.PathLike[str]) -> BinaryIO:
    """A binary reader of a file, local or in a bucket (never decompressed by its name)."""
    path = os.fspath(path)
    if is_local(path):
        return open(local_path(path), "rb")
    ensure_filesystem_options()
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def sha256_and_size(path: str | os.PathLike[str]) -> tuple[str, int]:
    """sha256 and size of a file, read once (FileNotFoundError if there is none)."""
    return _sha256_and_size(open_read(path))


def _sha256_and_size(reader: BinaryIO) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with reader as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def sha256_of(path: str | os.PathLike[str]) -> str:
    return sha256_and_size(path)[0]


class FileReader:
    """Reads, hashes and checksums many files, local or in a bucket, with one S3 client per
    thread (Beam's filesystem makes a client for every operation, which costs more than reading
    a shard). One per thread, not one for all: Beam's client keeps the download under way in
    the client itself, and threads sharing one fail and retry (reading some bytes twice)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _s3io(self) -> Any:
        s3 = getattr(self._local, "s3", None)
        if s3 is None:
            from apache_beam.io.aws.s3io import S3IO

            ensure_filesystem_options()
            s3 = self._local.s3 = S3IO(options=FileSystems._pipeline_options)
        return s3

    def open(self, path: str) -> BinaryIO:
        """As :func:`open_read` (FileNotFoundError if there is no such file)."""
        if path.startswith("s3://"):
            return self._s3io().open(path, "rb")
        return open_read(path)

    def sha256_and_size(self, path: str) -> tuple[str, int]:
        return _sha256_and_size(self.open(path))

    def checksums(self, paths: list[str]) -> list[str]:
        """The object store's checksum of each file in a bucket, without reading it (S3: its
        ETag, without quotes); FileNotFoundError names the first missing one."""
        out = []
        for path in paths:
            try:
                if path.startswith("s3://"):
                    out.append(_s3_checksum(self._s3io(), path))
                else:
                    ensure_filesystem_options()
                    out.append(FileSystems.checksum(path))
            except BeamIOError as e:
                if _not_found(e):
                    raise FileNotFoundError(path) from e
                raise
        return [c.strip('"') for c in out]


def _s3_checksum(s3: Any, path: str) -> str:
    from apache_beam.io.aws.clients.s3 import messages

    try:
        return s3.checksum(path)
    except messages.S3ClientError as e:
        raise BeamIOError("Checksum operation failed", {path: e}) from e


def file_stat(path: str) -> tuple[int, int] | None:
    """(size in bytes, modification time in ns) of a file, or None if there is no such file."""
    if is_local(path):
        try:
            st = os.stat(local_path(path))
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None
    ensure_filesystem_options()
    try:
        meta = FileSystems.get_filesystem(path).metadata(path)
    except BeamIOError as e:
        if _not_found(e):
            return None
        raise  # refused, unreachable: not the same as "no such file"
    return meta.size_in_bytes, int(meta.last_updated_in_seconds * 1e9)


def _not_found(e: BeamIOError) -> bool:
    """Whether Beam's error says the file does not exist (HTTP 404 from S3 or GCS)."""
    causes = list((getattr(e, "exception_details", None) or {}).values())
    return bool(causes) and all(
        isinstance(c, FileNotFoundError) or getattr(c, "code", None) == 404 for c in causes
    )


def _glob_escape(path: str) -> str:
    """``path`` as a Beam match pattern that matches only itself (``[``, ``]``, ``*``, ``?``
    each in a character class of its own)."""
    return re.sub(r"([\[\]*?])", r"[\1]", path)


def is_file(path: str) -> bool:
    return file_stat(path) is not None


def list_files(prefix: str) -> list[str]:
    """Every file below the directory or prefix ``prefix``, sorted (paths or URIs)."""
    root = prefix.rstrip("/")
    if is_local(root):
        base = local_path(root)
        return sorted(os.path.join(d, n) for d, _, names in os.walk(base) for n in names)
    ensure_filesystem_options()
    (match,) = FileSystems.match([f"{_glob_escape(root)}/**"])
    return sorted(m.path for m in match.metadata_list)


def delete_file(path: str) -> None:
    """Delete one file; a missing file is not an error."""
    if is_local(path):
        try:
            os.unlink(local_path(path))
        except FileNotFoundError:
            pass
        return
    ensure_filesystem_options()
    try:
        FileSystems.delete([path])
    except BeamIOError as e:
        if not _not_found(e) and file_stat(path) is not None:
            raise


def write_in_place(dest: str, *, data: bytes | None = None, local_file: str | None = None) -> None:
    """Write ``data`` or a copy of ``local_file`` straight to ``dest``: no temporary name and
    rename (which in a bucket is a copy and a delete), so a failed write may leave a partial
    file. Only for callers that check what they read (a sha256 recorded elsewhere); for the
    others :func:`curate.writers.write_bytes` is atomic."""
    if is_local(dest):
        os.makedirs(os.path.dirname(os.path.abspath(local_path(dest))), exist_ok=True)
        out = open(local_path(dest), "wb")
    else:
        ensure_filesystem_options()
        out = FileSystems.create(dest, compression_type=CompressionTypes.UNCOMPRESSED)
    with out:
        if data is not None:
            out.write(data)
        else:
            with open(local_file, "rb") as src:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)


def require_credentials(path: str) -> None:
    """PermissionError if ``path`` is in S3 and neither Beam's S3 options nor boto3 have
    credentials: Beam would retry each request for minutes, taking boto3's refusal to send it
    for a network error, instead of saying so."""
    if not path.startswith("s3://"):
        return
    ensure_filesystem_options()
    from apache_beam.options.pipeline_options import S3Options

    if FileSystems._pipeline_options.view_as(S3Options).s3_access_key_id:
        return
    import boto3

    if boto3.session.Session().get_credentials() is None:
        raise PermissionError(
            "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
            "or run with an instance role)"
        )


def replace_tree(local_dir: str, dest: str) -> list[str]:
    """Make the directory or prefix ``dest`` hold exactly the files below the local directory
    ``local_dir``: each is written atomically (``curate.writers.write_bytes``), then the files
    ``dest`` held that ``local_dir`` has not are deleted. Returns the written paths, sorted.

    One file at a time: Beam's S3 filesystem makes a new boto3 client for every operation, which
    costs CPU time, not waiting, so threads would only contend for the GIL."""
    root = local_path(dest.rstrip("/")) if is_local(dest) else dest.rstrip("/")
    sep = os.sep if is_local(root) else "/"
    old = set(list_files(root))  # (also gives Beam its options before the first write)
    written: list[str] = []
    for source in list_files(local_dir):
        target = root + sep + os.path.relpath(source, local_dir).replace(os.sep, sep)
        with open(source, "rb") as f:
            write_bytes(target, f.read())
        written.append(target)
    for path in sorted(old - set(written)):
        delete_file(path)
    return written
