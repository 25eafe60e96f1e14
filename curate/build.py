"""The build: sources -> process -> dedupe -> split -> shards -> build directory.

``BuildDataset`` is the whole flow as one Beam transform. :func:`curate.launch.run_build` runs it
with the given pipeline options and returns the parsed ``dataset_info.json``; ``curate build``
and ``python -m pipelines.asr_dataset`` call that.

A build on a base version (a :class:`curate.base.BasePlan` in incremental mode) matches every
input with the base's records first (:class:`curate.carry.ClassifyInputs`): only the inputs
that are new, changed or newly passing a loosened bound are processed; the others are carried
over (their examples stay in the base's shards, which are kept unless they lost or changed an
example) or rejected from their recorded signals. A fresh build is the same flow with nothing
to match.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import apache_beam as beam

from curate import fsio
from curate.build_info import (
    count_inputs,
    split_entries,
    summarize_manifest,
    write_card,
    write_info,
    write_rejected,
    write_stats,
)
from curate.base import BasePlan
from curate.carry import CARRIED, HINTS, REMOVED, TOUCHED, CarriedExample, ClassifyInputs
from curate.carry import REJECTED as CARRIED_REJECTED
from curate.config import BuildConfig, SplitConfig
from curate.errors import Stage
from curate.features import model_fields
from curate.layout import INFO_FILE, STAGING_DIR
from curate.models.config import NearDuplicatesConfig
from curate.near_duplicates import NEAR_DUPLICATES, NearDuplicateConfig, RejectNearDuplicates
from curate.output_dir import prepare_output
from curate.plan import PlanShards
from curate.process import ProcessUtterances, StagedExample
from curate.records import BY_KEY, BY_SHARD, Rejection
from curate.settings import build_settings, settings_sha256
from curate.shard_writer import TOUCHED_MARK, Touched, WriteShards
from curate.shards import DUPLICATES, BaseAudio, DedupeAudio, ShardResult, assign_split
from curate.sources import REJECTED as SOURCE_REJECTED
from curate.sources import UTTERANCES, ReadSources

__all__ = ["BuildDataset", "prepare_output", "read_info"]

# What check_models says of the enabled signal models, for dataset_info.json and the card:
# model name -> its identity (curate.models.records.ModelInfo.to_dict(): id, version, sha256).
ModelsInfo = Mapping[str, Mapping[str, Any]]


def _with_split(example: StagedExample, splits: SplitConfig) -> tuple[str, StagedExample]:
    return assign_split(example, splits), example


def _manifest_by_split(result: ShardResult) -> tuple[str, tuple[int, str]]:
    return result.split, (result.index, result.manifest.path)


def _summarize_split(item: tuple[str, Iterable[tuple[int, str]]], output_dir: str
                     ) -> tuple[str, dict[str, Any]]:
    """A split's summary from its shards' manifest files, read one at a time: no worker holds
    the rows of a whole split."""
    split, files = item
    return split, summarize_manifest(fsio.join(output_dir, rel) for _, rel in sorted(files))


def _named(_: Any, name: str) -> str:
    return name


def _finalize(
    _: None,
    *,
    output_dir: str,
    config: BuildConfig,
    models: ModelsInfo | None,
    model_calls: Mapping[str, int] | None = None,
    shards: Sequence[ShardResult],
    summaries: Sequence[tuple[str, dict[str, Any]]],
    rejections: Sequence[Rejection],
    read: int,
    settings: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
    carry_counts: Mapping[str, int] | None = None,
) -> str:
    """Write the build's own files once every shard is written, ``dataset_info.json`` last;
    remove the staging area. Returns the fingerprint. ``carry_counts``: the inputs carried,
    processed and removed by a build on a base (a name counted 0 times is absent); None in a
    build without one, where every input its source did not reject was processed."""
    carried = removed = 0
    processed = None
    if carry_counts is not None:
        carried, removed = carry_counts.get("carried", 0), carry_counts.get("removed", 0)
        processed = carry_counts.get("processed", 0)
    by_split = dict(summaries)
    fields = model_fields(config.enabled_models)
    for split in config.splits.ratios:  # a split with no examples has no manifest file
        if split not in by_split:
            by_split[split] = summarize_manifest([])
    by_reason = Counter(r.reason.value for r in rejections)
    source_rejected = sum(1 for r in rejections if r.stage is Stage.SOURCE)
    counts = count_inputs(  # AccountingError before anything else
        read, by_split, by_reason, carried=carried, removed=removed,
        processed=read - source_rejected if processed is None else processed,
        source_rejected=source_rejected)
    rejected = write_rejected(output_dir, rejections, fields)
    splits, files = split_entries(config, by_split, shards)
    stats, stats_file = write_stats(output_dir, config, by_split)
    card_file = write_card(output_dir, config=config, counts=counts,
                           rejections_by_reason=by_reason, stats=stats, models=models)
    for f in (rejected, stats_file, card_file):
        files[f.path] = {"sha256": f.sha256, "size_bytes": f.size_bytes}
    info = write_info(output_dir, config=config, splits=splits, files=files, counts=counts,
                      rejections_by_reason=by_reason, models=models,
                      settings=settings, base=base,
                      model_calls=_calls(config, model_calls))
    staging = fsio.join(output_dir, STAGING_DIR)
    if fsio.holds_files(staging):
        fsio.delete_tree(staging)
    return info["fingerprint"]


def _carried_audio(example: CarriedExample) -> tuple[str, BaseAudio]:
    return example.pcm_sha256, BaseAudio(key=example.key, audio_uri=example.audio_uri)


def _carried_member(example: CarriedExample) -> tuple[tuple[str, int], CarriedExample]:
    return (example.split, example.shard), example


def _touched_member(shard: tuple[str, int]) -> tuple[tuple[str, int], Touched]:
    return shard, TOUCHED_MARK


def _calls(config: BuildConfig, counted: Mapping[str, int] | None) -> dict[str, int] | None:
    """Inputs sent to each enabled model, in cascade order (0 for a model nothing reached)."""
    if not config.enabled_models:
        return None
    counted = counted or {}
    return {name: int(counted.get(name, 0)) for name in config.enabled_models}


def _near_duplicate_config(cfg: NearDuplicatesConfig) -> NearDuplicateConfig:
    return NearDuplicateConfig(min_similarity=cfg.min_similarity, min_overlap=cfg.min_overlap,
                               min_votes=cfg.min_votes, max_bucket=cfg.max_bucket)


def _count_progress(out: str, sources: Any, examples: Any, rejected: Any, parts: Any,
                    carried: Sequence[Any] = ()) -> None:
    """Branches that count inputs done and shards written (ReadSources counts the inputs
    listed). Each reads the very output of the step it counts (no Flatten in between), so that
    the runner fuses it into that step's stage and it counts while the step runs, not after.
    ``carried``: a build on a base's inputs decided from the base's records (carried examples,
    carried rejections), done too."""
    from curate.build_progress import CountStep, Step

    source_rejected = sources[SOURCE_REJECTED]
    _ = source_rejected | "CountDoneAtSource" >> CountStep(out, Step.DONE)  # Rejection
    _ = examples | "CountDone" >> CountStep(out, Step.DONE)  # StagedExample
    _ = rejected | "CountDoneRejected" >> CountStep(out, Step.DONE)  # Rejection
    for i, decided in enumerate(carried):  # CarriedExample | Rejection
        _ = decided | f"CountDoneCarried{i}" >> CountStep(out, Step.DONE)
    _ = parts | "CountWritten" >> CountStep(out, Step.WRITTEN)  # ShardResult


class BuildDataset(beam.PTransform):
    """Applied to a pipeline root: builds ``config`` into ``output_dir``; outputs the fingerprint.

    ``models`` describes the enabled signal models for ``dataset_info.json`` (what
    ``curate.models.transform.check_models`` returns; a WER means nothing without its model).
    ``base``: how the build uses a base version (:func:`curate.base.plan_base`), or None.
    With ``progress``, the steps count what they have done for the launcher
    (:mod:`curate.build_progress`); the counting changes nothing the build writes."""

    def __init__(self, config: BuildConfig, output_dir: str,
                 models: ModelsInfo | None = None, base: BasePlan | None = None, *,
                 progress: bool = False) -> None:
        super().__init__()
        self._config = config
        self._output = output_dir.rstrip("/")
        self._models = models or None
        self._base = base
        self._progress = progress

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        cfg, out, plan = self._config, self._output, self._base
        fields = model_fields(cfg.enabled_models)
        settings_doc = build_settings(cfg, self._models)  # once, here: every worker stamps it
        settings = settings_sha256(settings_doc)
        sources = pbegin | "ReadSources" >> ReadSources(
            cfg.sources, progress_dir=out if self._progress else None)
        utterances = sources[UTTERANCES]  # Utterance; sources[SOURCE_REJECTED]: Rejection
        counted: dict[str, Any] = {}
        carried = None
        to_process = utterances
        rejected_parts = [sources[SOURCE_REJECTED]]
        if plan is not None and plan.incremental:
            classified = utterances | "ClassifyInputs" >> ClassifyInputs(plan, cfg, settings)
            to_process, carried = classified.to_process, classified[CARRIED]
            rejected_parts.append(classified[CARRIED_REJECTED])
            counted = {"carried": (carried, classified[CARRIED_REJECTED]),
                       "processed": (to_process,), "removed": (classified[REMOVED],)}
        examples, processing_rejected, calls = to_process | "ProcessUtterances" >> (
            ProcessUtterances(cfg.audio, cfg.filters, out, cfg.signals, settings)
        )  # StagedExample, Rejection, (model, inputs) or None
        against = None if carried is None else (
            carried | "CarriedAudio" >> beam.Map(_carried_audio).with_output_types(BY_KEY)
        )  # (pcm_sha256, BaseAudio)
        deduped = examples | "DedupeAudio" >> DedupeAudio(against)  # unique, DUPLICATES
        unique, dedupe_rejected = deduped.unique, [deduped[DUPLICATES]]
        if cfg.signals is not None and cfg.signals.near_duplicates.enabled:
            near = unique | "NearDuplicates" >> RejectNearDuplicates(
                _near_duplicate_config(cfg.signals.near_duplicates)
            )  # kept: StagedExample, NEAR_DUPLICATES: Rejection (among this build's new ones)
            unique = near.kept
            dedupe_rejected.append(near[NEAR_DUPLICATES])
        planned = (
            unique
            | "AssignSplit" >> beam.Map(_with_split, cfg.splits)  # (split, StagedExample)
            | "PlanShards" >> PlanShards(
                cfg.shards, first_free=plan.first_free() if carried is not None else None,
                hints=None if carried is None else classified[HINTS])
        )  # ((split, shard), StagedExample)
        members = planned
        if carried is not None:
            members = (
                planned,
                carried
                | "CarriedMembers" >> beam.Map(_carried_member).with_output_types(BY_SHARD),
                classified[TOUCHED]
                | "TouchedMembers" >> beam.Map(_touched_member).with_output_types(BY_SHARD),
            ) | "AllMembers" >> beam.Flatten()  # ((split, shard), member)
        shards = members | "WriteShards" >> WriteShards(
            out, cfg.name, cfg.shards,
            base_shards=plan.shard_table() if carried is not None else None,
            files=plan.files if carried is not None else None,
            progress=self._progress, model_signal_fields=fields)  # ShardResult
        summaries = (
            shards
            | "KeyBySplit" >> beam.Map(_manifest_by_split)  # (split, (index, manifest path))
            | "GroupBySplit" >> beam.GroupByKey()  # (split, [(index, manifest path)])
            | "SummarizeSplit" >> beam.Map(_summarize_split, out)  # (split, summary)
        )
        rejections = (
            (*rejected_parts, processing_rejected, *dedupe_rejected)
            | "AllRejections" >> beam.Flatten()
        )  # Rejection
        read = (
            (utterances, sources[SOURCE_REJECTED])
            | "AllInputs" >> beam.Flatten()
            | "CountRead" >> beam.combiners.Count.Globally()
        )  # int: every input, once
        counts = {}
        if counted:  # one count of every outcome's name, not one Count.Globally per outcome
            named = [pcoll | f"Name{name.title()}{i}" >> beam.Map(_named, name)
                     .with_output_types(str)  # one coder for every input of the Flatten
                     for name, pcolls in counted.items() for i, pcoll in enumerate(pcolls)]
            counts["carry_counts"] = beam.pvalue.AsDict(
                named | "AllOutcomes" >> beam.Flatten()
                | "CountOutcomes" >> beam.combiners.Count.PerElement())
        # carried, processed, removed (a build on a base): name -> count
        if self._progress:
            decided = () if carried is None else (carried, classified[CARRIED_REJECTED])
            _count_progress(out, sources, examples, processing_rejected, shards, decided)
        extra = dict(counts)
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
                settings=settings_doc,
                base=plan.record() if plan is not None else None,
                shards=beam.pvalue.AsList(shards),
                summaries=beam.pvalue.AsList(summaries),
                rejections=beam.pvalue.AsList(rejections),
                read=beam.pvalue.AsSingleton(read),
                **extra,
            )
        )  # the fingerprint


def read_info(output_dir: str) -> dict[str, Any]:
    """The parsed ``dataset_info.json`` of a finished build."""
    with fsio.open_read(fsio.join(output_dir.rstrip("/"), INFO_FILE)) as f:
        return json.loads(f.read())
