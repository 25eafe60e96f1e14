"""Short, small audio excerpts a report page plays: Ogg Vorbis, mono, at most 16 kHz.

An accepted example is read from the build's own shards (what training will see); a rejected
input from its source file (its ``audio_uri``), which may have moved, never have existed or not
be audio at all: then the excerpt is :class:`Unplayable` and says why, and the report goes on.

Vorbis, not Opus: libsndfile's Opus encoder costs about 15 times as much CPU (0.2 s per 4 s
excerpt against 0.013 s) for a third fewer bytes; a report of a few dozen excerpts should not
add seconds to a build. Rejected inputs are not decoded by :func:`curate.audio.decode`, which
refuses what is damaged: the page plays what libsndfile can read of them.
"""

from __future__ import annotations

import functools
import io
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

__all__ = [
    "CLIP_RATE_HZ",
    "Clip",
    "Unplayable",
    "clip_of_samples",
    "example_clips",
    "source_clip",
    "with_stream_serial",
]

CLIP_RATE_HZ = 16000  # speech needs no more; sources below it keep their rate
_QUALITY = 1.0  # libsndfile's compression level: 1.0 is Vorbis' smallest (about 33 kbit/s)
_MAX_DECODE_S = 600.0  # of a long source, only this much is read to find its loudest part
_SERIAL = 1  # every excerpt's Ogg stream serial number: the same excerpt, the same bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class Clip:
    """An encoded excerpt: ``ogg`` bytes, ``start_s`` into the audio it was cut from."""

    ogg: bytes
    duration_s: float
    start_s: float
    source_duration_s: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Unplayable:
    """Why there is no excerpt."""

    why: str


def _mono(samples: np.ndarray) -> np.ndarray:
    return samples if samples.ndim == 1 else samples.mean(axis=1)


def clip_of_samples(samples: np.ndarray, rate_hz: int, *, seconds: float,
                    around_peak: bool = False, total_s: float | None = None) -> Clip:
    """At most ``seconds`` of ``samples`` (float, ``(frames,)`` or ``(frames, channels)``):
    from the start, or centred on the loudest sample (to hear clipping). ``total_s``: the
    duration of the whole audio, when ``samples`` is only its start."""
    import soundfile as sf
    import soxr

    x = np.asarray(_mono(samples), dtype=np.float32)
    total_s = x.size / rate_hz if total_s is None else total_s
    want = min(x.size, max(1, int(round(seconds * rate_hz))))
    start = 0
    if around_peak and x.size > want:
        peak = int(np.argmax(np.abs(x)))
        start = min(max(0, peak - want // 2), x.size - want)
    x = x[start:start + want]
    rate = min(rate_hz, CLIP_RATE_HZ)
    if rate != rate_hz:
        x = soxr.resample(x, rate_hz, rate, quality="HQ").astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), rate, format="OGG", subtype="VORBIS",
             compression_level=_QUALITY)
    return Clip(ogg=with_stream_serial(buf.getvalue(), _SERIAL), duration_s=x.size / rate,
                start_s=start / rate_hz, source_duration_s=total_s)


@functools.cache
def _ogg_crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return tuple(table)


