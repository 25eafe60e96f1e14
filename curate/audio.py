"""Read, decode, normalise and encode audio: the per-utterance hot path.

One utterance costs one read of its bytes, one decode of the wanted range (soundfile, i.e. the
libsndfile bundled in its wheel: WAV, FLAC, OGG/Vorbis/Opus, MP3), one resample (soxr) and one
encode. Every failure caused by the input is an :class:`~curate.errors.InputRejected` with a
reason code and a detail naming the URI; details never contain memory addresses or other
run-dependent text, because they are stored in ``rejected.parquet``.

How truncation is detected (``Reason.AUDIO_TRUNCATED``):

* the decoder fails after the header was read (FLAC: "lost sync" when the stream ends early),
* or it returns fewer frames than the header declares (MP3 with a Xing/Info tag, ...),
* or the container says so without decoding: a WAV ``data`` chunk (or any RIFF chunk) larger
  than the bytes present, an Ogg stream whose last page is cut short or lacks the
  end-of-stream flag. libsndfile silently shortens such files, so these checks are our own.

A file that cannot even be opened is ``AUDIO_UNDECODABLE`` unless the container check shows it
is truncated.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from curate.config import AudioCodec
from curate.errors import InputRejected, Reason

__all__ = [
    "FLAC_COMPRESSION_LEVEL",
    "MAX_AUDIO_BYTES",
    "MAX_SEGMENT_OVERSHOOT_S",
    "PCM16_SCALE",
    "RESAMPLE_QUALITY",
    "DecodedAudio",
    "decode",
    "decode_pcm16",
    "downmix",
    "encode",
    "normalise",
    "open_audio",
    "read_bytes",
    "resample",
    "to_pcm16",
]

PCM16_SCALE = 32768.0
"""Float full scale in int16 steps: ``to_pcm16(x) = clip(rint(x * 32768), -32768, 32767)``.

libsndfile decodes 16-bit PCM as ``k / 32768``; using the same scale makes 16-bit audio pass
through decode -> to_pcm16 unchanged, so re-curating a curated dataset is a no-op and a 16-bit
source at the target rate hashes like its curated copy. (``x * 32767`` would shift every
sample above half scale by one step on each pass.)"""

RESAMPLE_QUALITY = "HQ"
"""soxr quality recipe: 'HQ' is 20-bit precision, linear phase, and cheap next to decoding."""

FLAC_COMPRESSION_LEVEL = 0.5
"""libsndfile's 0..1 FLAC compression level, fixed so that output bytes do not follow defaults."""

MAX_SEGMENT_OVERSHOOT_S = 0.5
"""A segment ending at most this far past the recording is cut at its end (as Kaldi's
``extract-segments --max-overshoot`` does); further past, it is a ``BAD_SEGMENT``."""

MAX_AUDIO_BYTES = 4 << 30
"""The largest audio file an input may be (4 GiB, the limit of a WAV file): larger ones are
``AUDIO_TOO_LARGE`` before a byte is read. Reading is lazy (a header, then the wanted range),
so memory never follows the file's size, only the decoded range's."""

_HEADER_SLACK_S = 0.001  # resampling moves a duration by less than a frame: leave those to the filter
_READ_BUFFER = 1 << 20
_SUBTYPE = "PCM_16"
_FORMATS = {AudioCodec.FLAC: "FLAC", AudioCodec.WAV: "WAV"}
_UNKNOWN_LENGTH = 1 << 62  # libsndfile reports SF_COUNT_MAX when a stream declares no length


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class DecodedAudio:
    """Decoded source audio. ``samples`` is float32 ``(frames, channels)`` in [-1, 1] for
    integer sources, and read-only. Compared by identity (arrays have no single truth value)."""

    samples: np.ndarray
    sample_rate_hz: int

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate_hz

    def __repr__(self) -> str:
        return (
            f"DecodedAudio(frames={self.frames}, channels={self.channels}, "
            f"sample_rate_hz={self.sample_rate_hz})"
        )


