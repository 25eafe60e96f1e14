"""Shard writers: TFRecord and ArrayRecord files of serialized ``tf.train.Example`` records.

Each shard is written to a temporary name and renamed into place, so a half-written shard is
never visible; the sha256 of what was written is returned with the path. Every destination may be
a local path or any Beam filesystem URI.

Records stream through: :func:`write_shards` takes any iterable and writes each record to every
format as it comes, so a shard of any size costs one record's worth of memory. The TFRecord
file is hashed as it is written; the ArrayRecord file (written by its C++ writer) is read back
once to hash it.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

import google_crc32c
from apache_beam.io.filesystems import FileSystems

from curate.config import ShardFormat

__all__ = [
    "ARRAY_RECORD_OPTIONS",
    "WrittenFile",
    "is_local",
    "iter_tfrecords",
    "local_tmp_for",
    "move_into_place",
    "publish_file",
    "read_tfrecord",
    "shard_name",
    "tfrecord_frame",
    "write_bytes",
    "write_shard",
    "write_shards",
]

# One record per group: random access without decompressing neighbours. Audio is already
# compressed (FLAC), so a second compression layer would cost CPU for almost nothing.
ARRAY_RECORD_OPTIONS = "group_size:1,uncompressed"

_EXTENSIONS = {ShardFormat.TFRECORD: "tfrecord", ShardFormat.ARRAY_RECORD: "array_record"}
_CHUNK = 8 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class WrittenFile:
    path: str
    sha256: str
    size_bytes: int
    num_examples: int = 0


def shard_name(dataset: str, split: str, fmt: ShardFormat, index: int, count: int) -> str:
    """``<dataset>-<split>.<ext>-00003-of-00010``, TFDS style, relative to the build dir."""
    return f"data/{split}/{dataset}-{split}.{_EXTENSIONS[fmt]}-{index:05d}-of-{count:05d}"


def is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frame(record: bytes) -> bytes:
    """One TFRecord: length, masked CRC32C of the length, data, masked CRC32C of the data."""
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", _masked_crc(length)) + record + struct.pack(
        "<I", _masked_crc(record)
    )


def iter_tfrecords(f: BinaryIO, *, name: str = "TFRecord file") -> Iterator[bytes]:
    """The records of a TFRecord stream, one at a time, verifying every CRC."""
    pos = 0
    while head := f.read(12):
        if len(head) < 12:
            raise ValueError(f"{name}: truncated record header at byte {pos}")
        (length,) = struct.unpack_from("<Q", head)
        (len_crc,) = struct.unpack_from("<I", head, 8)
        if len_crc != _masked_crc(head[:8]):
            raise ValueError(f"{name}: corrupt TFRecord length at byte {pos}")
        body = f.read(length + 4)
        if len(body) < length + 4:
            raise ValueError(f"{name}: truncated record at byte {pos}")
        record = body[:length]
        if struct.unpack_from("<I", body, length)[0] != _masked_crc(record):
            raise ValueError(f"{name}: corrupt TFRecord data at byte {pos}")
        yield record
        pos += 16 + length


def read_tfrecord(data: bytes) -> list[bytes]:
    """Parse a whole TFRecord file's bytes, verifying every CRC (for tests and tools)."""
    return list(iter_tfrecords(io.BytesIO(data)))


def _tmp_sibling(path: str) -> str:
    return f"{path}.tmp-{uuid.uuid4().hex[:12]}"


