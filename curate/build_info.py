"""The build directory's own files: manifests, ``rejected.parquet``, ``stats.json``,
``CARD.md`` and, last, ``dataset_info.json`` with the fingerprint. A build is complete when
``dataset_info.json`` exists. One function per file; :func:`count_inputs` checks the
accounting identity before any of the last three is written.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from curate.card import render_card
from curate.config import BuildConfig
from curate.errors import AccountingError
from curate.features import FEATURE_SPEC, feature_spec, model_fields
from curate.fsio import WrittenFile, join, local_tmp_for, open_read, publish_file, write_bytes
from curate.layout import (
    CARD_FILE,
    INFO_FILE,
    REJECTED_FILE,
    SCHEMA_VERSION,
    STATS_FILE,
    fingerprint,
    manifest_file,
)
from curate.provenance import byte_dependencies
from curate.records import SIGNAL_FIELDS, Rejection
from curate.stats import BINS, SplitSummarizer

if TYPE_CHECKING:
    from curate.shards import ShardResult

__all__ = [
    "MANIFEST_SCHEMA",
    "REJECTED_SCHEMA",
    "SCHEMA_VERSION",
    "Counts",
    "SplitManifest",
    "code_version",
    "count_inputs",
    "manifest_schema",
    "rejected_schema",
    "manifest_table",
    "merge_manifest",
    "read_manifest_part",
    "split_entries",
    "write_card",
    "write_info",
    "write_info_file",
    "write_manifest",
    "write_manifest_part",
    "write_rejected",
    "write_stats",
]

# A feature's column has the feature's own type: a manifest value is the value in the shards.
_ARROW_TYPES = {"string": pa.string(), "int64": pa.int64(), "float32": pa.float32()}


def _feature_column(name: str) -> tuple[str, pa.DataType]:
    return name, _ARROW_TYPES[FEATURE_SPEC[name]["dtype"]]


MANIFEST_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("speaker", pa.string()),
        ("text", pa.string()),
        ("shard", pa.int32()),
        ("position", pa.int64()),
        _feature_column("duration_s"),
        ("num_samples", pa.int64()),
        ("sample_rate_hz", pa.int32()),
        ("audio_sha256", pa.string()),
        ("pcm_sha256", pa.string()),
        ("source_uri", pa.string()),
        ("audio_uri", pa.string()),
        *[_feature_column(name) for name in SIGNAL_FIELDS if name != "duration_s"],
        # What a build on this one matches to carry an example over (curate.carry):
        ("start_s", pa.float64()),  # the segment of the source file; end_s null: to its end
        ("end_s", pa.float64()),
        ("source_fingerprint", pa.string()),  # curate.inputs
        ("input_sha256", pa.string()),  # curate.records.Utterance.input_sha256
        ("settings_sha256", pa.string()),  # curate.settings
        ("example_sha256", pa.string()),  # of the serialised Example in the shards
        ("record_bytes", pa.int64()),  # its length
    ]
)

# Null in a row that lacks them (a manifest written without source files, as test fixtures
# are): such an example never matches an input, so a build on it processes that input again.
_CARRY_COLUMNS = frozenset({"start_s", "end_s", "source_fingerprint", "input_sha256",
                            "settings_sha256", "example_sha256", "record_bytes"})
_SIGNAL_COLUMNS = [("pcm_sha256", pa.string()), *[_feature_column(n) for n in SIGNAL_FIELDS]]
REJECTED_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("key", "source_uri", "audio_uri", "stage", "reason", "detail",
                                      "source_fingerprint", "input_sha256", "settings_sha256")]
    + _SIGNAL_COLUMNS  # as measured before the rejection; null when not measured
)
REJECTED_ROW_GROUP = 50_000  # rows; a build on this one reads rejected.parquet a group at a time


def manifest_schema(model_signal_fields: Sequence[str] = ()) -> pa.Schema:
    """``MANIFEST_SCHEMA`` plus a column per model-signal field of the build's enabled models."""
    spec = feature_spec(model_signal_fields)
    extra = [(name, _ARROW_TYPES[spec[name]["dtype"]]) for name in model_signal_fields]
    return pa.schema([*MANIFEST_SCHEMA, *extra])


def rejected_schema(model_signal_fields: Sequence[str] = ()) -> pa.Schema:
    """``REJECTED_SCHEMA`` plus a column per model-signal field of the build's enabled models
    (null for an input rejected before the models ran)."""
    spec = feature_spec(model_signal_fields)
    extra = [(name, _ARROW_TYPES[spec[name]["dtype"]]) for name in model_signal_fields]
    return pa.schema([*REJECTED_SCHEMA, *extra])


class SplitManifest(NamedTuple):
    """A split's merged manifest: the file (path relative to the build) and the split's
    summary (examples, speakers, hours, per-signal statistics: what ``stats.json`` holds)."""

    file: WrittenFile
    summary: dict[str, Any]


def code_version() -> str:
    try:
        return f"curate-speech {metadata.version('curate-speech')}"
    except metadata.PackageNotFoundError:
        return "curate-speech (not installed)"


