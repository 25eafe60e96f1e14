"""Dedupe, split and shard planning, on small records with TestPipeline."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from curate.config import ShardConfig, SplitBy, SplitConfig
from curate.errors import Reason, Stage
from curate.process import StagedExample
from curate.records import Signals
from curate.shards import DedupeAudio, assign_split, num_shards, shard_index


def _example(key: str, *, pcm: str = "", speaker: str = "s", length: int = 100) -> StagedExample:
    signals = Signals(duration_s=1.0, rms_dbfs=-20, peak_dbfs=-3, clipping_ratio=0,
                      silence_ratio=0.1, snr_db=20, chars_per_s=10, words_per_s=2,
                      pcm_sha256=pcm or f"pcm-{key}")
    return StagedExample(key=key, speaker=speaker, text="t", source_uri="src", audio_uri=f"/a/{key}",
                         sample_rate_hz=16000, num_samples=16000, channels=1, audio_sha256="x",
                         signals=signals, staged_path="/s", offset=0, length=length)


def test_dedupe_keeps_the_smallest_key_and_names_it_in_each_rejection():
    examples = [_example("b", pcm="h1"), _example("a", pcm="h1"), _example("c", pcm="h1"),
                _example("d", pcm="h2")]
    with TestPipeline() as p:
        out = p | beam.Create(examples) | DedupeAudio()
        assert_that(out.unique | "Keys" >> beam.Map(lambda e: e.key), equal_to(["a", "d"]),
                    label="unique")
        assert_that(
            out.duplicates | "Rows" >> beam.Map(lambda r: (r.key, r.stage, r.reason, r.detail.split()[3])),
            equal_to([("b", Stage.DEDUPE, Reason.DUPLICATE_AUDIO, "a"),
                      ("c", Stage.DEDUPE, Reason.DUPLICATE_AUDIO, "a")]),
            label="duplicates",
        )


def test_split_by_speaker_keeps_each_speaker_in_one_split_and_follows_ratios():
    cfg = SplitConfig()
    seen: dict[str, set[str]] = {}
    counts = {"train": 0, "validation": 0, "test": 0}
    for spk in range(2000):
        for utt in range(3):
            split = assign_split(_example(f"{spk}-{utt}", speaker=str(spk)), cfg)
            seen.setdefault(str(spk), set()).add(split)
        counts[split] += 1
    assert all(len(s) == 1 for s in seen.values())
    assert counts["train"] / 2000 == pytest.approx(0.8, abs=0.04)
    assert counts["test"] / 2000 == pytest.approx(0.1, abs=0.03)


def test_split_by_key_and_salt_change_assignment():
    keys = [f"k{i}" for i in range(200)]
    by_key = SplitConfig(by=SplitBy.KEY)
    salted = SplitConfig(by=SplitBy.KEY, salt="other")
    a = [assign_split(_example(k, speaker="one"), by_key) for k in keys]
    b = [assign_split(_example(k, speaker="one"), salted) for k in keys]
    assert len(set(a)) == 3 and a != b


def test_shard_planning():
    cfg = ShardConfig(target_size_mb=1)
    assert num_shards(0, 0, cfg) == 1
    assert num_shards(3 * 1024 * 1024 + 1, 100, cfg) == 4
    assert num_shards(50 * 1024 * 1024, 3, cfg) == 3  # never more shards than examples
    indices = [shard_index(f"key{i}", 4, cfg) for i in range(400)]
    assert set(indices) == {0, 1, 2, 3} and min(indices.count(i) for i in range(4)) > 60
    assert indices == [shard_index(f"key{i}", 4, cfg) for i in range(400)]
