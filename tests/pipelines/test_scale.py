"""Scaling out: no step funnels the corpus through one worker, no audio crosses a shuffle, and the
shard plan for a million utterances is balanced and deterministic.

The figures behind ``docs/runners.md`` come from ``python -m bench.measure`` (see there); these
tests check the properties, not timings.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import Counter, defaultdict

import numpy as np
import pytest

from curate.config import ShardConfig, SplitConfig
from tests.pipelines.corpus import small_shard_corpus
from curate.shards import num_shards
from bench.measure import shuffle_profile
from tests.synthetic_rows import plan, plan_digest, synthetic_rows

MILLION = 1_000_000
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def million():
    rows = synthetic_rows(MILLION, seed=0)
    return rows, plan(rows)


def test_shard_plan_for_a_million_utterances_is_balanced(million):
    rows, p = million
    cfg = ShardConfig()
    target = cfg.target_size_mb * 1024 * 1024
    lengths = np.fromiter((r.length for r in rows), dtype=np.int64, count=len(rows))
    splits = np.array(p.split)
    shards = np.array(p.shard)
    for split, count in p.num_shards.items():
        mask = splits == split
        total, n = int(lengths[mask].sum()), int(mask.sum())
        assert count == num_shards(total, n, cfg) == math.ceil(total / target)
        per_shard = np.bincount(shards[mask], weights=lengths[mask], minlength=count)
        examples = np.bincount(shards[mask], minlength=count)
        assert examples.min() > 0 and len(per_shard) == count
        rel = per_shard / per_shard.mean() - 1
        # Hash sharding is multinomial: with ~1 300 examples a shard the spread of shard sizes is
        # about 1/sqrt(1 300) = 2.8 % (times a little for the spread of example sizes).
        sizes = lengths[mask]
        expected_cv = math.sqrt((1 + (sizes.std() / sizes.mean()) ** 2) / examples.mean())
        assert rel.std() < 0.04, f"{split}: shard sizes vary by {rel.std():.1%}"
        assert rel.std() < 1.25 * expected_cv, f"{split}: less balanced than a fair hash"
        assert np.abs(rel).max() < 0.15, f"{split}: a shard is {np.abs(rel).max():.1%} off"
        assert per_shard.max() < 1.15 * target


def test_split_plan_for_a_million_utterances_follows_ratios_by_speaker(million):
    rows, p = million
    ratios = SplitConfig().ratios
    counts = Counter(p.split)
    for split, ratio in ratios.items():
        assert counts[split] / len(rows) == pytest.approx(ratio, abs=0.015), split
    splits_of: dict[str, set[str]] = defaultdict(set)
    for row, split in zip(rows, p.split):
        splits_of[row.speaker].add(split)
    assert all(len(s) == 1 for s in splits_of.values()), "a speaker crosses splits"


def test_shard_plan_is_the_same_in_another_process_and_row_order(million):
    """Python's ``hash()`` is salted per process; the plan must not notice. The plan of 200 000
    rows, reversed, in a fresh interpreter with another hash seed, equals this one's."""
    n = 200_000
    rows = synthetic_rows(n, seed=0)
    here = plan_digest(rows, plan(rows))
    env = dict(os.environ, PYTHONHASHSEED="12345")
    proc = subprocess.run([sys.executable, "-m", "tests.synthetic_rows", str(n), "--reverse"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == here


# --- the pipeline on a small corpus --------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return small_shard_corpus(  # a few shards, several examples each
        str(tmp_path_factory.mktemp("corpus") / "c"), utterances=24, seed=9, target_shard_mb=1.0,
        layouts=("librispeech", "jsonl", "tsv", "kaldi"))


@pytest.fixture(scope="module")
def profile(corpus, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("profile") / "build")
    return shuffle_profile(os.path.join(corpus, "configs", "librispeech.yaml"), out)


def test_no_audio_crosses_a_shuffle(profile):
    """Only small records (names, signals, where the staged bytes are) are grouped: the shuffle
    carries a few kB per example whatever its audio, far below the issue's ceiling of about one
    byte per output byte."""
    assert profile["examples"] > 10
    assert profile["shuffle_per_output_byte"] < 0.05
    assert profile["shuffle_bytes"] / profile["examples"] < 8_000
    mean_record = profile["staged_bytes"] / profile["examples"]
    for name, step in profile["steps"]["shuffle"].items():
        if step["elements"] and "GroupBySplit" not in name:  # that one: one element per shard
            assert step["bytes"] / step["elements"] < mean_record / 4, name
    # Every example's bytes are staged once and read back once: the staging is about the size
    # of one of the two shard formats.
    assert 0.4 < profile["staged_per_output_byte"] < 0.6


def test_finalize_side_inputs_do_not_carry_manifest_rows(profile):
    """Regression: Finalize read every shard's manifest rows as a side input (every example of
    the corpus in one worker's memory). Its side inputs now hold one small record per shard,
    per split and per rejection."""
    finalize = {n: s for n, s in profile["steps"]["side_input"].items()
                if n.startswith("Build/Finalize")}
    assert finalize
    from_shards = [s for n, s in finalize.items() if "<- Build/WriteShards/" in n]
    assert len(from_shards) == 1
    (shard_results,) = from_shards
    assert shard_results["elements"] >= 3
    assert shard_results["bytes"] / shard_results["elements"] < 1_500  # ~500 B for one shard
    assert profile["side_input_per_output_byte"] < 0.01


# Outputs that carry only Rejections (``ReadSources`` partitions outcomes by type; its ``Route``
# step sends those to the dead-letter output, never on to ``ProcessUtterances``).
_REJECTIONS_ONLY = {("Build/ReadSources/SplitOutcomes/", "1")}


def _upstream_paths_without_shuffle(proto, transform_name: str) -> list[list[str]]:
    """Paths from a root (e.g. Impulse) to ``transform_name``'s main input that pass no
    GroupByKey: along such a path the runner fuses the read with the work, so the work runs as
    parallel as the read's output happens to be split."""
    from apache_beam.portability.api import beam_runner_api_pb2

    transforms = proto.components.transforms
    leaves = {tid: t for tid, t in transforms.items() if not t.subtransforms}
    producer = {pcoll: tid for tid, t in leaves.items() for pcoll in t.outputs.values()}

    def main_inputs(t) -> list[str]:
        if t.spec.urn == "beam:transform:pardo:v1":
            side = beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload).side_inputs
            return [p for tag, p in t.inputs.items() if tag not in side]
        return list(t.inputs.values())

    (target,) = [t for t in leaves.values() if t.unique_name == transform_name]
    bad, todo = [], [(p, [transform_name]) for p in main_inputs(target)]
    while todo:
        pcoll, path = todo.pop()
        t = leaves[producer[pcoll]]
        if t.spec.urn == "beam:transform:group_by_key:v1":
            continue
        tag = next(tag for tag, p in t.outputs.items() if p == pcoll)
        if any(t.unique_name.startswith(n) and tag == k for n, k in _REJECTIONS_ONLY):
            continue
        inputs = main_inputs(t)
        if not inputs:
            bad.append([t.unique_name, *reversed(path)])
        todo += [(p, path + [t.unique_name]) for p in inputs]
    return bad


