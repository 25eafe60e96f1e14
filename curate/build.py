"""The build: sources -> process -> dedupe -> split -> shards -> build directory.

``BuildDataset`` is the whole flow as one Beam transform. :func:`curate.launch.run_build` runs it
with the given pipeline options and returns the parsed ``dataset_info.json``; ``curate build``
and ``python -m pipelines.asr_dataset`` call that.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import apache_beam as beam

from curate import fsio
from curate.build_info import (
    SplitManifest,
    count_inputs,
    merge_manifest,
    read_manifest_part,
    split_entries,
    write_card,
    write_info,
    write_manifest,
    write_manifest_part,
    write_rejected,
    write_stats,
)
from curate.config import BuildConfig, SplitConfig
from curate.errors import UsageError
from curate.features import model_fields
from curate.layout import INFO_FILE, STAGING_DIR, manifest_part_file
from curate.models.config import NearDuplicatesConfig
from curate.near_duplicates import NEAR_DUPLICATES, NearDuplicateConfig, RejectNearDuplicates
from curate.process import ProcessUtterances, StagedExample
from curate.records import Rejection
from curate.shards import DUPLICATES, DedupeAudio, ShardResult, WriteShards, assign_split
from curate.sources import REJECTED as SOURCE_REJECTED
from curate.sources import UTTERANCES, ReadSources

__all__ = ["BuildDataset", "prepare_output", "read_info"]

# What check_models says of the enabled signal models, for dataset_info.json and the card:
# model name -> its identity (curate.models.records.ModelInfo.to_dict(): id, version, sha256).
ModelsInfo = Mapping[str, Mapping[str, Any]]


def _with_split(example: StagedExample, splits: SplitConfig) -> tuple[str, StagedExample]:
    return assign_split(example, splits), example


def _write_manifest_part(result: ShardResult, output_dir: str,
                         fields: tuple[str, ...]) -> tuple[ShardResult, str]:
    """A shard's manifest rows go to a staging file here, so that no worker ever holds the
    rows of a whole split; the merge reads the parts back one at a time. Returns the shard's
    result without its rows and the part's path."""
    dest = fsio.join(output_dir, manifest_part_file(result.split, result.index))
    return dataclasses.replace(result, rows=()), write_manifest_part(dest, result.rows, fields)


def _part_by_split(result: ShardResult, part: str) -> tuple[str, tuple[int, str]]:
    return result.split, (result.index, part)


def _shard_of_part(result: ShardResult, _part: str) -> ShardResult:
    return result


def _merge_manifest(item: tuple[str, Iterable[tuple[int, str]]], output_dir: str,
                    fields: tuple[str, ...]) -> tuple[str, SplitManifest]:
    split, parts = item
    tables = (read_manifest_part(path) for _, path in sorted(parts))
    return split, merge_manifest(output_dir, split, tables, fields)


def _finalize(
    _: None,
    *,
    output_dir: str,
    config: BuildConfig,
    models: ModelsInfo | None,
    model_calls: Mapping[str, int] | None = None,
    shards: Sequence[ShardResult],
    manifests: Sequence[tuple[str, SplitManifest]],
    rejections: Sequence[Rejection],
    read: int,
) -> str:
    """Write the build's own files once every shard is written, ``dataset_info.json`` last;
    remove the staging area. Returns the fingerprint."""
    by_split = dict(manifests)
    fields = model_fields(config.enabled_models)
    for split in config.splits.ratios:  # a split with no examples still gets its (empty) manifest
        if split not in by_split:
            by_split[split] = write_manifest(output_dir, split, [], fields)
    by_reason = Counter(r.reason.value for r in rejections)
    counts = count_inputs(read, by_split, by_reason)  # AccountingError before anything else
    rejected = write_rejected(output_dir, rejections)
    splits, files = split_entries(config, by_split, shards)
    stats, stats_file = write_stats(output_dir, config, by_split)
    card_file = write_card(output_dir, config=config, counts=counts,
                           rejections_by_reason=by_reason, stats=stats, models=models)
    for f in (rejected, stats_file, card_file):
        files[f.path] = {"sha256": f.sha256, "size_bytes": f.size_bytes}
    info = write_info(output_dir, config=config, splits=splits, files=files, counts=counts,
                      rejections_by_reason=by_reason, models=models,
                      model_calls=_calls(config, model_calls))
    staging = fsio.join(output_dir, STAGING_DIR)
    if fsio.holds_files(staging):
        fsio.delete_tree(staging)
    return info["fingerprint"]


def _calls(config: BuildConfig, counted: Mapping[str, int] | None) -> dict[str, int] | None:
    """Inputs sent to each enabled model, in cascade order (0 for a model nothing reached)."""
    if not config.enabled_models:
        return None
    counted = counted or {}
    return {name: int(counted.get(name, 0)) for name in config.enabled_models}


def _near_duplicate_config(cfg: NearDuplicatesConfig) -> NearDuplicateConfig:
    return NearDuplicateConfig(min_similarity=cfg.min_similarity, min_overlap=cfg.min_overlap,
                               min_votes=cfg.min_votes, max_bucket=cfg.max_bucket)


