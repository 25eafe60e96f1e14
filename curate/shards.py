"""Dedupe, split assignment and the hashes shard planning uses.

Determinism: splits and shards come from a salted sha256 of the speaker or key (never Python's
``hash()``); examples are sorted by key inside each shard (:mod:`curate.shard_writer`); shard
counts depend only on the accepted examples' sizes (:mod:`curate.plan`). So the same inputs
and config (and base version) give byte-identical shards whatever the runner, the bundle sizes
or the number of workers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from curate.config import ShardConfig, SplitBy, SplitConfig
from curate.errors import Reason, Stage
from curate.fsio import WrittenFile
from curate.layout import ShardFormat
from curate.pickling import fast_pickle
from curate.process import StagedExample
from curate.records import BY_KEY, Rejection

__all__ = [
    "DUPLICATES",
    "BaseAudio",
    "DedupeAudio",
    "ShardResult",
    "assign_split",
    "num_shards",
    "shard_index",
    "shards_for",
    "target_bytes",
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
    """How many shards of ``cfg.target_size_mb`` hold ``total_bytes`` of examples."""
    return shards_for(total_bytes, num_examples, target_bytes(cfg.target_size_mb))


def target_bytes(target_size_mb: float) -> float:
    return target_size_mb * 1024 * 1024


def shards_for(total_bytes: int, num_examples: int, target: float) -> int:
    """``ceil(total_bytes / target)`` shards, at least one and at most one per example."""
    return max(1, min(num_examples, math.ceil(total_bytes / target)))


def shard_index(key: str, count: int, cfg: ShardConfig) -> int:
    """Which of ``count`` shards an example goes into: a salted hash of its key."""
    return _unit_hash(cfg.salt, key) % count


@fast_pickle
@dataclass(frozen=True, kw_only=True, slots=True)
class BaseAudio:
    """The decoded-audio hash of an example a build on a base carries over."""

    key: str
    audio_uri: str


def _duplicate(dup: StagedExample, kept_key: str, kept_uri: str) -> beam.pvalue.TaggedOutput:
    Metrics.counter("curate", f"rejected.{Reason.DUPLICATE_AUDIO.value}").inc()
    return beam.pvalue.TaggedOutput(
        DUPLICATES,
        Rejection(
            key=dup.key,
            source_uri=dup.source_uri,
            audio_uri=dup.audio_uri,
            stage=Stage.DEDUPE,
            reason=Reason.DUPLICATE_AUDIO,
            detail=f"same audio as {kept_key} ({kept_uri})",
            source_fingerprint=dup.source_fingerprint,
            input_sha256=dup.input_sha256,
            settings_sha256=dup.settings_sha256,
            signals=dup.signals,
        ),
    )


def _keep_one(item: tuple[str, Iterable[StagedExample | BaseAudio]]) -> Iterator[Any]:
    """A base example wins (a version does not lose an example it had); among new ones, the
    smallest key."""
    _, group = item
    base = sorted((m for m in group if isinstance(m, BaseAudio)), key=lambda m: m.key)
    new = sorted((m for m in group if isinstance(m, StagedExample)), key=lambda e: e.key)
    if base:
        kept_key, kept_uri = base[0].key, base[0].audio_uri
    elif new:
        kept, *new = new
        kept_key, kept_uri = kept.key, kept.audio_uri
        yield kept
    for dup in new:
        yield _duplicate(dup, kept_key, kept_uri)


def _by_pcm_hash(example: StagedExample) -> tuple[str, StagedExample]:
    return example.signals.pcm_sha256, example


class DedupeAudio(beam.PTransform):
    """Keep one example per decoded-audio hash, reject the others as ``duplicate_audio`` naming
    the kept one. ``against``: ``(pcm_sha256, BaseAudio)`` of the examples a build on a base
    carries, which win over new ones."""

    def __init__(self, against: beam.PCollection | None = None) -> None:
        super().__init__()
        self._against = against

    def expand(self, examples):
        keyed = examples | "KeyByPcmHash" >> beam.Map(_by_pcm_hash).with_output_types(
            BY_KEY)  # (pcm_sha256, example)
        if self._against is not None:
            keyed = (keyed, self._against) | "WithBaseAudio" >> beam.Flatten()
        return (
            keyed
            | "GroupByPcmHash" >> beam.GroupByKey()  # (pcm_sha256, [example | BaseAudio])
            | "KeepOne" >> beam.FlatMap(_keep_one).with_outputs(DUPLICATES, main="unique")
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ShardResult:
    """One shard of the build: its files and its manifest file (paths relative to the build).
    ``from_base``: the shard's files are the base version's, kept; ``manifest_from_base``: so is
    its manifest file (not when a carried example's source moved: its row names the new URIs)."""

    split: str
    index: int
    num_examples: int
    files: tuple[tuple[ShardFormat, WrittenFile], ...]
    manifest: WrittenFile
    from_base: bool = False
    manifest_from_base: bool = False
