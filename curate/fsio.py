"""The filesystem layer: reading, writing, listing and deleting files that may be local or in a
bucket (any Beam filesystem). Every other module asks this one.

A path is local when :func:`is_local` says so: a plain path, or a ``file://`` URI, which is
the same path (:func:`local_path` drops the scheme). Local paths go straight to the OS (exact
modification times, no glob surprises, atomic renames); every other URI (``gs://``, ``s3://``)
goes through Beam's ``FileSystems``. Outside a pipeline Beam's S3 filesystem has no options at
all and refuses to work, so :func:`ensure_filesystem_options` gives it empty ones: boto3 then
configures itself from the environment (``AWS_*`` variables, ``AWS_ENDPOINT_URL_S3`` for
MinIO and the like, instance roles). Beam is imported on the first URI, so the path
functions cost nothing to import (the config loader uses them).

Writing a file is atomic: it is written to a temporary name and moved into place
(:func:`write_bytes`, or :func:`local_tmp_for` then :func:`publish_file` for a file written
in steps), so a half-written file is never visible under its name.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from apache_beam.io.filesystem import BeamIOError
    from apache_beam.io.filesystems import FileSystems

__all__ = [
    "FileReader",
    "WrittenFile",
    "bucket_errors",
    "copy_file",
    "delete_file",
    "delete_tree",
    "ensure_filesystem_options",
    "exists",
    "file_kind",
    "file_stat",
    "holds_files",
    "is_file",
    "is_local",
    "join",
    "list_files",
    "local_path",
    "local_tmp_for",
    "move_into_place",
    "open_read",
    "open_write",
    "publish_file",
    "replace_tree",
    "require_client",
    "require_credentials",
    "sha256_and_size",
    "sha256_of",
    "special_file_kind",
    "write_bytes",
    "write_in_place",
]

_CHUNK = 8 << 20
_FILE_SCHEME = "file://"


@dataclass(frozen=True, kw_only=True, slots=True)
class WrittenFile:
    """A file as written: where, its sha256 and its size."""

    path: str
    sha256: str
    size_bytes: int


def is_local(path: str) -> bool:
    """Whether ``path`` is on the local disk: a plain path or a ``file://`` URI. The one
    local-or-bucket test of the project."""
    return "://" not in path or path.startswith(_FILE_SCHEME)


def bucket_errors() -> tuple[type[BaseException], ...]:
    """What Beam's filesystems raise (``BeamIOError``, its S3 client's ``S3ClientError``), for
    ``except (OSError, *bucket_errors())``: nothing while Beam's filesystems are not loaded,
    since then none of them can have been raised (so catching them imports nothing)."""
    import sys

    errors: list[type[BaseException]] = []
    filesystem = sys.modules.get("apache_beam.io.filesystem")
    if filesystem is not None:
        errors.append(filesystem.BeamIOError)
    s3 = sys.modules.get("apache_beam.io.aws.clients.s3.messages")
    if s3 is not None:
        errors.append(s3.S3ClientError)
    return tuple(errors)


def ensure_filesystem_options(path: str | None = None) -> None:
    """Give Beam's filesystems empty pipeline options unless a pipeline gave them some (and,
    given the ``path`` to be reached, check that its scheme's client library is installed)."""
    _filesystems(path)


# A bucket scheme -> the module its Beam filesystem needs (see curate.extras for the extra).
_CLIENTS = {"s3": "boto3", "gs": "google.cloud.storage"}


def require_client(path: str) -> None:
    """MissingDependencyError in one line, naming the extra (``[aws]``, ``[gcp]``), when the
    client library of ``path``'s scheme is not installed; without it Beam only says that it
    has no filesystem for the scheme."""
    module = _CLIENTS.get(path.split("://", 1)[0]) if not is_local(path) else None
    if module is not None:
        from curate.extras import require

        require(module, path)


