"""The build: sources -> process -> dedupe -> split -> shards -> build directory.

``BuildDataset`` is the whole flow as one Beam transform. :func:`curate.launch.run_build` runs it
with the given pipeline options and returns the parsed ``dataset_info.json``; ``curate build``
and ``python -m pipelines.asr_dataset`` call that.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

import apache_beam as beam

from curate import fsio
from curate.build_info import (
    merge_manifest,
    read_manifest_part,
    write_info,
    write_manifest,
    write_manifest_part,
    write_rejected,
)
from curate.config import BuildConfig
from curate.errors import UsageError
from curate.features import model_fields
from curate.layout import INFO_FILE, STAGING_DIR, manifest_part_file
from curate.process import ProcessUtterances
from curate.shards import DUPLICATES, DedupeAudio, ShardResult, WriteShards, assign_split
from curate.sources import REJECTED as SOURCE_REJECTED
from curate.sources import ReadSources

__all__ = ["BuildDataset", "prepare_output", "read_info"]


def _write_manifest_part(result: ShardResult, output_dir: str, fields: tuple[str, ...]):
    """A shard's manifest rows go to a staging file here, so that no worker ever holds the
    rows of a whole split; the merge reads the parts back one at a time. Returns the shard's
    result without its rows and the part's path."""
    dest = fsio.join(output_dir, manifest_part_file(result.split, result.index))
    return dataclasses.replace(result, rows=()), write_manifest_part(dest, result.rows, fields)


def _merge_manifest(item, output_dir: str, fields: tuple[str, ...]):
    split, parts = item  # parts: [(shard index, part path)]
    tables = (read_manifest_part(path) for _, path in sorted(parts))
    return split, merge_manifest(output_dir, split, tables, fields)


def _finalize(_, *, output_dir, config, models, shards, manifests, rejections, read):
    manifests = dict(manifests)
    for split in config.splits.ratios:  # a split with no examples still gets its (empty) manifest
        if split not in manifests:
            manifests[split] = write_manifest(output_dir, split, [],
                                              model_fields(config.enabled_models))
    rejected = write_rejected(output_dir, rejections)
    by_reason = Counter(r.reason.value for r in rejections)
    info = write_info(
        output_dir,
        config=config,
        shards=shards,
        manifests=manifests,
        rejected=rejected,
        rejections_by_reason=by_reason,
        read=read,
        models=models,
    )
    staging = fsio.join(output_dir, STAGING_DIR)
    if fsio.holds_files(staging):
        fsio.delete_tree(staging)
    return info["fingerprint"]


class BuildDataset(beam.PTransform):
    """Applied to a pipeline root: builds ``config`` into ``output_dir``; outputs the fingerprint.

    ``models`` describes the enabled signal models for ``dataset_info.json`` (what
    ``curate.models.transform.check_models`` returns; a WER means nothing without its model)."""

    def __init__(self, config: BuildConfig, output_dir: str,
                 models: dict[str, Any] | None = None) -> None:  # fmt: skip
        super().__init__()
        self._config = config
        self._output = output_dir.rstrip("/")
        self._models = models or None

    def expand(self, pbegin):
        cfg, out = self._config, self._output
        fields = model_fields(cfg.enabled_models)
        sources = pbegin | "ReadSources" >> ReadSources(cfg.sources)
        utterances = sources.utterances
        examples, processing_rejected = utterances | "ProcessUtterances" >> ProcessUtterances(
            cfg.audio, cfg.filters, out, cfg.signals
        )
        deduped = examples | "DedupeAudio" >> DedupeAudio()
        shards = (
            deduped.unique
            | "AssignSplit" >> beam.Map(lambda e: (assign_split(e, cfg.splits), e))  # (split, example)
            | "WriteShards" >> WriteShards(out, cfg.name, cfg.shards)  # ShardResult
        )
        parts = shards | "WriteManifestParts" >> beam.Map(
            _write_manifest_part, out, fields
        )  # (ShardResult without rows, part path)
        manifests = (
            parts
            | "KeyBySplit" >> beam.MapTuple(lambda r, part: (r.split, (r.index, part)))
            | "GroupBySplit" >> beam.GroupByKey()  # (split, [(shard index, part path)])
            | "MergeManifest" >> beam.Map(_merge_manifest, out, fields)  # (split, (file, summary))
        )
        rejections = (
            sources[SOURCE_REJECTED],
            processing_rejected,
            deduped[DUPLICATES],
        ) | "AllRejections" >> beam.Flatten()
        read = (
            (utterances, sources[SOURCE_REJECTED])
            | "AllInputs" >> beam.Flatten()
            | "CountRead" >> beam.combiners.Count.Globally()
        )
        return (
            pbegin
            | "Once" >> beam.Create([None])
            | "Finalize"
            >> beam.Map(
                _finalize,
                output_dir=out,
                config=cfg,
                models=self._models,
                shards=beam.pvalue.AsList(parts | "ShardFiles" >> beam.MapTuple(lambda r, _: r)),
                manifests=beam.pvalue.AsList(manifests),
                rejections=beam.pvalue.AsList(rejections),
                read=beam.pvalue.AsSingleton(read),
            )
        )


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