@contextlib.contextmanager
def open_audio(uri: str, *, max_bytes: int = MAX_AUDIO_BYTES) -> Iterator[BinaryIO]:
    """A seekable binary reader of ``uri`` (local or any Beam filesystem), nothing read yet.

    Refused before a byte is read: no such file (``MISSING_AUDIO``); a local path that is not
    a regular file, such as a directory, a FIFO (whose open would wait for a writer forever) or
    a device like ``/dev/zero`` (which never ends), or that cannot be opened
    (``AUDIO_UNREADABLE``); an empty file (``AUDIO_EMPTY``); a file larger than ``max_bytes``
    (``AUDIO_TOO_LARGE``). The decoder then reads only the parts it needs.
    """
    from curate.fsio import is_local, local_path

    f = _open_local(uri, local_path(uri)) if is_local(uri) else _open_remote(uri)
    with f:
        size = f.seek(0, io.SEEK_END)
        f.seek(0)
        if size == 0:
            raise InputRejected(Reason.AUDIO_EMPTY, f"{uri}: file is empty (0 bytes)")
        if size > max_bytes:
            raise InputRejected(
                Reason.AUDIO_TOO_LARGE,
                f"{uri}: file is {size} bytes, more than the {max_bytes} bytes an input may have",
            )
        yield f


def _open_local(uri: str, path: str) -> BinaryIO:
    # O_NONBLOCK: opening a FIFO must not wait for a writer (it has no effect on regular files).
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as e:
        raise InputRejected(Reason.MISSING_AUDIO, f"{uri}: no such file") from e
    except (OSError, ValueError) as e:  # ValueError: a NUL character in the path
        reason = e.strerror if isinstance(e, OSError) else str(e)
        raise InputRejected(
            Reason.AUDIO_UNREADABLE, f"{uri}: cannot read: {type(e).__name__}: {reason}"
        ) from e
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            from curate.fsio import file_kind

            raise InputRejected(
                Reason.AUDIO_UNREADABLE, f"{uri}: not a regular file ({file_kind(mode)})"
            )
        return os.fdopen(fd, "rb", buffering=_READ_BUFFER)
    except BaseException:
        os.close(fd)
        raise


def _open_remote(uri: str) -> BinaryIO:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    try:
        return FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED)
    except Exception as e:  # every filesystem raises its own errors; sort them by existence
        try:
            exists = FileSystems.exists(uri)
        except Exception:
            exists = True
        if not exists:
            raise InputRejected(Reason.MISSING_AUDIO, f"{uri}: no such file") from e
        raise InputRejected(
            Reason.AUDIO_UNREADABLE, f"{uri}: cannot read: {type(e).__name__}: {e}"
        ) from e


def read_bytes(uri: str, *, max_bytes: int = MAX_AUDIO_BYTES) -> bytes:
    """All bytes of ``uri`` (uncompressed), refused as :func:`open_audio` refuses a file."""
    with open_audio(uri, max_bytes=max_bytes) as f:
        reader = _GuardedReader(f)
        data = reader.read()
    reader.raise_error(uri)
    return data