def _filesystems(path: str | None = None) -> type[FileSystems]:
    """Beam's ``FileSystems``, with options (see :func:`ensure_filesystem_options`), for
    reaching ``path`` (its client library checked first)."""
    if path is not None:
        require_client(path)
    from apache_beam.io.filesystems import FileSystems

    if FileSystems._pipeline_options is None:
        from apache_beam.options.pipeline_options import PipelineOptions

        FileSystems.set_options(PipelineOptions([]))
    return FileSystems


def _uncompressed() -> str:
    from apache_beam.io.filesystem import CompressionTypes

    return CompressionTypes.UNCOMPRESSED


def local_path(path: str) -> str:
    """``path`` without a ``file://`` scheme (for a local path)."""
    return path[len(_FILE_SCHEME):] if path.startswith(_FILE_SCHEME) else path


def join(root: str, rel: str) -> str:
    """``root/rel`` for a local directory (OS separators) or a URI (``/``); ``rel`` is POSIX."""
    return os.path.join(root, *rel.split("/")) if is_local(root) else f"{root.rstrip('/')}/{rel}"


def exists(path: str) -> bool:
    """Whether a file or a directory is at ``path`` (in a bucket: an object, or a prefix that
    Beam's filesystem reports as existing; see :func:`holds_files` for prefixes)."""
    if is_local(path):
        return os.path.exists(local_path(path))
    return _filesystems(path).exists(path)


def holds_files(path: str) -> bool:
    """Whether any file lies below the directory or prefix ``path``. Object stores have no
    directories: there a prefix "exists" only as the objects under it, so this lists."""
    if is_local(path):
        base = local_path(path)
        return os.path.isdir(base) and any(names for _, _, names in os.walk(base))
    (match,) = _filesystems(path).match([f"{_glob_escape(path.rstrip('/'))}/**"], limits=[1])
    return bool(match.metadata_list)


def open_write(path: str) -> BinaryIO:
    """A binary writer of a new file at ``path`` (its directory is made when local). Not
    atomic: for files that only count once complete and are named elsewhere (staging)."""
    if is_local(path):
        os.makedirs(os.path.dirname(os.path.abspath(local_path(path))), exist_ok=True)
        return open(local_path(path), "wb")
    return _filesystems(path).create(path, compression_type=_uncompressed())


def open_read(path: str | os.PathLike[str]) -> BinaryIO:
    """A binary reader of a file, local or in a bucket (never decompressed by its name)."""
    path = os.fspath(path)
    if is_local(path):
        return open(local_path(path), "rb")
    return _filesystems(path).open(path, compression_type=_uncompressed())


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

            s3 = self._local.s3 = S3IO(options=_filesystems("s3://")._pipeline_options)
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
        from apache_beam.io.filesystem import BeamIOError

        out = []
        for path in paths:
            try:
                if path.startswith("s3://"):
                    out.append(_s3_checksum(self._s3io(), path))
                else:
                    out.append(_filesystems(path).checksum(path))
            except BeamIOError as e:
                if _not_found(e):
                    raise FileNotFoundError(path) from e
                raise
        return [c.strip('"') for c in out]


def _s3_checksum(s3: Any, path: str) -> str:
    from apache_beam.io.aws.clients.s3 import messages
    from apache_beam.io.filesystem import BeamIOError

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
    from apache_beam.io.filesystem import BeamIOError

    try:
        meta = _filesystems(path).get_filesystem(path).metadata(path)
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
    (match,) = _filesystems(root).match([f"{_glob_escape(root)}/**"])
    return sorted(m.path for m in match.metadata_list)


def delete_file(path: str) -> None:
    """Delete one file; a missing file is not an error."""
    if is_local(path):
        try:
            os.unlink(local_path(path))
        except FileNotFoundError:
            pass
        return
    from apache_beam.io.filesystem import BeamIOError

    try:
        _filesystems(path).delete([path])
    except BeamIOError as e:
        if not _not_found(e) and file_stat(path) is not None:
            raise


def delete_tree(path: str) -> None:
    """Delete a directory, or every object under a prefix (Beam's S3 and GCS filesystems
    delete a prefix only when it is given with a trailing ``/``)."""
    if is_local(path):
        path = local_path(path)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        return
    _filesystems(path).delete([path.rstrip("/") + "/"])


