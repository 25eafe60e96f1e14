"""Shard writers: TFRecord and ArrayRecord files of serialized ``tf.train.Example`` records.

Each shard is written to a temporary name and moved into place (:mod:`curate.fsio`), so a
half-written shard is never visible; the sha256 of what was written is returned with the path.
Every destination may be a local path or any Beam filesystem URI. Shard names and formats are
:mod:`curate.layout`'s.

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
from collections.abc import Iterable, Iterator, Mapping
from typing import BinaryIO

import google_crc32c

from curate.fsio import WrittenFile, local_tmp_for, move_into_place, sha256_and_size
from curate.layout import ShardFormat

__all__ = [
    "ARRAY_RECORD_OPTIONS",
    "TFRecordFile",
    "check_tfrecord_data",
    "iter_tfrecords",
    "masked_crc",
    "read_tfrecord",
    "tfrecord_length",
    "tfrecord_frame",
    "write_shard",
    "write_shards",
]

# One record per group: random access without decompressing neighbours. Audio is already
# compressed (FLAC), so a second compression layer would cost CPU for almost nothing.
ARRAY_RECORD_OPTIONS = "group_size:1,uncompressed"


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32C of ``data``."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frame(record: bytes) -> tuple[bytes, bytes]:
    """The TFRecord framing of one record, as ``(head, tail)`` to write around it: the head is
    the length and its masked CRC32C, the tail the masked CRC32C of the data. (Two parts, so a
    writer need not copy the record to frame it.)"""
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", masked_crc(length)), struct.pack("<I", masked_crc(record))


def tfrecord_length(head: bytes, *, name: str, pos: int) -> int:
    """The record length in a 12-byte TFRecord header read at byte ``pos`` of ``name``,
    its CRC verified (ValueError naming the file and the byte otherwise)."""
    if len(head) < 12:
        raise ValueError(f"{name}: truncated record header at byte {pos}")
    (length,) = struct.unpack_from("<Q", head)
    if struct.unpack_from("<I", head, 8)[0] != masked_crc(head[:8]):
        raise ValueError(f"{name}: corrupt TFRecord length at byte {pos}")
    return length


def check_tfrecord_data(body: bytes, length: int, *, name: str, pos: int) -> bytes:
    """The record in ``body`` (the ``length`` data bytes and their CRC that follow the header
    at byte ``pos``), its CRC verified."""
    if len(body) < length + 4:
        raise ValueError(f"{name}: truncated record at byte {pos}")
    record = body[:length]
    if struct.unpack_from("<I", body, length)[0] != masked_crc(record):
        raise ValueError(f"{name}: corrupt TFRecord data at byte {pos}")
    return record


def iter_tfrecords(f: BinaryIO, *, name: str = "TFRecord file") -> Iterator[bytes]:
    """The records of a TFRecord stream, one at a time, verifying every CRC."""
    pos = 0
    while head := f.read(12):
        length = tfrecord_length(head, name=name, pos=pos)
        yield check_tfrecord_data(f.read(length + 4), length, name=name, pos=pos)
        pos += 16 + length


def read_tfrecord(data: bytes) -> list[bytes]:
    """Parse a whole TFRecord file's bytes, verifying every CRC (for tests and tools)."""
    return list(iter_tfrecords(io.BytesIO(data)))


class TFRecordFile:
    """Appends framed records (:func:`tfrecord_frame`) to a local file, hashing the bytes as
    they are written."""

    def __init__(self, path: str) -> None:
        self._f = open(path, "wb")
        self._sha = hashlib.sha256()
        self._size = 0

    def write(self, record: bytes) -> None:
        head, tail = tfrecord_frame(record)
        for part in (head, record, tail):  # no concatenated copy of the record
            self._f.write(part)
            self._sha.update(part)
        self._size += len(head) + len(record) + len(tail)

    def close(self) -> tuple[str, int]:
        """Close the file; returns its sha256 and size."""
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
        return sha256_and_size(self._path)

    def abort(self) -> None:
        self._writer.close()


_WRITERS = {ShardFormat.TFRECORD: TFRecordFile, ShardFormat.ARRAY_RECORD: _ArrayRecordFile}


def write_shards(
    dests: Mapping[ShardFormat, str], records: Iterable[bytes]
) -> tuple[dict[ShardFormat, WrittenFile], int]:
    """Write ``records`` in order as one shard per format (``dests``: format -> destination),
    in a single pass: each record is written to every format as it arrives and then dropped.
    Returns the written files and the number of records in each."""
    tmps = {fmt: local_tmp_for(dest) for fmt, dest in dests.items()}
    files: dict[ShardFormat, TFRecordFile | _ArrayRecordFile] = {}
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
            out[fmt] = WrittenFile(path=dests[fmt], sha256=digest, size_bytes=size)
        return out, count
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
    files, _ = write_shards({fmt: dest}, records)
    return files[fmt]