def _ogg_crc(page: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, no reflection, initial 0), with
    the checksum field read as zero."""
    table, crc = _ogg_crc_table(), 0
    for b in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ b) & 0xFF]
    return crc


def with_stream_serial(ogg: bytes, serial: int) -> bytes:
    """``ogg`` with every page's stream serial number set to ``serial`` (and its checksum
    recomputed). libsndfile picks a random serial per file, so the same excerpt would differ
    from one report to the next; a single-stream file needs no particular serial."""
    out, pos = bytearray(ogg), 0
    while pos < len(out):
        if out[pos:pos + 4] != b"OggS" or pos + 27 > len(out):
            raise ValueError(f"not an Ogg page at byte {pos}")
        segments = out[pos + 26]
        size = 27 + segments + sum(out[pos + 27:pos + 27 + segments])
        struct.pack_into("<I", out, pos + 14, serial)
        struct.pack_into("<I", out, pos + 22, 0)
        struct.pack_into("<I", out, pos + 22, _ogg_crc(bytes(out[pos:pos + size])))
        pos += size
    return bytes(out)


def _decode(data: bytes, *, max_s: float) -> tuple[np.ndarray, int, float | None]:
    """At most ``max_s`` of the audio in ``data``: (samples, rate, whole duration if known)."""
    import soundfile as sf

    with sf.SoundFile(io.BytesIO(data)) as f:
        rate = f.samplerate
        frames = f.frames if 0 < f.frames < (1 << 62) else -1
        want = int(max_s * rate) if frames < 0 else min(frames, int(max_s * rate))
        samples = f.read(want, dtype="float32", always_2d=True)
    return samples, rate, (frames / rate if frames >= 0 else None)


def source_clip(uri: str, *, seconds: float, around_peak: bool = False) -> Clip | Unplayable:
    """An excerpt of a source file, or why there is none (missing, empty, unreadable, not
    audio libsndfile can read)."""
    import soundfile as sf

    from curate.audio import libsndfile_message, read_bytes
    from curate.errors import InputRejected
    from curate.fsio import ensure_filesystem_options

    if "://" in uri and not uri.startswith("file://"):
        ensure_filesystem_options()
    try:
        data = read_bytes(uri)
    except InputRejected as e:  # the detail starts with the URI, which the page shows already
        return Unplayable(why=e.detail.removeprefix(f"{uri}: "))
    try:
        samples, rate, total_s = _decode(data, max_s=_MAX_DECODE_S)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        return Unplayable(why=f"libsndfile cannot decode it ({libsndfile_message(e)})")
    if samples.shape[0] == 0:
        return Unplayable(why="it holds no audio samples")
    return clip_of_samples(samples, rate, seconds=seconds, around_peak=around_peak,
                           total_s=total_s)


def _skip_to(f: BinaryIO, skip: int, *, position: int, name: str) -> bytes:
    """The record ``skip`` records after where ``f`` is (a record boundary), which is record
    ``position`` of the file; the records before it are skipped by their length, unread."""
    for i in range(skip + 1):
        head = f.read(12)
        if len(head) < 12:
            raise ValueError(f"{name}: fewer than {position + 1} records")
        (length,) = struct.unpack_from("<Q", head)
        if i < skip:
            f.seek(length + 4, io.SEEK_CUR)
    record = f.read(length)
    if len(record) < length or len(f.read(4)) < 4:
        raise ValueError(f"{name}: record {position} is truncated")
    return record


def example_clips(f: BinaryIO, positions: Iterable[int], *, name: str,
                  seconds: float) -> dict[int, Clip | Unplayable]:
    """Excerpts of the examples at ``positions`` of one TFRecord shard, read in one pass."""
    import soundfile as sf

    from curate.example_decode import parse_example

    out: dict[int, Clip | Unplayable] = {}
    wanted, at = sorted(set(positions)), 0
    for i, position in enumerate(wanted):
        try:
            record = _skip_to(f, position - at, position=position, name=name)
        except ValueError as e:  # a short or damaged shard: nothing after this is found
            out.update({p: Unplayable(why=str(e)) for p in wanted[i:]})
            break
        at = position + 1
        try:
            _, audio = parse_example(record).get("audio", (None, []))
            samples, rate, total_s = _decode(audio[0] if audio else b"", max_s=seconds)
        except (ValueError, sf.LibsndfileError, RuntimeError) as e:
            from curate.audio import libsndfile_message

            out[position] = Unplayable(why=f"{name}: example {position}: {libsndfile_message(e)}")
            continue
        out[position] = clip_of_samples(samples, rate, seconds=seconds, total_s=total_s)
    return out
