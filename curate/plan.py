"""Shard planning: which shard each example this build processed goes into.

Per split, the new examples fill ``ceil(bytes / target)`` new shards (``num_shards``), each
example in shard ``first_free + hash(key) % count`` (``shard_index``): a fresh build numbers
from 0, a build on a base from the index after the base's last shard of the split, so the
base's shards keep their names. An example whose input changed goes back into the base shard
its old version was in (that shard is rewritten anyway), when its split is still that shard's.
Only the small ``StagedExample`` records are grouped; the bytes stay in the staging files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam

from curate.config import ShardConfig
from curate.process import StagedExample
from curate.records import BY_KEY, BY_SHARD
from curate.shards import num_shards, shard_index

__all__ = ["PlanShards"]

ShardKey = tuple[str, int]


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


def _with_shard(item: tuple[str, StagedExample], counts: Mapping[str, int], cfg: ShardConfig,
                first_free: Mapping[str, int]) -> tuple[ShardKey, StagedExample]:
    split, example = item
    index = first_free.get(split, 0) + shard_index(example.key, counts[split], cfg)
    return (split, index), example


def _by_key(split: str, example: StagedExample) -> tuple[str, tuple[str, StagedExample]]:
    return example.key, (split, example)


_NEW, _RETURNING = 0, 1


def _hinted(item: tuple[str, Mapping[str, Iterable[Any]]]) -> Iterable[tuple[int, Any]]:
    """(key, {"example": [(split, example)], "hint": [(split, shard)]}) -> (_RETURNING,
    ((split, shard), example)) when the example goes back into its hinted shard, else (_NEW,
    (split, example))."""
    _, found = item
    hints = list(found["hint"])
    for split, example in found["example"]:
        if hints and hints[0][0] == split:
            yield _RETURNING, ((split, int(hints[0][1])), example)
        else:
            yield _NEW, (split, example)


def _same(item: Any) -> Any:
    return item


def _kind(tagged: tuple[int, Any], _n: int) -> int:
    return tagged[0]


def _untag(tagged: tuple[int, Any]) -> Any:
    return tagged[1]


class PlanShards(beam.PTransform):
    """(split, StagedExample) -> ((split, shard index), StagedExample); see the module
    docstring. ``first_free``: per split, the first index new shards may take; ``hints``:
    ``(key, (split, shard))`` of the base shard of each changed input."""

    def __init__(self, cfg: ShardConfig, *, first_free: Mapping[str, int] | None = None,
                 hints: beam.PCollection | None = None) -> None:
        super().__init__()
        self._cfg = cfg
        self._first_free = dict(first_free or {})
        self._hints = hints

    def expand(self, split_examples: beam.PCollection) -> beam.PCollection:
        cfg = self._cfg
        returning = None
        new = split_examples
        if self._hints is not None:
            parts = (
                {"example": split_examples
                 | "KeyByKey" >> beam.MapTuple(_by_key).with_output_types(BY_KEY),
                 "hint": self._hints | "KeyedHints" >> beam.Map(_same).with_output_types(BY_KEY)}
                | "WithHints" >> beam.CoGroupByKey()  # (key, {"example": [...], "hint": [...]})
                | "Hinted" >> beam.FlatMap(_hinted)
                | "NewOrReturning" >> beam.Partition(_kind, 2)
            )
            new = parts[_NEW] | "New" >> beam.Map(_untag)  # (split, example)
            returning = parts[_RETURNING] | "Returning" >> beam.Map(_untag).with_output_types(
                BY_SHARD)  # ((split, shard), example)
        counts = (
            new
            | "SizeBySplit" >> beam.MapTuple(_size_of)  # (split, (bytes, 1))
            | "SumBySplit" >> beam.CombinePerKey(_sum_sizes)  # (split, (bytes, examples))
            | "ShardCount" >> beam.Map(_shard_count, cfg)  # (split, shard count)
        )
        assigned = new | "AssignShard" >> beam.Map(
            _with_shard, counts=beam.pvalue.AsDict(counts), cfg=cfg, first_free=self._first_free
        ).with_output_types(BY_SHARD)  # ((split, shard), example)
        if returning is None:
            return assigned
        return (assigned, returning) | "AllPlanned" >> beam.Flatten()