def _parquet_bytes(table: pa.Table, row_group_size: int | None = None) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", row_group_size=row_group_size)
    return buf.getvalue()


def manifest_table(
    rows: Iterable[Mapping[str, Any]], model_signal_fields: Sequence[str] = ()
) -> pa.Table:
    """Manifest rows, in the order given, as a table of the build's manifest schema."""
    rows = list(rows)
    schema = manifest_schema(model_signal_fields)
    return pa.table({f.name: [r[f.name] if f.name not in _CARRY_COLUMNS else r.get(f.name)
                              for r in rows] for f in schema}, schema=schema)


def write_manifest_part(dest: str, rows: Iterable[Mapping[str, Any]],
                        model_signal_fields: Sequence[str] = ()) -> str:
    """Write one shard's manifest rows to ``dest`` (a staging file merged by
    :func:`merge_manifest`); returns ``dest``."""
    return write_bytes(dest, _parquet_bytes(manifest_table(rows, model_signal_fields))).path


def read_manifest_part(path: str) -> pa.Table:
    with open_read(path) as f:
        return pq.read_table(pa.BufferReader(f.read()))


def merge_manifest(
    output_dir: str,
    split: str,
    parts: Iterable[pa.Table],
    model_signal_fields: Sequence[str] = (),
) -> SplitManifest:
    """Write ``manifest/<split>.parquet`` from ``parts`` in order (one row group each), holding
    one part at a time; returns the file and the split's summary. The build gives one part
    per shard in shard order, so row i of the manifest is the i-th example read from the
    split's shards."""
    schema = manifest_schema(model_signal_fields)
    rel = manifest_file(split)
    dest = join(output_dir, rel)
    summarizer = SplitSummarizer()
    tmp = local_tmp_for(dest)
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for part in parts:
                if part.num_rows == 0:
                    continue
                part = part.select(schema.names).cast(schema)
                writer.write_table(part)
                summarizer.add({name: part.column(name).to_numpy(zero_copy_only=False)
                                for name in ("key", "speaker", *BINS) if name in schema.names})
        written = publish_file(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return SplitManifest(file=_relative(written, rel), summary=summarizer.summary())


def write_manifest(
    output_dir: str,
    split: str,
    rows: Iterable[Mapping[str, Any]],
    model_signal_fields: Sequence[str] = (),
) -> SplitManifest:
    """Write ``manifest/<split>.parquet`` from rows in the order given."""
    table = manifest_table(rows, model_signal_fields)
    return merge_manifest(output_dir, split, [table], model_signal_fields)


def write_rejected(output_dir: str, rejections: Iterable[Rejection],
                   model_signal_fields: Sequence[str] = ()) -> WrittenFile:
    """Write ``rejected.parquet``: one row per rejected input, sorted by key, in row groups of
    :data:`REJECTED_ROW_GROUP` rows."""
    rows = sorted((r.to_dict() for r in rejections),
                  key=lambda r: (r["key"], r["reason"], r["source_uri"]))
    schema = rejected_schema(model_signal_fields)
    table = pa.table({f.name: [r.get(f.name) for r in rows] for f in schema}, schema=schema)
    written = write_bytes(join(output_dir, REJECTED_FILE),
                          _parquet_bytes(table, REJECTED_ROW_GROUP))
    return _relative(written, REJECTED_FILE)


def _relative(written: WrittenFile, rel: str) -> WrittenFile:
    return WrittenFile(path=rel, sha256=written.sha256, size_bytes=written.size_bytes)


def _json_bytes(data: Any) -> bytes:
    # allow_nan=False: a build never writes NaN or Infinity (strict JSON readers refuse them)
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode()


@dataclass(frozen=True, kw_only=True, slots=True)
class Counts:
    """What happened to the build's inputs: ``accepted + rejected == read``, always. Of the
    inputs that were not rejected by their source: ``carried`` were decided from a base
    version's records (no decode), ``processed`` were decoded; ``removed``: the base's
    examples with no input any more (not read, so in neither)."""

    read: int
    accepted: int
    rejected: int
    carried: int = 0
    processed: int = 0
    removed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"read": self.read, "accepted": self.accepted, "rejected": self.rejected,
                "carried": self.carried, "processed": self.processed, "removed": self.removed}


def count_inputs(read: int, manifests: Mapping[str, SplitManifest],
                 rejections_by_reason: Mapping[str, int], *, carried: int = 0,
                 processed: int | None = None, removed: int = 0,
                 source_rejected: int | None = None) -> Counts:
    """The build's counts; :class:`AccountingError` naming them when an input was lost or
    counted twice (a bug: every input is accepted into one manifest or rejected once, and
    every input its source did not reject was carried or processed, once)."""
    accepted = sum(m.summary["num_examples"] for m in manifests.values())
    rejected = sum(rejections_by_reason.values())
    if accepted + rejected != read:
        raise AccountingError(read=read, accepted=accepted, rejected=rejected)
    if processed is not None and source_rejected is not None:
        if carried + processed + source_rejected != read:
            raise AccountingError(read=read, accepted=accepted, rejected=rejected,
                                  carried=carried, processed=processed,
                                  source_rejected=source_rejected)
    return Counts(read=read, accepted=accepted, rejected=rejected, carried=carried,
                  processed=processed or 0, removed=removed)


