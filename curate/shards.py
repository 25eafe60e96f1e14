"""Dedupe, split assignment, shard planning and deterministic shard writing.

Determinism: splits and shards come from a salted sha256 of the speaker or key (never Python's
``hash()``); examples are sorted by key inside each shard; shard counts depend only on the
accepted examples' sizes. So the same inputs and config give byte-identical shards whatever the
runner, the bundle sizes or the number of workers.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from curate.config import ShardConfig, SplitBy, SplitConfig
from curate.errors import Reason, Stage
from curate.fsio import WrittenFile, is_local, join, open_read
from curate.layout import ShardFormat, shard_file
from curate.process import StagedExample
from curate.records import Rejection
from curate.writers import write_shards

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
_OPEN_FILES = 32  # staging files a shard writer keeps open at once


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


def _by_pcm_hash(example: StagedExample) -> tuple[str, StagedExample]:
    return example.signals.pcm_sha256, example


class DedupeAudio(beam.PTransform):
    """Keep one example per decoded-audio hash (the smallest key); reject the others."""

    def expand(self, examples):
        return (
            examples
            | "KeyByPcmHash" >> beam.Map(_by_pcm_hash)  # (pcm_sha256, example)
            | "GroupByPcmHash" >> beam.GroupByKey()  # (pcm_sha256, [example])
            | "KeepSmallestKey"
            >> beam.FlatMap(_keep_smallest_key).with_outputs(DUPLICATES, main="unique")
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ShardResult:
    split: str
    index: int
    count: int
    num_examples: int
    files: tuple[tuple[ShardFormat, WrittenFile], ...]  # paths relative to the build
    rows: tuple[dict[str, Any], ...]  # manifest rows, sorted by key, with shard and position


class _StagedRecords:
    """The staged records of a shard's examples, one at a time, in the order asked for.

    Memory holds one record, whatever the shard's size. Local staging files are read in place
    (a seek and a read per record, from the page cache). Remote ones (``gs://``, ``s3://``)
    would cost a ranged request per record that way, so each staging file is first read once,
    front to back, and the records wanted from it are spooled to a local temporary file.
    """

    def __init__(self, examples: list[StagedExample]) -> None:
        self._examples = examples
        self._spool: Any = None
        self._where: dict[str, tuple[str, int]] = {}  # key -> (local path, offset)

    def __enter__(self) -> _StagedRecords:
        remote = [e for e in self._examples if not is_local(e.staged_path)]
        for e in self._examples:
            self._where[e.key] = (e.staged_path, e.offset)
        if remote:
            self._spool = tempfile.NamedTemporaryFile(prefix="curate-spool-", delete=False)
            by_path: dict[str, list[StagedExample]] = defaultdict(list)
            for e in remote:
                by_path[e.staged_path].append(e)
            for path, group in sorted(by_path.items()):
                with open_read(path) as f:
                    for e in sorted(group, key=lambda e: e.offset):
                        f.seek(e.offset)
                        self._where[e.key] = (self._spool.name, self._spool.tell())
                        self._spool.write(_read_exactly(f, e, path))
            self._spool.close()
        return self

    def __exit__(self, *_: Any) -> None:
        if self._spool is not None:
            os.unlink(self._spool.name)

    def __iter__(self) -> Iterator[bytes]:
        handles: dict[str, Any] = {}
        try:
            for e in self._examples:
                path, offset = self._where[e.key]
                f = handles.get(path)
                if f is None:
                    if len(handles) >= _OPEN_FILES:
                        handles.pop(next(iter(handles))).close()
                    f = handles[path] = open_read(path)
                f.seek(offset)
                yield _read_exactly(f, e, path)
        finally:
            for f in handles.values():
                f.close()


def _read_exactly(f: Any, e: StagedExample, path: str) -> bytes:
    data = f.read(e.length)
    if len(data) != e.length:
        raise IOError(f"staging file {path} is short at offset {e.offset} (key {e.key})")
    return data


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
        count = counts[split]
        rels = {f: shard_file(self._dataset, split, f, index, count) for f in self._cfg.formats}
        dests = {f: join(self._output_dir, rel) for f, rel in rels.items()}
        with _StagedRecords(examples) as records:  # streamed: one record in memory at a time
            written, num_examples = write_shards(dests, records)
        files = [
            (f, WrittenFile(path=rels[f], sha256=w.sha256, size_bytes=w.size_bytes))
            for f, w in written.items()
        ]
        rows = tuple({**e.manifest_row(), "shard": index, "position": i} for i, e in enumerate(examples))
        Metrics.counter("curate", "shards.written").inc()
        yield ShardResult(split=split, index=index, count=count, num_examples=num_examples,
                          files=tuple(files), rows=rows)


def _size_of(split: str, example: StagedExample) -> tuple[str, tuple[int, int]]:
    return split, (example.length, 1)


def _sum_sizes(sizes: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """(bytes, examples) summed."""
    total_bytes = total = 0
    for n_bytes, n in sizes:
        total_bytes += n_bytes
        total += n
    return total_bytes, total


def _shard_count(item: tuple[str, tuple[int, int]], cfg: ShardConfig) -> tuple[str, int]:
    split, (total_bytes, examples) = item
    return split, num_shards(total_bytes, examples, cfg)


def _with_shard(item: tuple[str, StagedExample], counts: Mapping[str, int],
                cfg: ShardConfig) -> tuple[tuple[str, int], StagedExample]:
    split, example = item
    return (split, shard_index(example.key, counts[split], cfg)), example


class WriteShards(beam.PTransform):
    """(split, StagedExample) -> ShardResult, one per shard written in every configured format.

    Shard counts per split come from the total staged bytes and the target shard size; only the
    small StagedExample records are grouped, and each shard's writer reads its examples' bytes
    from the staging files exactly once.
    """

    def __init__(self, output_dir: str, dataset: str, cfg: ShardConfig, *,
                 progress: bool = False) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._dataset = dataset
        self._cfg = cfg
        self._progress = progress  # count the shards that will be written (build_progress)

    def expand(self, split_examples):
        cfg = self._cfg
        counts = (
            split_examples
            | "SizeBySplit" >> beam.MapTuple(_size_of)  # (split, (bytes, 1))
            | "SumBySplit" >> beam.CombinePerKey(_sum_sizes)  # (split, (bytes, examples))
            | "ShardCount" >> beam.Map(_shard_count, cfg)  # (split, shard count)
        )
        assigned = split_examples | "AssignShard" >> beam.Map(
            _with_shard, counts=beam.pvalue.AsDict(counts), cfg=cfg
        )  # ((split, shard), example)
        if self._progress:  # only shards that hold an example are written
            from curate.build_progress import CountStep, Step

            _ = (
                assigned
                | "ShardKeys" >> beam.Keys()  # (split, shard)
                | "DistinctShards" >> beam.Distinct()
                | "CountPlanned" >> CountStep(self._output_dir, Step.PLANNED)
            )
        return (
            assigned
            | "GroupByShard" >> beam.GroupByKey()  # ((split, shard), [example])
            | "WriteShard"
            >> beam.ParDo(
                _WriteShardFn(self._output_dir, self._dataset, cfg),
                counts=beam.pvalue.AsDict(counts),
            )
        )