class _GuardedReader:
    """What libsndfile reads through. An exception inside its read callback would be printed
    and taken for the end of the file (a network failure would pass for truncated audio), so
    the first error is kept here instead and raised by :meth:`raise_error` afterwards."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self._f.read(size)
        except Exception as e:
            self.error = self.error or e
            return b""

    def readinto(self, buffer: Any) -> int:
        try:
            return self._f.readinto(buffer)
        except Exception as e:
            self.error = self.error or e
            return 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def raise_error(self, uri: str) -> None:
        if self.error is not None:
            e = self.error
            raise InputRejected(
                Reason.AUDIO_UNREADABLE, f"{uri}: cannot read: {type(e).__name__}: {e}"
            ) from e


def decode(
    source: bytes | BinaryIO,
    *,
    uri: str,
    start_s: float = 0.0,
    end_s: float | None = None,
    max_overshoot_s: float = MAX_SEGMENT_OVERSHOOT_S,
    max_duration_s: float | None = None,
) -> DecodedAudio:
    """Decode ``source`` (the bytes of ``uri``, or a seekable reader of them such as
    :func:`open_audio` gives), only the range ``[start_s, end_s)`` if given.

    Raises ``InputRejected`` with ``BAD_SEGMENT``, ``AUDIO_UNDECODABLE``, ``AUDIO_TRUNCATED``,
    ``AUDIO_UNREADABLE`` (a read failed), ``AUDIO_NOT_FINITE`` (a NaN or infinite sample) or,
    when ``max_duration_s`` is given, ``TOO_LONG`` for a range the header says is longer than
    that: decided before any sample is read, so an hour-long file costs no more than its header.
    A segment is given in seconds and rounded to the nearest frames; only its range is decoded
    (one seek, one read), so damage after a segment's end does not reject that segment, while
    a segment reaching into missing data is ``AUDIO_TRUNCATED``.
    """
    reader = _GuardedReader(io.BytesIO(source) if isinstance(source, bytes) else source)
    try:
        return _decode(reader, uri, start_s, end_s, max_overshoot_s, max_duration_s)
    finally:
        reader.raise_error(uri)  # a failed read explains whatever the decoder made of it


def _decode(
    f: _GuardedReader,
    uri: str,
    start_s: float,
    end_s: float | None,
    max_overshoot_s: float,
    max_duration_s: float | None,
) -> DecodedAudio:
    import soundfile as sf

    _check_segment_times(uri, start_s, end_s)
    container = _container_check(f)
    f.seek(0)
    try:
        sound = sf.SoundFile(f)
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError) as e:
        if container.truncated:
            raise InputRejected(Reason.AUDIO_TRUNCATED, f"{uri}: {container.detail}") from e
        raise InputRejected(
            Reason.AUDIO_UNDECODABLE, f"{uri}: not decodable audio: {_sf_message(e)}"
        ) from e
    with sound:
        rate, available = sound.samplerate, sound.frames
        if available >= _UNKNOWN_LENGTH:
            raise InputRejected(
                Reason.AUDIO_UNDECODABLE,
                f"{uri}: {sound.format} stream does not declare its length (streamed encoder?)",
            )
        declared = container.declared_frames if container.declared_frames is not None else available
        start, stop = _segment_frames(uri, start_s, end_s, rate, declared, max_overshoot_s)
        if stop > available:  # only when the container shows data missing after the header
            raise InputRejected(Reason.AUDIO_TRUNCATED, f"{uri}: {container.detail}")
        wanted = stop - start
        if max_duration_s is not None and wanted > (max_duration_s + _HEADER_SLACK_S) * rate:
            raise InputRejected(
                Reason.TOO_LONG,
                f"duration {wanted / rate:.2f} s > max_duration_s {max_duration_s:g} "
                "(from the header; no sample was read)",
            )
        try:
            if start:
                sound.seek(start)
            samples = sound.read(wanted, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as e:
            raise InputRejected(
                Reason.AUDIO_TRUNCATED,
                f"{uri}: decoding stopped early, truncated or corrupt: {_sf_message(e)}",
            ) from e
    if samples.shape[0] < wanted:
        raise InputRejected(
            Reason.AUDIO_TRUNCATED,
            f"{uri}: decoded {start + samples.shape[0]} frames of {stop} declared by the header",
        )
    if container.truncated and end_s is None:
        raise InputRejected(Reason.AUDIO_TRUNCATED, f"{uri}: {container.detail}")
    _check_finite(uri, samples)
    samples.flags.writeable = False
    return DecodedAudio(samples=samples, sample_rate_hz=int(rate))


def _check_finite(uri: str, samples: np.ndarray) -> None:
    """Float sources can hold NaN or infinite samples; every later step would turn them into
    silence or noise (NaN clips to 0) with signals that mean nothing."""
    finite = np.isfinite(samples)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise InputRejected(
            Reason.AUDIO_NOT_FINITE,
            f"{uri}: {bad} of {finite.size} samples are NaN or infinite",
        )


def normalise(audio: DecodedAudio, *, sample_rate_hz: int, channels: int) -> np.ndarray:
    """``audio`` as float32 ``(frames, channels)`` at ``sample_rate_hz``, clipped to [-1, 1].

    To mono: the mean of all channels. To stereo: stereo is kept, mono duplicated, and more than
    two channels are averaged to mono first (no speech in a centre channel is lost). Resampling
    is soxr at :data:`RESAMPLE_QUALITY`. When nothing needs changing the (read-only) source
    array itself is returned, not a copy.
    """
    if channels not in (1, 2):
        raise ValueError(f"channels must be 1 or 2, got {channels}")
    x = audio.samples
    if x.shape[1] != channels and x.shape[1] != 1:
        x = downmix(x)
    if audio.sample_rate_hz != sample_rate_hz:
        x = resample(x, audio.sample_rate_hz, sample_rate_hz)
    if x.shape[1] != channels:
        x = np.repeat(x, channels, axis=1)
    if x.size and (x.max() > 1.0 or x.min() < -1.0):
        x = np.clip(x, -1.0, 1.0, out=None if x is audio.samples else x)
    return x


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Little-endian int16 PCM of float ``samples``: round half to even of ``x * 32768``,
    clipped to the int16 range (see :data:`PCM16_SCALE`). Same shape as ``samples``."""
    scaled = np.multiply(samples, np.float32(PCM16_SCALE), dtype=np.float32)
    np.rint(scaled, out=scaled)
    np.clip(scaled, -32768.0, 32767.0, out=scaled)
    return scaled.astype("<i2")