def _listed(f: WrittenFile, from_base: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"sha256": f.sha256, "size_bytes": f.size_bytes}
    if from_base:
        entry["base"] = True  # kept from the base version, which holds it
    return entry


def split_entries(
    config: BuildConfig, manifests: Mapping[str, SplitManifest], shards: Iterable[ShardResult]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``dataset_info.json``'s ``splits`` (examples, hours, speakers and every shard of each
    configured split, in shard order) and its ``files`` entries for the manifests and shards
    (a shard kept from the base version is marked ``"base": true``)."""
    files: dict[str, dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    for split in config.splits.ratios:
        manifest = manifests[split]
        files[manifest.file.path] = _listed(manifest.file)
        splits[split] = {
            "num_examples": manifest.summary["num_examples"],
            "duration_s": manifest.summary["duration_s"],
            "num_speakers": manifest.summary["num_speakers"],
            "shards": {fmt.value: [] for fmt in config.shards.formats},
        }
    for result in sorted(shards, key=lambda r: (r.split, r.index)):
        for fmt, f in result.files:
            files[f.path] = _listed(f, result.from_base)
            splits[result.split]["shards"][fmt.value].append(
                {"path": f.path, **_listed(f, result.from_base),
                 "num_examples": result.num_examples}
            )
    return splits, files


def write_stats(output_dir: str, config: BuildConfig,
                manifests: Mapping[str, SplitManifest]) -> tuple[dict[str, Any], WrittenFile]:
    """Write ``stats.json``: every configured split's summary. Returns it and the file."""
    stats = {"splits": {split: manifests[split].summary for split in config.splits.ratios}}
    written = write_bytes(join(output_dir, STATS_FILE), _json_bytes(stats))
    return stats, _relative(written, STATS_FILE)


def write_card(
    output_dir: str,
    *,
    config: BuildConfig,
    counts: Counts,
    rejections_by_reason: Mapping[str, int],
    stats: Mapping[str, Any],
    models: Mapping[str, Mapping[str, Any]] | None,
) -> WrittenFile:
    """Write ``CARD.md`` (:func:`curate.card.render_card`)."""
    card = render_card(name=config.name, counts=counts.to_dict(),
                       rejected_by_reason=rejections_by_reason, stats=stats,
                       audio=config.resolved()["audio"], models=models,
                       license=config.card.license if config.card else "unknown",
                       languages=config.languages)
    return _relative(write_bytes(join(output_dir, CARD_FILE), card.encode()), CARD_FILE)


def write_info(
    output_dir: str,
    *,
    config: BuildConfig,
    splits: Mapping[str, Any],
    files: Mapping[str, Mapping[str, Any]],
    counts: Counts,
    rejections_by_reason: Mapping[str, int],
    models: Mapping[str, Mapping[str, Any]] | None = None,
    settings: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
    model_calls: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Write ``dataset_info.json``, last: the build is complete once it exists. ``files``: every
    other file of the build (path -> sha256, size; ``"base": true`` for a file kept from the
    base version, which holds it), which the fingerprint covers. ``settings``: the build's
    per-utterance settings (:mod:`curate.settings`); ``base``: the version this build was made
    on (ref, commit, fingerprint, how it was used), or None."""
    from curate.settings import settings_sha256

    info = {
        "name": config.name,
        "schema_version": SCHEMA_VERSION,
        "base": dict(base) if base else None,
        "settings": dict(settings or {}),
        "settings_sha256": settings_sha256(settings or {}),
        "fingerprint": fingerprint(files),
        "config": config.resolved(),
        "config_hash": config.config_hash(),
        "code_version": code_version(),
        # every library whose version can change the bytes (libFLAC, soxr, numpy…): what
        # `curate reproduce` compares when a rebuild differs
        "dependencies": byte_dependencies(),
        "audio_codec": config.audio.codec.value,
        "sample_rate_hz": config.audio.sample_rate_hz,
        "channels": config.audio.channels,
        "feature_spec": feature_spec(model_fields(config.enabled_models)),
        "counts": counts.to_dict(),
        "rejected_by_reason": dict(sorted(rejections_by_reason.items())),
        "splits": dict(splits),
        "files": dict(sorted(files.items())),
    }
    if models:
        info["models"] = dict(models)  # name -> model id, version, files' sha256
    if model_calls is not None:
        info["model_calls"] = dict(model_calls)  # name -> inputs the cascade sent to it
    return write_info_file(output_dir, info)


def write_info_file(output_dir: str, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``info`` as the build's ``dataset_info.json`` (last: the build is complete once it
    exists); returns it."""
    write_bytes(join(output_dir, INFO_FILE), _json_bytes(info))
    return info
