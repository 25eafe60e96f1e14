"""Audio excerpts: their length, their window, what a missing or damaged source gives, and
examples read from a TFRecord shard by position."""

from __future__ import annotations

import io
import os
import struct

import numpy as np
import pytest
import soundfile as sf

from curate.config import ShardFormat
from curate.example_proto import encode_example
from curate.report.clips import (
    Clip,
    Unplayable,
    clip_of_samples,
    example_clips,
    source_clip,
    with_stream_serial,
)
from curate.writers import write_shard


def _decoded(clip: Clip) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(io.BytesIO(clip.ogg))
    return samples, rate


def test_an_excerpt_is_ogg_vorbis_mono_at_most_16k_and_at_most_its_length():
    rate = 44100
    stereo = np.random.default_rng(0).uniform(-0.5, 0.5, size=(rate * 10, 2)).astype(np.float32)
    clip = clip_of_samples(stereo, rate, seconds=3.0)
    samples, clip_rate = _decoded(clip)
    assert clip.ogg[:4] == b"OggS" and sf.info(io.BytesIO(clip.ogg)).subtype == "VORBIS"
    assert clip_rate == 16000 and samples.ndim == 1
    assert len(samples) == 48000 and clip.duration_s == 3.0
    assert clip.start_s == 0.0 and clip.source_duration_s == pytest.approx(10.0)
    assert len(clip.ogg) < 20_000  # about 33 kbit/s
    short = clip_of_samples(stereo[:4410], rate, seconds=3.0)
    assert short.duration_s == pytest.approx(0.1)


def test_around_peak_centres_the_window_on_the_loudest_sample():
    x = np.full(16000 * 20, 0.01, dtype=np.float32)
    x[16000 * 15] = 0.99
    clip = clip_of_samples(x, 16000, seconds=4.0, around_peak=True)
    assert clip.start_s == pytest.approx(13.0) and clip.duration_s == pytest.approx(4.0)
    end = clip_of_samples(np.roll(x, 16000 * 4), 16000, seconds=4.0, around_peak=True)
    assert end.start_s == pytest.approx(16.0)  # never past the end


@pytest.mark.parametrize(
    "content, why",
    [
        (None, "no such file"),
        (b"", "file is empty (0 bytes)"),
        (b"RIFF....not a wave at all", "libsndfile cannot decode it"),
    ],
)
def test_a_source_that_cannot_be_heard_says_why(tmp_path, content, why):
    path = tmp_path / "a.wav"
    if content is not None:
        path.write_bytes(content)
    result = source_clip(str(path), seconds=4.0)
    assert isinstance(result, Unplayable) and result.why.startswith(why), result
    assert str(path) not in result.why  # the page names the file next to it


def test_examples_are_read_by_position_in_one_pass(tmp_path):
    records = []
    for i in range(6):
        buf = io.BytesIO()
        sf.write(buf, np.full(1600 * (i + 1), 0.1 * (i % 3 + 1), dtype=np.float32), 16000,
                 format="FLAC", subtype="PCM_16")
        records.append(encode_example({"key": f"k{i}", "audio": buf.getvalue()}))
    path = str(tmp_path / "s.tfrecord")
    write_shard(path, ShardFormat.TFRECORD, records)
    with open(path, "rb") as f:
        clips = example_clips(f, [4, 1, 4], name="s", seconds=0.3)
    assert sorted(clips) == [1, 4]
    assert [round(clips[p].duration_s, 3) for p in (1, 4)] == [0.2, 0.3]
    with open(path, "rb") as f:
        data = f.read()
    truncated = io.BytesIO(data[: len(data) - 100])
    clips = example_clips(truncated, [0, 5, 9], name="s", seconds=0.3)
    assert isinstance(clips[0], Clip)
    assert isinstance(clips[5], Unplayable) and isinstance(clips[9], Unplayable)
    assert clips[5].why == "s: record 5 is truncated" and clips[9].why == clips[5].why
    assert os.path.getsize(path) == len(data)


def test_the_same_excerpt_is_the_same_bytes_and_still_plays():
    """libsndfile gives every Ogg file a random stream serial; a report rebuilt from the same
    build must not differ by it."""
    samples = (0.3 * np.sin(np.arange(48000) / 10.0)).astype(np.float32)
    first = clip_of_samples(samples, 16000, seconds=2.0)
    assert first.ogg == clip_of_samples(samples, 16000, seconds=2.0).ogg
    decoded, rate = sf.read(io.BytesIO(first.ogg), dtype="float32")
    assert rate == 16000 and decoded.shape == (32000,)


def test_a_new_serial_keeps_every_page_checksum_valid():
    buf = io.BytesIO()
    sf.write(buf, np.zeros(20000, np.float32), 16000, format="OGG", subtype="VORBIS")
    original = buf.getvalue()
    renumbered = with_stream_serial(original, 7)
    assert with_stream_serial(renumbered, 7) == renumbered
    pages = renumbered.split(b"OggS")[1:]
    assert len(pages) >= 2 and all(p[10:14] == (7).to_bytes(4, "little") for p in pages)
    # libogg drops a page whose checksum is wrong (the file fails to open when it is a header
    # page, loses frames otherwise): every frame decodes, so every checksum is right
    assert sf.read(io.BytesIO(renumbered))[0].shape == (20000,)
    stale = bytearray(renumbered)
    struct.pack_into("<I", stale, 14, 9)  # the first page's serial changed, its checksum not
    with pytest.raises(RuntimeError):
        sf.read(io.BytesIO(bytes(stale)))
    with pytest.raises(ValueError, match="not an Ogg page"):
        with_stream_serial(b"RIFF" + original[4:], 1)
