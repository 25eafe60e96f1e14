"""Dedupe, split assignment, shard planning and deterministic shard writing.

Determinism: splits and shards come from a salted sha256 of the speaker or key (never Python's
``hash()``); examples are sorted by key inside each shard; shard counts depend only on the
accepted examples' sizes. So the same inputs and config give byte-identical shards whatever the
runner, the bundle sizes or the number of workers.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from curate.config import ShardConfig, ShardFormat, SplitBy, SplitConfig
from curate.errors import Reason, Stage
from curate.process import StagedExample
from curate.records import Rejection
from curate.writers import WrittenFile, shard_name, write_shard

__all__ = [
    "DUPLICATES",
    "DedupeAudio",
    "ShardResult",
    "WriteShards",
    "assign_split",
    "num_shards",
    "shard_index",
]

DUPLICATES = "duplicates"


def _unit_hash(salt: str, value: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}\x00{value}".encode()).digest()[:8], "big")


def assign_split(example: StagedExample, cfg: SplitConfig) -> str:
    """The split of an example, from a salted hash of its speaker (or key), by config ratios."""
    value = example.speaker if cfg.by is SplitBy.SPEAKER else example.key
    u = _unit_hash(cfg.salt, value) / 2.0**64
    cumulative = 0.0
    names = sorted(cfg.ratios)  # not the mapping's order: a re-serialised config must agree
    for name in names:
        cumulative += cfg.ratios[name]
        if u < cumulative:
            return name
    return names[-1]


def num_shards(total_bytes: int, num_examples: int, cfg: ShardConfig) -> int:
    target = cfg.target_size_mb * 1024 * 1024
    return max(1, min(num_examples, math.ceil(total_bytes / target)))


def shard_index(key: str, count: int, cfg: ShardConfig) -> int:
    return _unit_hash(cfg.salt, key) % count


def _keep_smallest_key(item: tuple[str, Iterable[StagedExample]]):
    _, group = item
    ordered = sorted(group, key=lambda e: e.key)
    yield ordered[0]
    for dup in ordered[1:]:
        Metrics.counter("curate", f"rejected.{Reason.DUPLICATE_AUDIO.value}").inc()
        yield beam.pvalue.TaggedOutput(
            DUPLICATES,
            Rejection(
                key=dup.key,
                source_uri=dup.source_uri,
                audio_uri=dup.audio_uri,
                stage=Stage.DEDUPE,
                reason=Reason.DUPLICATE_AUDIO,
                detail=f"same audio as {ordered[0].key} ({ordered[0].audio_uri})",
            ),
        )


class DedupeAudio(beam.PTransform):
    """Keep one example per decoded-audio hash (the smallest key); reject the others."""

    def expand(self, examples):
        return (
            examples
            | "KeyByPcmHash" >> beam.Map(lambda e: (e.signals.pcm_sha256, e))  # (pcm_sha256, example)
            | "GroupByPcmHash" >> beam.GroupByKey()  # (pcm_sha256, [example])
            | "KeepSmallestKey"
            >> beam.FlatMap(_keep_smallest_key).with_outputs(DUPLICATES, main="unique")
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ShardResult:
    split: str
    index: int
    count: int
    files: tuple[tuple[ShardFormat, WrittenFile], ...]
    rows: tuple[dict[str, Any], ...]  # manifest rows, sorted by key, with shard and position


def _read_staged(examples: list[StagedExample]) -> dict[str, bytes]:
    """The staged records of ``examples``, reading each staging file once, in offset order."""
    by_path: dict[str, list[StagedExample]] = defaultdict(list)
    for e in examples:
        by_path[e.staged_path].append(e)
    records = {}
    for path, group in sorted(by_path.items()):
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            for e in sorted(group, key=lambda e: e.offset):
                f.seek(e.offset)
                data = f.read(e.length)
                if len(data) != e.length:
                    raise IOError(f"staging file {path} is short at offset {e.offset}")
                records[e.key] = data
    return records


class _WriteShardFn(beam.DoFn):
    def __init__(self, output_dir: str, dataset: str, cfg: ShardConfig) -> None:
        self._output_dir = output_dir
        self._dataset = dataset
        self._cfg = cfg

    def process(self, item, counts: Mapping[str, int]):
        (split, index), group = item
        examples = sorted(group, key=lambda e: e.key)
        for a, b in zip(examples, examples[1:]):
            if a.key == b.key:  # the sources reject duplicate keys: this is a bug
                raise ValueError(f"duplicate key {a.key!r}: {a.audio_uri} and {b.audio_uri}")
        records = _read_staged(examples)
        ordered = [records[e.key] for e in examples]
        count = counts[split]
        files = []
        for fmt in self._cfg.formats:
            rel = shard_name(self._dataset, split, fmt, index, count)
            written = write_shard(f"{self._output_dir}/{rel}", fmt, ordered)
            files.append((fmt, WrittenFile(path=rel, sha256=written.sha256,
                                           size_bytes=written.size_bytes,
                                           num_examples=written.num_examples)))
        rows = tuple({**e.manifest_row(), "shard": index, "position": i} for i, e in enumerate(examples))
        Metrics.counter("curate", "shards.written").inc()
        yield ShardResult(split=split, index=index, count=count, files=tuple(files), rows=rows)


class WriteShards(beam.PTransform):
    """(split, StagedExample) -> ShardResult, one per shard written in every configured format.

    Shard counts per split come from the total staged bytes and the target shard size; only the
    small StagedExample records are grouped, and each shard's writer reads its examples' bytes
    from the staging files exactly once.
    """

    def __init__(self, output_dir: str, dataset: str, cfg: ShardConfig) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._dataset = dataset
        self._cfg = cfg

    def expand(self, split_examples):
        cfg = self._cfg
        counts = (
            split_examples
            | "SizeBySplit" >> beam.Map(lambda se: (se[0], (se[1].length, 1)))  # (split, (bytes, 1))
            | "SumBySplit" >> beam.CombinePerKey(lambda vs: tuple(map(sum, zip(*vs))) or (0, 0))
            | "ShardCount" >> beam.MapTuple(lambda split, bn: (split, num_shards(bn[0], bn[1], cfg)))
        )
        return (
            split_examples
            | "AssignShard"
            >> beam.Map(
                lambda se, counts: ((se[0], shard_index(se[1].key, counts[se[0]], cfg)), se[1]),
                counts=beam.pvalue.AsDict(counts),
            )  # ((split, shard), example)
            | "GroupByShard" >> beam.GroupByKey()  # ((split, shard), [example])
            | "WriteShard"
            >> beam.ParDo(
                _WriteShardFn(self._output_dir, self._dataset, cfg),
                counts=beam.pvalue.AsDict(counts),
            )
        )