def _count_progress(out: str, sources: Any, examples: Any, rejected: Any, parts: Any) -> None:
    """Branches that count inputs done and shards written (ReadSources counts the inputs
    listed). Each reads the very output of the step it counts (no Flatten in between), so that
    the runner fuses it into that step's stage and it counts while the step runs, not after."""
    from curate.build_progress import CountStep, Step

    source_rejected = sources[SOURCE_REJECTED]
    _ = source_rejected | "CountDoneAtSource" >> CountStep(out, Step.DONE)  # Rejection
    _ = examples | "CountDone" >> CountStep(out, Step.DONE)  # StagedExample
    _ = rejected | "CountDoneRejected" >> CountStep(out, Step.DONE)  # Rejection
    _ = parts | "CountWritten" >> CountStep(out, Step.WRITTEN)  # (ShardResult, part path)


class BuildDataset(beam.PTransform):
    """Applied to a pipeline root: builds ``config`` into ``output_dir``; outputs the fingerprint.

    ``models`` describes the enabled signal models for ``dataset_info.json`` (what
    ``curate.models.transform.check_models`` returns; a WER means nothing without its model).
    With ``progress``, the steps count what they have done for the launcher
    (:mod:`curate.build_progress`); the counting changes nothing the build writes."""

    def __init__(self, config: BuildConfig, output_dir: str,
                 models: ModelsInfo | None = None, *, progress: bool = False) -> None:
        super().__init__()
        self._config = config
        self._output = output_dir.rstrip("/")
        self._models = models or None
        self._progress = progress

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        cfg, out = self._config, self._output
        fields = model_fields(cfg.enabled_models)
        sources = pbegin | "ReadSources" >> ReadSources(
            cfg.sources, progress_dir=out if self._progress else None)
        utterances = sources[UTTERANCES]  # Utterance; sources[SOURCE_REJECTED]: Rejection
        examples, processing_rejected, calls = utterances | "ProcessUtterances" >> ProcessUtterances(
            cfg.audio, cfg.filters, out, cfg.signals
        )  # StagedExample, Rejection, (model, inputs) or None
        deduped = examples | "DedupeAudio" >> DedupeAudio()  # unique, DUPLICATES: Rejection
        unique, dedupe_rejected = deduped.unique, [deduped[DUPLICATES]]
        if cfg.signals is not None and cfg.signals.near_duplicates.enabled:
            near = unique | "NearDuplicates" >> RejectNearDuplicates(
                _near_duplicate_config(cfg.signals.near_duplicates)
            )  # kept: StagedExample, NEAR_DUPLICATES: Rejection
            unique = near.kept
            dedupe_rejected.append(near[NEAR_DUPLICATES])
        parts = (
            unique
            | "AssignSplit" >> beam.Map(_with_split, cfg.splits)  # (split, StagedExample)
            | "WriteShards" >> WriteShards(out, cfg.name, cfg.shards, progress=self._progress)
            | "WriteManifestParts" >> beam.Map(_write_manifest_part, out, fields)
        )  # (ShardResult without rows, part path)
        manifests = (
            parts
            | "KeyBySplit" >> beam.MapTuple(_part_by_split)  # (split, (shard index, part path))
            | "GroupBySplit" >> beam.GroupByKey()  # (split, [(shard index, part path)])
            | "MergeManifest" >> beam.Map(_merge_manifest, out, fields)  # (split, SplitManifest)
        )
        shards = parts | "ShardFiles" >> beam.MapTuple(_shard_of_part)  # ShardResult
        rejections = (
            (sources[SOURCE_REJECTED], processing_rejected, *dedupe_rejected)
            | "AllRejections" >> beam.Flatten()
        )  # Rejection
        read = (
            (utterances, sources[SOURCE_REJECTED])
            | "AllInputs" >> beam.Flatten()
            | "CountRead" >> beam.combiners.Count.Globally()
        )  # int: every input, once
        if self._progress:
            _count_progress(out, sources, examples, processing_rejected, parts)
        extra = {}
        if calls is not None:
            extra["model_calls"] = beam.pvalue.AsDict(calls)
        return (
            pbegin
            | "Once" >> beam.Create([None])
            | "Finalize" >> beam.Map(
                _finalize,
                output_dir=out,
                config=cfg,
                models=self._models,
                shards=beam.pvalue.AsList(shards),
                manifests=beam.pvalue.AsList(manifests),
                rejections=beam.pvalue.AsList(rejections),
                read=beam.pvalue.AsSingleton(read),
                **extra,
            )
        )  # the fingerprint


def prepare_output(output_dir: str, *, overwrite: bool = False) -> None:
    """Refuse to build over an existing build or other files unless asked; clear the leftovers
    of a build that died (it has a staging dir but no ``dataset_info.json``)."""
    root = output_dir.rstrip("/")
    empty = not fsio.holds_files(root)
    if empty and not fsio.exists(root):
        return
    finished = fsio.exists(fsio.join(root, INFO_FILE))
    leftover = not finished and fsio.holds_files(fsio.join(root, STAGING_DIR))
    if not (overwrite or leftover or empty):
        what = "already holds a build" if finished else "exists and is not empty"
        raise UsageError(f"{output_dir}: {what} (use --overwrite to replace it)")
    if fsio.exists(root) or not empty:
        fsio.delete_tree(root)


def read_info(output_dir: str) -> dict[str, Any]:
    """The parsed ``dataset_info.json`` of a finished build."""
    with fsio.open_read(fsio.join(output_dir.rstrip("/"), INFO_FILE)) as f:
        return json.loads(f.read())
