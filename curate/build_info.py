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
    STATS_FILE,
    fingerprint,
    manifest_file,
)
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
    "manifest_table",
    "merge_manifest",
    "read_manifest_part",
    "split_entries",
    "write_card",
    "write_info",
    "write_manifest",
    "write_manifest_part",
    "write_rejected",
    "write_stats",
]

SCHEMA_VERSION = 1

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
    ]
)

REJECTED_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("key", "source_uri", "audio_uri", "stage", "reason", "detail")]
)


def manifest_schema(model_signal_fields: Sequence[str] = ()) -> pa.Schema:
    """``MANIFEST_SCHEMA`` plus a column per model-signal field of the build's enabled models."""
    spec = feature_spec(model_signal_fields)
    extra = [(name, _ARROW_TYPES[spec[name]["dtype"]]) for name in model_signal_fields]
    return pa.schema([*MANIFEST_SCHEMA, *extra])


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


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def manifest_table(
    rows: Iterable[Mapping[str, Any]], model_signal_fields: Sequence[str] = ()
) -> pa.Table:
    """Manifest rows, in the order given, as a table of the build's manifest schema."""
    rows = list(rows)
    schema = manifest_schema(model_signal_fields)
    return pa.table({f.name: [r[f.name] for r in rows] for f in schema}, schema=schema)


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


def write_rejected(output_dir: str, rejections: Iterable[Rejection]) -> WrittenFile:
    """Write ``rejected.parquet``: one row per rejected input, sorted by key."""
    rows = sorted((r.to_dict() for r in rejections), key=lambda r: (r["key"], r["reason"], r["source_uri"]))
    table = pa.table({f.name: [r[f.name] for r in rows] for f in REJECTED_SCHEMA}, schema=REJECTED_SCHEMA)
    written = write_bytes(join(output_dir, REJECTED_FILE), _parquet_bytes(table))
    return _relative(written, REJECTED_FILE)


def _relative(written: WrittenFile, rel: str) -> WrittenFile:
    return WrittenFile(path=rel, sha256=written.sha256, size_bytes=written.size_bytes)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True, kw_only=True, slots=True)
class Counts:
    """What happened to the build's inputs: ``accepted + rejected == read``, always."""

    read: int
    accepted: int
    rejected: int

    def to_dict(self) -> dict[str, int]:
        return {"read": self.read, "accepted": self.accepted, "rejected": self.rejected}


def count_inputs(read: int, manifests: Mapping[str, SplitManifest],
                 rejections_by_reason: Mapping[str, int]) -> Counts:
    """The build's counts; :class:`AccountingError` naming them when an input was lost or
    counted twice (a bug: every input is accepted into one manifest or rejected once)."""
    accepted = sum(m.summary["num_examples"] for m in manifests.values())
    rejected = sum(rejections_by_reason.values())
    if accepted + rejected != read:
        raise AccountingError(read=read, accepted=accepted, rejected=rejected)
    return Counts(read=read, accepted=accepted, rejected=rejected)


def _listed(f: WrittenFile) -> dict[str, Any]:
    return {"sha256": f.sha256, "size_bytes": f.size_bytes}


def split_entries(
    config: BuildConfig, manifests: Mapping[str, SplitManifest], shards: Iterable[ShardResult]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``dataset_info.json``'s ``splits`` (examples, hours, speakers and every shard of each
    configured split, in shard order) and its ``files`` entries for the manifests and shards."""
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
            files[f.path] = _listed(f)
            splits[result.split]["shards"][fmt.value].append(
                {"path": f.path, **_listed(f), "num_examples": result.num_examples}
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
    model_calls: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Write ``dataset_info.json``, last: the build is complete once it exists. ``files``: every
    other file of the build (path -> sha256, size), which the fingerprint covers."""
    info = {
        "name": config.name,
        "schema_version": SCHEMA_VERSION,
        "fingerprint": fingerprint(files),
        "config": config.resolved(),
        "config_hash": config.config_hash(),
        "code_version": code_version(),
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
    write_bytes(join(output_dir, INFO_FILE), _json_bytes(info))
    return info
