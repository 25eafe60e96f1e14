"""Tests for curate.audio: reading, decoding (and every way it fails), normalising, encoding.

Fixtures are generated here with soundfile; no binary blobs.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from curate import audio
from curate.config import AudioCodec
from curate.errors import InputRejected, Reason

SR = 16000


def tone(freq_hz: float, seconds: float, rate: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def make(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def speechy(seconds: float = 2.0, rate: int = SR, channels: int = 1) -> np.ndarray:
    """Noise bursts under a 4 Hz envelope: compresses like audio, not like a pure tone."""
    rng = np.random.default_rng(7)
    t = np.arange(round(seconds * rate)) / rate
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None)[:, None]
    return (0.3 * env * rng.standard_normal((t.size, channels))).astype(np.float32)


def rejected(reason: Reason, fn, *args, **kwargs) -> InputRejected:
    with pytest.raises(InputRejected) as info:
        fn(*args, **kwargs)
    assert info.value.reason is reason, info.value
    return info.value


# --- read_bytes ----------------------------------------------------------------------------


def test_read_bytes_returns_file_contents(tmp_path):
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFF1234")
    assert audio.read_bytes(str(path)) == b"RIFF1234"


def test_read_bytes_does_not_decompress_by_extension(tmp_path):
    path = tmp_path / "a.flac.gz"
    path.write_bytes(b"not gzip at all")
    assert audio.read_bytes(str(path)) == b"not gzip at all"


def test_read_bytes_missing_file(tmp_path):
    uri = str(tmp_path / "nope.flac")
    err = rejected(Reason.MISSING_AUDIO, audio.read_bytes, uri)
    assert uri in err.detail


def test_read_bytes_empty_file(tmp_path):
    path = tmp_path / "empty.flac"
    path.write_bytes(b"")
    err = rejected(Reason.AUDIO_EMPTY, audio.read_bytes, str(path))
    assert str(path) in err.detail


def test_read_bytes_unreadable_directory(tmp_path):
    err = rejected(Reason.AUDIO_UNREADABLE, audio.read_bytes, str(tmp_path))
    assert str(tmp_path) in err.detail


# --- decode --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_decode_lossless_formats_exactly(fmt):
    x = speechy(channels=2)
    pcm = audio.to_pcm16(x)
    decoded = audio.decode(make(pcm, SR, fmt, "PCM_16"), uri="mem.x")
    assert decoded.sample_rate_hz == SR
    assert decoded.samples.dtype == np.float32 and decoded.samples.shape == x.shape
    np.testing.assert_array_equal(decoded.samples, pcm / np.float32(32768))
    assert not decoded.samples.flags.writeable
    assert decoded.frames == x.shape[0] and decoded.channels == 2
    assert decoded.duration_s == pytest.approx(2.0)


def test_decode_ogg_vorbis_keeps_the_tone():
    decoded = audio.decode(make(tone(1000, 1.0), SR, "OGG", "VORBIS"), uri="a.ogg")
    assert decoded.samples.shape == (SR, 1)
    spectrum = np.abs(np.fft.rfft(decoded.samples[:, 0]))
    assert np.argmax(spectrum) * SR / decoded.frames == pytest.approx(1000, abs=2)


def test_decode_text_named_flac_is_undecodable():
    err = rejected(Reason.AUDIO_UNDECODABLE, audio.decode, b"hello, I am a transcript\n" * 20,
                   uri="/data/a.flac")
    assert "/data/a.flac" in err.detail
    assert "0x" not in err.detail  # no memory addresses: details are stored in parquet


def test_decode_random_bytes_is_undecodable():
    data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    rejected(Reason.AUDIO_UNDECODABLE, audio.decode, data, uri="x.wav")


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_decode_truncated_flac(fraction):
    data = make(speechy(), SR, "FLAC", "PCM_16")
    err = rejected(Reason.AUDIO_TRUNCATED, audio.decode, data[: int(len(data) * fraction)],
                   uri="cut.flac")
    assert "cut.flac" in err.detail


def test_decode_flac_truncated_anywhere_is_never_accepted():
    data = make(speechy(1.0), SR, "FLAC", "PCM_16")
    cuts = [5, 20, 41, 60, 100] + [len(data) * k // 20 for k in range(1, 20)] + [len(data) - 1]
    for cut in cuts:
        rejected(Reason.AUDIO_TRUNCATED, audio.decode, data[:cut], uri=f"cut{cut}.flac")


@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.9, 0.999])
def test_decode_truncated_wav(fraction):
    data = make(speechy(), SR, "WAV", "PCM_16")
    err = rejected(Reason.AUDIO_TRUNCATED, audio.decode, data[: int(len(data) * fraction)],
                   uri="cut.wav")
    assert "cut.wav" in err.detail


@pytest.mark.parametrize("subtype", ["VORBIS", "OPUS"])
def test_decode_truncated_ogg(subtype):
    data = make(speechy(), 48000 if subtype == "OPUS" else SR, "OGG", subtype)
    audio.decode(data, uri="whole.ogg")
    for fraction in (0.5, 0.9):
        rejected(Reason.AUDIO_TRUNCATED, audio.decode, data[: int(len(data) * fraction)], uri="c")


def test_decode_truncated_mp3_with_xing_header():
    data = make(speechy(), SR, "MP3", "MPEG_LAYER_III")
    assert audio.decode(data, uri="whole.mp3").frames == 2 * SR
    rejected(Reason.AUDIO_TRUNCATED, audio.decode, data[: len(data) // 2], uri="cut.mp3")


def test_decode_streamed_wav_with_unknown_data_size_is_accepted():
    data = bytearray(make(tone(440, 0.5), SR, "WAV", "PCM_16"))
    data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # what streaming encoders write
    assert audio.decode(bytes(data), uri="s.wav").frames == SR // 2


# --- segments ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_segment_equals_slice_of_whole(fmt):
    data = make(speechy(channels=2), SR, fmt, "PCM_16")
    whole = audio.decode(data, uri="a").samples
    seg = audio.decode(data, uri="a", start_s=0.5, end_s=1.25).samples
    np.testing.assert_array_equal(seg, whole[8000:20000])
    tail = audio.decode(data, uri="a", start_s=1.5).samples
    np.testing.assert_array_equal(tail, whole[24000:])


def test_segment_overshooting_a_little_is_cut_at_the_end():
    data = make(speechy(), SR, "FLAC", "PCM_16")
    seg = audio.decode(data, uri="a", start_s=1.0, end_s=2.3)
    assert seg.frames == SR


@pytest.mark.parametrize(
    ("start_s", "end_s"),
    [(2.5, None), (2.5, 3.0), (1.0, 1.0), (1.0, 0.5), (-0.1, 1.0), (0.0, 2.6),
     (float("nan"), 1.0), (0.0, float("inf")), (1.99999, 2.0)],
)
def test_bad_segments(start_s, end_s):
    data = make(speechy(), SR, "WAV", "PCM_16")
    err = rejected(Reason.BAD_SEGMENT, audio.decode, data, uri="rec.wav", start_s=start_s,
                   end_s=end_s)
    assert "rec.wav" in err.detail


def test_segment_inside_intact_part_of_truncated_wav_is_decoded():
    data = make(speechy(), SR, "WAV", "PCM_16")
    cut = data[: len(data) // 2]  # about 1.0 s left of 2.0 s
    whole = audio.decode(data, uri="a").samples
    seg = audio.decode(cut, uri="a", start_s=0.25, end_s=0.75).samples
    np.testing.assert_array_equal(seg, whole[4000:12000])
    rejected(Reason.AUDIO_TRUNCATED, audio.decode, cut, uri="a", start_s=0.5, end_s=1.5)


# --- normalise -----------------------------------------------------------------------------


def test_resample_44k1_to_16k_keeps_frequency_and_length():
    src = audio.DecodedAudio(samples=tone(1000, 2.0, rate=44100)[:, None], sample_rate_hz=44100)
    out = audio.normalise(src, sample_rate_hz=16000, channels=1)
    assert out.dtype == np.float32 and out.shape[1] == 1
    assert abs(out.shape[0] - 32000) <= 1
    spectrum = np.abs(np.fft.rfft(out[:, 0] * np.hanning(out.shape[0])))
    peak_hz = np.argmax(spectrum) * 16000 / out.shape[0]
    assert peak_hz == pytest.approx(1000, abs=1)
    mid = out[4000:-4000, 0]  # amplitude survives (no edge effects in the middle)
    assert np.sqrt(np.mean(mid**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_downmix_is_the_mean_of_channels():
    left, right = tone(300, 0.5), tone(700, 0.5, amp=0.25)
    src = audio.DecodedAudio(samples=np.stack([left, right], axis=1), sample_rate_hz=SR)
    out = audio.normalise(src, sample_rate_hz=SR, channels=1)
    np.testing.assert_allclose(out[:, 0], (left + right) / 2, atol=1e-7)


def test_mono_to_stereo_duplicates_and_many_channels_average_first():
    mono = audio.DecodedAudio(samples=tone(300, 0.5)[:, None], sample_rate_hz=SR)
    out = audio.normalise(mono, sample_rate_hz=SR, channels=2)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    six = np.repeat(tone(300, 0.5)[:, None], 6, axis=1) * np.linspace(0, 1, 6, dtype=np.float32)
    out = audio.normalise(audio.DecodedAudio(samples=six, sample_rate_hz=SR), sample_rate_hz=SR,
                          channels=2)
    np.testing.assert_allclose(out[:, 0], six.mean(axis=1), atol=1e-7)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])


def test_normalise_without_changes_returns_the_source_array():
    src = audio.decode(make(speechy(), SR, "FLAC", "PCM_16"), uri="a")
    assert audio.normalise(src, sample_rate_hz=SR, channels=1) is src.samples


def test_normalise_clips_float_sources_and_leaves_the_source_alone():
    x = np.array([[1.5], [-2.0], [0.25]], dtype=np.float32)
    src = audio.decode(make(x, SR, "WAV", "FLOAT"), uri="loud.wav")
    out = audio.normalise(src, sample_rate_hz=SR, channels=1)
    np.testing.assert_array_equal(out[:, 0], [1.0, -1.0, 0.25])
    assert src.samples[0, 0] == 1.5


def test_normalise_empty_audio():
    src = audio.DecodedAudio(samples=np.zeros((0, 2), np.float32), sample_rate_hz=44100)
    assert audio.normalise(src, sample_rate_hz=SR, channels=1).shape == (0, 1)


# --- to_pcm16, encode ----------------------------------------------------------------------


def test_to_pcm16_rounds_half_to_even_and_clips():
    x = np.array([0.5, 1.5, 2.5, -0.5, 1e6, -1e6], dtype=np.float32) / 32768
    x = np.concatenate([x, np.array([1.0, -1.0, 1.2, -1.2], dtype=np.float32)])
    pcm = audio.to_pcm16(x)
    assert pcm.dtype == np.dtype("<i2")
    assert pcm.tolist() == [0, 2, 2, 0, 32767, -32768, 32767, -32768, 32767, -32768]


def test_pcm16_survives_decode_and_to_pcm16_unchanged():
    # regression: with a 32767 scale, every pass shifted samples above half scale by one step
    pcm = np.arange(-32768, 32768, dtype=np.int16)[:, None]
    decoded = audio.decode(make(pcm, SR, "FLAC", "PCM_16"), uri="ramp.flac")
    np.testing.assert_array_equal(audio.to_pcm16(decoded.samples), pcm)


@pytest.mark.parametrize("codec", list(AudioCodec))
def test_encode_is_lossless_in_int16(codec):
    x = speechy(channels=2)
    data = audio.encode(x, SR, codec)
    pcm, rate = audio.decode_pcm16(data)
    assert rate == SR
    np.testing.assert_array_equal(pcm, audio.to_pcm16(x))
    assert audio.encode(audio.to_pcm16(x), SR, codec) == data  # int16 input is used as is


def riff_chunks(data: bytes) -> list[bytes]:
    ids, pos = [], 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        ids.append(data[pos : pos + 4])
        pos += 8 + size + (size & 1)
    return ids


def flac_metadata(data: bytes) -> list[tuple[int, bytes]]:
    blocks, pos, last = [], 4, False
    while not last:
        last, kind = bool(data[pos] & 0x80), data[pos] & 0x7F
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        blocks.append((kind, data[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return blocks


@pytest.mark.parametrize("codec", list(AudioCodec))
def test_encode_is_byte_deterministic(codec):
    x = speechy()
    first = audio.encode(x, SR, codec)
    assert audio.encode(x.copy(), SR, codec) == first


def test_encoded_files_carry_no_timestamps_or_ids():
    wav = audio.encode(speechy(), SR, AudioCodec.WAV)
    assert riff_chunks(wav) == [b"fmt ", b"data"]  # no LIST/INFO, no PEAK (it has a timestamp)
    flac = audio.encode(speechy(), SR, AudioCodec.FLAC)
    assert flac[:4] == b"fLaC"
    for kind, body in flac_metadata(flac):
        assert kind in (0, 1, 3, 4), kind  # STREAMINFO, PADDING, SEEKTABLE, VORBIS_COMMENT
        if kind == 4:  # vendor string (the libFLAC version) and zero comments
            vendor_len = int.from_bytes(body[:4], "little")
            assert body[4 : 4 + vendor_len].startswith(b"reference libFLAC")
            assert int.from_bytes(body[4 + vendor_len : 8 + vendor_len], "little") == 0


def test_encode_is_byte_deterministic_across_processes():
    code = (
        "import hashlib, numpy as np\n"
        "from curate import audio\nfrom curate.config import AudioCodec\n"
        "from tests.curate.test_audio import speechy\n"
        "print(hashlib.sha256(audio.encode(speechy(), 16000, AudioCodec.FLAC)).hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    here = hashlib.sha256(audio.encode(speechy(), SR, AudioCodec.FLAC)).hexdigest()
    assert out.stdout.strip() == here


def test_encode_empty_audio():
    data = audio.encode(np.zeros((0, 1), np.float32), SR, AudioCodec.WAV)
    pcm, rate = audio.decode_pcm16(data)
    assert pcm.shape == (0, 1) and rate == SR
    with pytest.raises(ValueError, match="zero frames"):
        audio.encode(np.zeros((0, 1), np.float32), SR, AudioCodec.FLAC)


def test_decode_pcm16_rejects_garbage():
    rejected(Reason.AUDIO_UNDECODABLE, audio.decode_pcm16, b"garbage" * 10)


# --- hostile inputs (issue 16) ---------------------------------------------------------------


class _CountingReader(io.BytesIO):
    """A reader that counts the bytes the decoder asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        out = super().read(size)
        self.bytes_read += len(out)
        return out

    def readinto(self, buffer) -> int:
        n = super().readinto(buffer)
        self.bytes_read += n
        return n


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_audio_with_nan_or_inf_samples_is_rejected_as_audio_not_finite(bad):
    """All-NaN float audio used to become all-zero audio (signals -120 dBFS, NaN SNR)."""
    x = tone(440, 0.5)
    x[100:110] = bad
    err = rejected(Reason.AUDIO_NOT_FINITE, audio.decode, make(x, SR, "WAV", "FLOAT"),
                   uri="nan.wav")
    assert err.detail == f"nan.wav: 10 of {x.size} samples are NaN or infinite"
    all_nan = np.full(SR // 2, np.nan, dtype=np.float32)
    rejected(Reason.AUDIO_NOT_FINITE, audio.decode, make(all_nan, SR, "WAV", "DOUBLE"), uri="n")


@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "PCM_16"), ("FLAC", "PCM_16")])
def test_too_long_file_is_rejected_from_its_header_before_samples_are_read(fmt, subtype):
    """A 691 MB file rejected as too long used to be read and decoded whole first (1.6 GB
    peak): the header's duration is compared with max_duration_s before any sample is read."""
    data = make(speechy(40.0), SR, fmt, subtype)
    reader = _CountingReader(data)
    err = rejected(Reason.TOO_LONG, audio.decode, reader, uri="long.x", max_duration_s=30.0)
    assert err.detail == ("duration 40.00 s > max_duration_s 30 "
                          "(from the header; no sample was read)")
    assert reader.bytes_read < min(64 * 1024, len(data) // 20), reader.bytes_read
    # within the bound it is decoded as before; a segment's own length is what counts
    assert audio.decode(data, uri="x", max_duration_s=41.0).frames == 40 * SR
    seg = audio.decode(data, uri="x", start_s=5.0, end_s=10.0, max_duration_s=30.0)
    assert seg.frames == 5 * SR


def test_segment_far_past_the_end_is_a_bad_segment_not_an_overflow():
    """A start of 1e308 s used to overflow (round(inf)) inside the decoder."""
    data = make(tone(440, 0.5), SR, "WAV", "PCM_16")
    rejected(Reason.BAD_SEGMENT, audio.decode, data, uri="x", start_s=1e308)
    rejected(Reason.BAD_SEGMENT, audio.decode, data, uri="x", start_s=0.1, end_s=1e308)


def test_fifo_as_audio_is_rejected_without_blocking(tmp_path):
    """Opening a FIFO waits for a writer: it used to hang the build forever."""
    import os

    fifo = tmp_path / "a.flac"
    os.mkfifo(fifo)
    err = rejected(Reason.AUDIO_UNREADABLE, audio.read_bytes, str(fifo))
    assert err.detail == f"{fifo}: not a regular file (a FIFO)"


def test_symlink_to_dev_zero_as_audio_is_rejected_without_reading(tmp_path):
    """``/dev/zero`` never ends: reading it whole used to grow until memory ran out."""
    link = tmp_path / "z.wav"
    link.symlink_to("/dev/zero")
    err = rejected(Reason.AUDIO_UNREADABLE, audio.read_bytes, str(link))
    assert err.detail == f"{link}: not a regular file (a character device)"


def test_file_larger_than_the_cap_is_rejected_unread(tmp_path):
    path = tmp_path / "big.wav"
    path.write_bytes(make(tone(440, 1.0), SR, "WAV", "PCM_16"))
    err = rejected(Reason.AUDIO_TOO_LARGE, audio.read_bytes, str(path), max_bytes=1000)
    assert "more than the 1000 bytes an input may have" in err.detail
    assert audio.MAX_AUDIO_BYTES == 4 << 30


def test_read_error_during_decode_is_unreadable_not_truncated():
    """An exception inside libsndfile's read callback would pass for the end of the file."""

    class _Failing(io.BytesIO):
        def readinto(self, buffer) -> int:  # what libsndfile reads samples through
            if self.tell() > 20000:
                raise ConnectionResetError("peer went away")
            return super().readinto(buffer)

    reader = _Failing(make(speechy(2.0), SR, "WAV", "PCM_16"))
    err = rejected(Reason.AUDIO_UNREADABLE, audio.decode, reader, uri="net.wav")
    assert err.detail == "net.wav: cannot read: ConnectionResetError: peer went away"


@pytest.mark.parametrize(("ext", "fmt", "subtype"), [
    (".opus", "OGG", "OPUS"), (".ogg", "OGG", "VORBIS"), (".mp3", "MP3", "MPEG_LAYER_III"),
    (".sph", "NIST", "PCM_16"), (".aiff", "AIFF", "PCM_16"), (".caf", "CAF", "PCM_16"),
])
def test_every_reencoded_format_decodes_from_a_file(tmp_path, ext, fmt, subtype):
    """The formats a re-encoded LibriSpeech tree holds decode through open_audio (lazily)."""
    rate = 48000 if subtype == "OPUS" else SR
    path = tmp_path / f"x{ext}"
    path.write_bytes(make(speechy(1.0, rate), rate, fmt, subtype))
    with audio.open_audio(str(path)) as f:
        decoded = audio.decode(f, uri=str(path), max_duration_s=30.0)
    assert decoded.frames == pytest.approx(rate, abs=rate // 50)


def test_large_file_is_read_lazily_and_a_too_long_one_costs_its_header(tmp_path, monkeypatch):
    """Above WHOLE_READ_BYTES the decoder gets the file itself, not its bytes in memory."""
    from curate import audio_io

    path = tmp_path / "long.wav"
    path.write_bytes(make(speechy(40.0), SR, "WAV", "PCM_16"))
    monkeypatch.setattr(audio_io, "WHOLE_READ_BYTES", 1 << 16)
    with audio.open_audio(str(path)) as f:
        assert not isinstance(f, io.BytesIO)
        rejected(Reason.TOO_LONG, audio.decode, f, uri=str(path), max_duration_s=30.0)
        assert f.tell() < 1 << 16  # the header and chunk headers, no samples
    with audio.open_audio(str(path)) as f:  # a segment of it: only that range
        assert audio.decode(f, uri=str(path), start_s=30.0, end_s=31.0).frames == SR