@pytest.mark.parametrize("kind", ["librispeech", "jsonl", "tsv", "kaldi"])
def test_utterances_are_redistributed_before_the_heavy_work(corpus, kind, tmp_path):
    """Whatever the source layout, a GroupByKey stands between reading and the per-utterance
    decode/encode, so that work spreads over all workers even when a listing or a small manifest
    comes out of the reader as one bundle."""
    import apache_beam as beam

    from curate.build import BuildDataset
    from curate.config import load_config

    config = load_config(os.path.join(corpus, "configs", f"{kind}.yaml"))
    pipeline = beam.Pipeline()
    _ = pipeline | "Build" >> BuildDataset(config, str(tmp_path / "out"))
    proto = pipeline.to_runner_api()
    names = [t.unique_name for t in proto.components.transforms.values()
             if not t.subtransforms]
    (process,) = [n for n in names if n.startswith("Build/ProcessUtterances/")]  # the one ParDo
    assert not _upstream_paths_without_shuffle(proto, process)
    if kind == "librispeech":  # transcripts are read after a Reshuffle of the listing
        assert any(n.startswith("Build/ReadSources/Read[0]/Reshuffle") for n in names)


def test_the_funnel_check_sees_work_fused_with_its_read():
    import apache_beam as beam

    def graph(reshuffle: bool):
        p = beam.Pipeline()
        items = p | "Read" >> beam.Impulse() | "List" >> beam.FlatMap(lambda _: range(3))
        if reshuffle:
            items = items | "Spread" >> beam.Reshuffle()
        _ = items | "Work" >> beam.Map(lambda x: x)
        return p.to_runner_api()

    assert _upstream_paths_without_shuffle(graph(False), "Work")
    assert not _upstream_paths_without_shuffle(graph(True), "Work")