def encode(samples: np.ndarray, sample_rate_hz: int, codec: AudioCodec) -> bytes:
    """16-bit FLAC or WAV bytes of ``samples`` (float in [-1, 1], or int16 from
    :func:`to_pcm16`, which skips the conversion). Byte-deterministic: no timestamps, no
    random ids, fixed compression level. libsndfile writes nothing at all for a FLAC of zero
    frames, so that is a ``ValueError`` (``check_signals`` rejects empty audio before this)."""
    import soundfile as sf

    pcm = samples if samples.dtype == np.int16 else to_pcm16(samples)
    if codec is AudioCodec.FLAC and pcm.shape[0] == 0:
        raise ValueError("cannot encode zero frames as FLAC")
    buf = io.BytesIO()
    extra = {"compression_level": FLAC_COMPRESSION_LEVEL} if codec is AudioCodec.FLAC else {}
    sf.write(buf, pcm, sample_rate_hz, subtype=_SUBTYPE, format=_FORMATS[codec], **extra)
    return buf.getvalue()


def decode_pcm16(data: bytes, *, uri: str = "<bytes>") -> tuple[np.ndarray, int]:
    """Decode 16-bit audio (as written by :func:`encode`) to int16 ``(frames, channels)`` and
    its sample rate, without going through float: for tests and readers of built shards."""
    import soundfile as sf

    try:
        pcm, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as e:
        raise InputRejected(
            Reason.AUDIO_UNDECODABLE, f"{uri}: not decodable audio: {_sf_message(e)}"
        ) from e
    return pcm, int(rate)


# --- helpers -------------------------------------------------------------------------------