def _tmp_sibling(path: str) -> str:
    return f"{path}.tmp-{uuid.uuid4().hex[:12]}"


def move_into_place(local: str, dest: str) -> None:
    """Move a finished local file to ``dest`` (atomic rename locally, upload + rename remotely)."""
    if is_local(dest):
        os.replace(local, local_path(dest))
        return
    fs = _filesystems(dest)
    tmp = _tmp_sibling(dest)
    with open(local, "rb") as src, fs.create(tmp) as out:
        while chunk := src.read(_CHUNK):
            out.write(chunk)
    fs.rename([tmp], [dest])
    os.unlink(local)


def local_tmp_for(dest: str) -> str:
    """A local temporary path to write ``dest``'s contents into before :func:`publish_file`:
    beside ``dest`` when it is local (so the rename is atomic), in the temp dir otherwise."""
    if is_local(dest):
        dest = local_path(dest)
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        return _tmp_sibling(dest)
    fd, path = tempfile.mkstemp(prefix="curate-shard-")
    os.close(fd)
    return path


def publish_file(local: str, dest: str) -> WrittenFile:
    """Hash a finished local file (from :func:`local_tmp_for`) and move it to ``dest``."""
    digest, size = sha256_and_size(local)
    move_into_place(local, dest)
    return WrittenFile(path=dest, sha256=digest, size_bytes=size)


def copy_file(src: str, dest: str) -> None:
    """Copy ``src`` to ``dest`` byte for byte, atomically: a hard link when both are local and
    on one filesystem (no byte is copied), else a copy to a temporary name moved into place."""
    if is_local(src) and is_local(dest):
        src, dest = local_path(src), local_path(dest)
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        tmp = _tmp_sibling(dest)
        try:
            os.link(src, tmp)
        except OSError:  # another filesystem, or links refused
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
        return
    tmp = local_tmp_for(dest)
    try:
        with open_read(src) as f, open(tmp, "wb") as out:
            shutil.copyfileobj(f, out, _CHUNK)
        move_into_place(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes(dest: str, data: bytes) -> WrittenFile:
    """Write a small file (manifest, JSON) atomically."""
    tmp = local_tmp_for(dest)
    with open(tmp, "wb") as f:
        f.write(data)
    move_into_place(tmp, dest)
    return WrittenFile(path=dest, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def write_in_place(dest: str, *, data: bytes | None = None, local_file: str | None = None) -> None:
    """Write ``data`` or a copy of ``local_file`` straight to ``dest``: no temporary name and
    rename (which in a bucket is a copy and a delete), so a failed write may leave a partial
    file. Only for callers that check what they read (a sha256 recorded elsewhere); for the
    others :func:`write_bytes` is atomic."""
    if is_local(dest):
        os.makedirs(os.path.dirname(os.path.abspath(local_path(dest))), exist_ok=True)
        out = open(local_path(dest), "wb")
    else:
        out = _filesystems(dest).create(dest, compression_type=_uncompressed())
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
    fs = _filesystems(path)
    from apache_beam.options.pipeline_options import S3Options

    if fs._pipeline_options.view_as(S3Options).s3_access_key_id:
        return
    import boto3

    if boto3.session.Session().get_credentials() is None:
        raise PermissionError(
            "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
            "or run with an instance role)"
        )


def replace_tree(local_dir: str, dest: str) -> list[str]:
    """Make the directory or prefix ``dest`` hold exactly the files below the local directory
    ``local_dir``: each is written atomically (:func:`write_bytes`), then the files
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


def special_file_kind(path: str) -> str | None:
    """What a local path is when it exists but is no regular file, after following symlinks
    ("a FIFO", "a character device", …); None for a regular file, a missing one or a URI.
    Such a file must not be opened: a FIFO's open waits for a writer, ``/dev/zero`` never ends."""
    if not is_local(path):
        return None
    try:
        mode = os.stat(local_path(path)).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else file_kind(mode)


def file_kind(mode: int) -> str:
    """The kind of file an ``st_mode`` describes, for a message."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "not a regular file"
