"""Container checks of audio files: what libsndfile does not say about truncation.

libsndfile silently shortens some damaged files, so the container's own structure is checked:
a WAV ``data`` chunk (or any RIFF chunk) larger than the bytes present, FLAC metadata cut short
or followed by no frames, an Ogg stream whose last page is cut short or lacks the
end-of-stream flag. Only headers are read (seek, then a few bytes), never the audio data, so a
long file costs a few small reads.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Container", "check_container"]


class _Seekable(Protocol):
    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int: ...

    def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Container:
    truncated: bool = False
    detail: str = ""
    declared_frames: int | None = None  # when the container states a length libsndfile ignores


def check_container(f: _Seekable) -> Container:
    """Look at the container's own structure: headers, chunk sizes, page headers (never the
    audio data itself, so a long file costs a few small reads)."""
    size = f.seek(0, io.SEEK_END)
    head = _read_at(f, 0, 12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _riff_check(f, size)
    if head[:4] == b"OggS":
        return _ogg_check(f, size)
    if head[:4] == b"fLaC":
        return _flac_check(f, size)
    return Container()


def _read_at(f: _Seekable, pos: int, n: int) -> bytes:
    f.seek(pos)
    return f.read(n)


def _riff_check(f: _Seekable, size: int) -> Container:
    """Compare the chunk sizes of a RIFF/WAVE file with the bytes present."""
    pos, block_align = 12, 0
    while pos + 8 <= size:
        header = _read_at(f, pos, 8)
        chunk_id, chunk_size = header[:4], struct.unpack_from("<I", header, 4)[0]
        body = pos + 8
        if chunk_id == b"fmt " and body + 14 <= size:
            block_align = struct.unpack_from("<H", _read_at(f, body + 12, 2))[0]
        if chunk_id == b"data":
            if chunk_size in (0, 0xFFFFFFFF):  # written by a streaming encoder: length unknown
                return Container()
            if body + chunk_size > size:
                declared = chunk_size // block_align if block_align else None
                return Container(
                    True,
                    f"truncated: WAV data chunk declares {chunk_size} bytes, "
                    f"only {size - body} present",
                    declared,
                )
            return Container()
        if body + chunk_size > size:
            return Container(True, f"truncated: WAV {chunk_id!r} chunk runs past the end")
        pos = body + chunk_size + (chunk_size & 1)
    return Container(True, "truncated: WAV file ends before its data chunk")


def _flac_check(f: _Seekable, size: int) -> Container:
    """Walk the FLAC metadata blocks: they must be complete and followed by audio frames.
    (Truncation inside the audio frames is found by the decoder.)"""
    pos, total, last = 4, 0, False
    while not last:
        if pos + 4 > size:
            return Container(True, "truncated: FLAC file ends inside its metadata")
        header = _read_at(f, pos, 4)
        last, kind = bool(header[0] & 0x80), header[0] & 0x7F
        length = int.from_bytes(header[1:4], "big")
        if pos + 4 + length > size:
            return Container(True, "truncated: FLAC file ends inside its metadata")
        if kind == 0 and length >= 18:  # STREAMINFO: total samples are the low 36 of 64 bits
            total = int.from_bytes(_read_at(f, pos + 14, 8), "big") & ((1 << 36) - 1)
        pos += 4 + length
    if pos >= size and total:
        return Container(True, f"truncated: FLAC file declares {total} frames but holds none")
    return Container()


def _ogg_check(f: _Seekable, size: int) -> Container:
    """Walk the Ogg pages: the last complete one must carry the end-of-stream flag."""
    pos, last_flags = 0, 0
    while pos + 27 <= size:
        header = _read_at(f, pos, 27 + 255)  # the fixed header and the largest segment table
        if header[:4] != b"OggS":
            break
        body = pos + 27 + header[26]
        end = body + sum(header[27 : 27 + header[26]]) if body <= size else size + 1
        if end > size:
            return Container(True, f"truncated: Ogg page at byte {pos} is incomplete")
        last_flags, pos = header[5], end
    if not last_flags & 0x04:
        return Container(True, "truncated: Ogg stream ends without its end-of-stream page")
    return Container()