def downmix(x: np.ndarray) -> np.ndarray:
    """Float32 ``(frames, channels)`` to mono ``(frames, 1)``: the mean of the channels.

    A channel loop with IEEE adds and one division: the same bits everywhere, unlike a BLAS
    matmul, and about 40x faster than ``x.mean(axis=1)`` on ``(frames, 2)`` arrays."""
    out = x[:, 0].copy()
    for c in range(1, x.shape[1]):
        out += x[:, c]
    out /= np.float32(x.shape[1])
    return out[:, None]


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Float32 ``(frames, channels)`` from ``rate_in`` to ``rate_out`` Hz with soxr at
    :data:`RESAMPLE_QUALITY`."""
    import soxr

    if x.shape[0] == 0:
        return np.zeros((0, x.shape[1]), dtype=np.float32)
    y = soxr.resample(np.ascontiguousarray(x), rate_in, rate_out, quality=RESAMPLE_QUALITY)
    return y.reshape(-1, x.shape[1])


def _sf_message(e: BaseException) -> str:
    """libsndfile's message without soundfile's 'Error opening <_io.BytesIO at 0x…>' prefix."""
    text = getattr(e, "error_string", None) or str(e)
    return text.removeprefix("Error : ").strip() or type(e).__name__


def _check_segment_times(uri: str, start_s: float, end_s: float | None) -> None:
    if not math.isfinite(start_s) or start_s < 0:
        raise InputRejected(Reason.BAD_SEGMENT, f"{uri}: segment start {start_s!r} s is not >= 0")
    if end_s is not None and (not math.isfinite(end_s) or end_s <= start_s):
        raise InputRejected(
            Reason.BAD_SEGMENT, f"{uri}: segment end {end_s!r} s is not after start {start_s!r} s"
        )


def _segment_frames(
    uri: str, start_s: float, end_s: float | None, rate: int, frames: int, overshoot_s: float
) -> tuple[int, int]:
    """``[start, stop)`` in frames of a recording of ``frames`` frames."""
    if start_s == 0.0 and end_s is None:
        return 0, frames
    duration = frames / rate
    start = round(start_s * rate) if start_s < duration else frames  # (no overflow on 1e308)
    if start >= frames:
        raise InputRejected(
            Reason.BAD_SEGMENT,
            f"{uri}: segment start {start_s:g} s is not inside the recording ({duration:.3f} s)",
        )
    if end_s is None:
        return start, frames
    if end_s > duration + overshoot_s:
        raise InputRejected(
            Reason.BAD_SEGMENT,
            f"{uri}: segment end {end_s:g} s is past the end of the recording ({duration:.3f} s)",
        )
    stop = min(round(end_s * rate), frames)  # (end_s is within the recording + overshoot here)
    if stop <= start:
        raise InputRejected(
            Reason.BAD_SEGMENT, f"{uri}: segment [{start_s:g}, {end_s:g}) s holds no frames"
        )
    return start, stop


@dataclass(frozen=True, slots=True)
class _Container:
    truncated: bool = False
    detail: str = ""
    declared_frames: int | None = None  # when the container states a length libsndfile ignores


def _container_check(f: _GuardedReader) -> _Container:
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
    return _Container()


def _read_at(f: _GuardedReader, pos: int, n: int) -> bytes:
    f.seek(pos)
    return f.read(n)


def _riff_check(f: _GuardedReader, size: int) -> _Container:
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
                return _Container()
            if body + chunk_size > size:
                declared = chunk_size // block_align if block_align else None
                return _Container(
                    True,
                    f"truncated: WAV data chunk declares {chunk_size} bytes, "
                    f"only {size - body} present",
                    declared,
                )
            return _Container()
        if body + chunk_size > size:
            return _Container(True, f"truncated: WAV {chunk_id!r} chunk runs past the end")
        pos = body + chunk_size + (chunk_size & 1)
    return _Container(True, "truncated: WAV file ends before its data chunk")


def _flac_check(f: _GuardedReader, size: int) -> _Container:
    """Walk the FLAC metadata blocks: they must be complete and followed by audio frames.
    (Truncation inside the audio frames is found by the decoder.)"""
    pos, total, last = 4, 0, False
    while not last:
        if pos + 4 > size:
            return _Container(True, "truncated: FLAC file ends inside its metadata")
        header = _read_at(f, pos, 4)
        last, kind = bool(header[0] & 0x80), header[0] & 0x7F
        length = int.from_bytes(header[1:4], "big")
        if pos + 4 + length > size:
            return _Container(True, "truncated: FLAC file ends inside its metadata")
        if kind == 0 and length >= 18:  # STREAMINFO: total samples are the low 36 of 64 bits
            total = int.from_bytes(_read_at(f, pos + 14, 8), "big") & ((1 << 36) - 1)
        pos += 4 + length
    if pos >= size and total:
        return _Container(True, f"truncated: FLAC file declares {total} frames but holds none")
    return _Container()


def _ogg_check(f: _GuardedReader, size: int) -> _Container:
    """Walk the Ogg pages: the last complete one must carry the end-of-stream flag."""
    pos, last_flags = 0, 0
    while pos + 27 <= size:
        header = _read_at(f, pos, 27 + 255)  # the fixed header and the largest segment table
        if header[:4] != b"OggS":
            break
        body = pos + 27 + header[26]
        end = body + sum(header[27 : 27 + header[26]]) if body <= size else size + 1
        if end > size:
            return _Container(True, f"truncated: Ogg page at byte {pos} is incomplete")
        last_flags, pos = header[5], end
    if not last_flags & 0x04:
        return _Container(True, "truncated: Ogg stream ends without its end-of-stream page")
    return _Container()