def _sha256_of_local(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def move_into_place(local: str, dest: str) -> None:
    """Move a finished local file to ``dest`` (atomic rename locally, upload + rename remotely)."""
    if is_local(dest):
        os.replace(local, dest)
        return
    from curate.fsio import ensure_filesystem_options  # (fsio imports this module)

    ensure_filesystem_options()
    tmp = _tmp_sibling(dest)
    with open(local, "rb") as src, FileSystems.create(tmp) as out:
        while chunk := src.read(_CHUNK):
            out.write(chunk)
    FileSystems.rename([tmp], [dest])
    os.unlink(local)


def local_tmp_for(dest: str) -> str:
    """A local temporary path to write ``dest``'s contents into before :func:`publish_file`:
    beside ``dest`` when it is local (so the rename is atomic), in the temp dir otherwise."""
    if is_local(dest):
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        return _tmp_sibling(dest)
    fd, path = tempfile.mkstemp(prefix="curate-shard-")
    os.close(fd)
    return path


def publish_file(local: str, dest: str) -> WrittenFile:
    """Hash a finished local file (from :func:`local_tmp_for`) and move it to ``dest``."""
    digest, size = _sha256_of_local(local), os.path.getsize(local)
    move_into_place(local, dest)
    return WrittenFile(path=dest, sha256=digest, size_bytes=size)


def write_bytes(dest: str, data: bytes) -> WrittenFile:
    """Write a small file (manifest, JSON) atomically."""
    tmp = local_tmp_for(dest)
    with open(tmp, "wb") as f:
        f.write(data)
    move_into_place(tmp, dest)
    return WrittenFile(path=dest, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


class _TFRecordFile:
    """Appends framed records to a local file, hashing the bytes as they are written."""

    def __init__(self, path: str) -> None:
        self._f = open(path, "wb")
        self._sha = hashlib.sha256()
        self._size = 0

    def write(self, record: bytes) -> None:
        length = struct.pack("<Q", len(record))
        head = length + struct.pack("<I", _masked_crc(length))
        tail = struct.pack("<I", _masked_crc(record))
        for part in (head, record, tail):  # no concatenated copy of the record
            self._f.write(part)
            self._sha.update(part)
        self._size += 16 + len(record)

    def close(self) -> tuple[str, int]:
        self._f.close()
        return self._sha.hexdigest(), self._size

    def abort(self) -> None:
        self._f.close()


class _ArrayRecordFile:
    def __init__(self, path: str) -> None:
        from array_record.python.array_record_module import ArrayRecordWriter

        self._path = path
        self._writer = ArrayRecordWriter(path, ARRAY_RECORD_OPTIONS)

    def write(self, record: bytes) -> None:
        self._writer.write(record)

    def close(self) -> tuple[str, int]:
        self._writer.close()
        return _sha256_of_local(self._path), os.path.getsize(self._path)

    def abort(self) -> None:
        self._writer.close()


_WRITERS = {ShardFormat.TFRECORD: _TFRecordFile, ShardFormat.ARRAY_RECORD: _ArrayRecordFile}


def write_shards(
    dests: Mapping[ShardFormat, str], records: Iterable[bytes]
) -> dict[ShardFormat, WrittenFile]:
    """Write ``records`` in order as one shard per format (``dests``: format -> destination),
    in a single pass: each record is written to every format as it arrives and then dropped."""
    tmps = {fmt: local_tmp_for(dest) for fmt, dest in dests.items()}
    files: dict[ShardFormat, _TFRecordFile | _ArrayRecordFile] = {}
    try:
        for fmt, tmp in tmps.items():
            files[fmt] = _WRITERS[fmt](tmp)
        count = 0
        for record in records:
            for f in files.values():
                f.write(record)
            count += 1
        done = {fmt: f.close() for fmt, f in files.items()}
        files.clear()
        out = {}
        for fmt, (digest, size) in done.items():
            move_into_place(tmps[fmt], dests[fmt])
            out[fmt] = WrittenFile(
                path=dests[fmt], sha256=digest, size_bytes=size, num_examples=count
            )
        return out
    except BaseException:
        for f in files.values():
            try:
                f.abort()
            except Exception:  # the original error matters, not a second one while aborting
                pass
        for tmp in tmps.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise


def write_shard(dest: str, fmt: ShardFormat, records: Iterable[bytes]) -> WrittenFile:
    """Write ``records`` in order as one shard at ``dest``; returns its sha256 and size."""
    return write_shards({fmt: dest}, records)[fmt]
