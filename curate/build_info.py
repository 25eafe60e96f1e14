"""The build directory's own files: manifests, ``rejected.parquet``, ``stats.json`` and, last,
``dataset_info.json`` with the fingerprint. A build is complete when ``dataset_info.json`` exists.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.card import render_card
from curate.config import BuildConfig
from curate.features import feature_spec, model_fields
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

__all__ = [
    "MANIFEST_SCHEMA",
    "REJECTED_SCHEMA",
    "SCHEMA_VERSION",
    "code_version",
    "manifest_schema",
    "manifest_table",
    "merge_manifest",
    "read_manifest_part",
    "write_info",
    "write_manifest",
    "write_manifest_part",
    "write_rejected",
]

SCHEMA_VERSION = 1

MANIFEST_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("speaker", pa.string()),
        ("text", pa.string()),
        ("shard", pa.int32()),
        ("position", pa.int64()),
        ("duration_s", pa.float64()),
        ("num_samples", pa.int64()),
        ("sample_rate_hz", pa.int32()),
        ("audio_sha256", pa.string()),
        ("pcm_sha256", pa.string()),
        ("source_uri", pa.string()),
        ("audio_uri", pa.string()),
        *[(name, pa.float64()) for name in SIGNAL_FIELDS if name != "duration_s"],
    ]
)

REJECTED_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("key", "source_uri", "audio_uri", "stage", "reason", "detail")]
)


_ARROW_TYPES = {"string": pa.string(), "int64": pa.int64(), "float32": pa.float64()}


def manifest_schema(model_signal_fields: Sequence[str] = ()) -> pa.Schema:
    """``MANIFEST_SCHEMA`` plus a column per model-signal field of the build's enabled models."""
    spec = feature_spec(model_signal_fields)
    extra = [(name, _ARROW_TYPES[spec[name]["dtype"]]) for name in model_signal_fields]
    return pa.schema([*MANIFEST_SCHEMA, *extra])


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
                        model_signal_fields: Sequence[str] = ()) -> str:  # fmt: skip
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
) -> tuple[WrittenFile, dict[str, Any]]:
    """Write ``manifest/<split>.parquet`` from ``parts`` in order (one row group each), holding
    one part at a time; returns (file, split summary). The build gives one part per shard in
    shard order, so row i of the manifest is the i-th example read from the split's shards."""
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
    return _relative(written, rel), summarizer.summary()


def write_manifest(
    output_dir: str,
    split: str,
    rows: Iterable[Mapping[str, Any]],
    model_signal_fields: Sequence[str] = (),
) -> tuple[WrittenFile, dict[str, Any]]:
    """Write ``manifest/<split>.parquet`` from rows in the order given; returns (file, summary)."""
    table = manifest_table(rows, model_signal_fields)
    return merge_manifest(output_dir, split, [table], model_signal_fields)


def write_rejected(output_dir: str, rejections: Iterable[Rejection]) -> WrittenFile:
    rows = sorted((r.to_dict() for r in rejections), key=lambda r: (r["key"], r["reason"], r["source_uri"]))
    table = pa.table({f.name: [r[f.name] for r in rows] for f in REJECTED_SCHEMA}, schema=REJECTED_SCHEMA)
    written = write_bytes(join(output_dir, REJECTED_FILE), _parquet_bytes(table))
    return _relative(written, REJECTED_FILE)


def _relative(written: WrittenFile, rel: str) -> WrittenFile:
    return WrittenFile(path=rel, sha256=written.sha256, size_bytes=written.size_bytes)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_info(
    output_dir: str,
    *,
    config: BuildConfig,
    shards: Iterable[Any],  # curate.shards.ShardResult
    manifests: Mapping[str, tuple[WrittenFile, dict[str, Any]]],
    rejected: WrittenFile,
    rejections_by_reason: Mapping[str, int],
    read: int,
    models: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``stats.json`` then ``dataset_info.json``; checks the accounting identity."""
    files: dict[str, dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    for split in config.splits.ratios:
        manifest, summary = manifests[split]
        files[manifest.path] = {"sha256": manifest.sha256, "size_bytes": manifest.size_bytes}
        splits[split] = {
            "num_examples": summary["num_examples"],
            "duration_s": summary["duration_s"],
            "num_speakers": summary["num_speakers"],
            "shards": {fmt.value: [] for fmt in config.shards.formats},
        }
    for result in sorted(shards, key=lambda r: (r.split, r.index)):
        for fmt, f in result.files:
            files[f.path] = {"sha256": f.sha256, "size_bytes": f.size_bytes}
            splits[result.split]["shards"][fmt.value].append(
                {"path": f.path, "sha256": f.sha256, "size_bytes": f.size_bytes,
                 "num_examples": result.num_examples}
            )
    files[rejected.path] = {"sha256": rejected.sha256, "size_bytes": rejected.size_bytes}
    stats = {"splits": {s: manifests[s][1] for s in config.splits.ratios}}
    stats_file = write_bytes(join(output_dir, STATS_FILE), _json_bytes(stats))
    files[STATS_FILE] = {"sha256": stats_file.sha256, "size_bytes": stats_file.size_bytes}
    accepted = sum(s["num_examples"] for s in splits.values())
    rejected_total = sum(rejections_by_reason.values())
    if accepted + rejected_total != read:
        raise RuntimeError(
            f"accounting broken: accepted {accepted} + rejected {rejected_total} != read {read}"
        )
    counts = {"read": read, "accepted": accepted, "rejected": rejected_total}
    card = render_card(name=config.name, counts=counts, rejected_by_reason=rejections_by_reason,
                       stats=stats, audio=config.resolved()["audio"], models=models)
    card_file = write_bytes(join(output_dir, CARD_FILE), card.encode())
    files[CARD_FILE] = {"sha256": card_file.sha256, "size_bytes": card_file.size_bytes}

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
        "feature_spec": feature_spec(model_fields(models or {})),
        "counts": counts,
        "rejected_by_reason": dict(sorted(rejections_by_reason.items())),
        "splits": splits,
        "files": dict(sorted(files.items())),
    }
    if models:
        info["models"] = dict(models)  # name -> model id, version, files' sha256
    write_bytes(join(output_dir, INFO_FILE), _json_bytes(info))
    return info
