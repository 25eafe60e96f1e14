"""The build directory's own files: manifests, ``rejected.parquet``, ``stats.json``,
``CARD.md`` and, last, ``dataset_info.json`` with the fingerprint. A build is complete when
``dataset_info.json`` exists. One function per file; :func:`count_inputs` checks the
accounting identity before any of the last three is written.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.card import render_card
from curate.config import BuildConfig
from curate.errors import AccountingError
from curate.features import FEATURE_SPEC, feature_spec, model_fields
from curate.fsio import WrittenFile, is_local, join, open_read, write_bytes
from curate.layout import (
    CARD_FILE,
    INFO_FILE,
    REJECTED_FILE,
    SCHEMA_VERSION,
    STATS_FILE,
    fingerprint,
    manifest_file,
    manifest_files,
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
    "code_version",
    "count_inputs",
    "manifest_schema",
    "rejected_schema",
    "manifest_table",
    "manifest_entry",
    "read_manifest",
    "split_entries",
    "write_card",
    "write_info",
    "write_info_file",
    "write_manifest",
    "summarize_manifest",
    "write_shard_manifest",
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


def code_version() -> str:
    try:
        return f"curate-speech {metadata.version('curate-speech')}"
    except metadata.PackageNotFoundError:
        return "curate-speech (not installed)"


def _parquet_bytes(table: pa.Table, row_group_size: int | None = None, **options: Any) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", row_group_size=row_group_size, **options)
    return buf.getvalue()


# A shard's manifest file holds one shard's rows (tens to a few thousand): what a small Parquet
# file spends is its footer. Without column statistics (min/max of every column, 64-character
# hashes included: nothing reads a shard's file by range), without the Arrow schema copy (the
# Parquet types read back as the same Arrow types) and without dictionaries (they only pay for
# many repeated values) a file is about 2.7x smaller (measured on the sample corpus's shards:
# 237 kB -> 86 kB for 41 examples in 17 files).
_MANIFEST_OPTIONS = {"write_statistics": False, "store_schema": False, "use_dictionary": False}


def manifest_table(
    rows: Iterable[Mapping[str, Any]], model_signal_fields: Sequence[str] = ()
) -> pa.Table:
    """Manifest rows, in the order given, as a table of the build's manifest schema."""
    rows = list(rows)
    schema = manifest_schema(model_signal_fields)
    return pa.table({f.name: [r[f.name] if f.name not in _CARRY_COLUMNS else r.get(f.name)
                              for r in rows] for f in schema}, schema=schema)


def write_shard_manifest(output_dir: str, split: str, index: int,
                         rows: Iterable[Mapping[str, Any]],
                         model_signal_fields: Sequence[str] = ()) -> WrittenFile:
    """Write shard ``index``'s manifest file (:func:`curate.layout.manifest_file`) from its
    rows in position order; returns it, its path relative to the build."""
    rel = manifest_file(split, index)
    table = manifest_table(rows, model_signal_fields)
    data = _parquet_bytes(table, **_MANIFEST_OPTIONS)
    return _relative(write_bytes(join(output_dir, rel), data), rel)


def manifest_entry(f: WrittenFile, num_examples: int, from_base: bool = False) -> dict[str, Any]:
    """A manifest file's entry in ``dataset_info.json``'s ``splits.<split>.manifest``."""
    return {"path": f.path, **_listed(f, from_base), "num_examples": num_examples}


def write_manifest(output_dir: str, split: str, rows: Iterable[Mapping[str, Any]],
                   model_signal_fields: Sequence[str] = ()
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write the manifest files of ``split`` from rows that name their ``shard`` (a file per
    shard, in shard order; the rows of each in the order given): their entries for
    ``splits.<split>.manifest`` and the split's summary. For builds made without the pipeline
    (test fixtures); the pipeline writes a shard's file as it writes the shard."""
    by_shard: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_shard.setdefault(int(row["shard"]), []).append(row)
    entries = []
    for index in sorted(by_shard):
        f = write_shard_manifest(output_dir, split, index, by_shard[index], model_signal_fields)
        entries.append(manifest_entry(f, len(by_shard[index])))
    return entries, summarize_manifest(join(output_dir, e["path"]) for e in entries)


_SUMMARY_COLUMNS = ("key", "speaker", *BINS)


def summarize_manifest(paths: Iterable[str]) -> dict[str, Any]:
    """A split's summary (what ``stats.json`` holds) from its manifest files, read one at a
    time and only the columns it needs."""
    summarizer = SplitSummarizer()
    for path in paths:
        with open_read(path) as f:
            parquet = pq.ParquetFile(f)
            names = [n for n in _SUMMARY_COLUMNS if n in parquet.schema_arrow.names]
            table = parquet.read(columns=names)
        summarizer.add({name: table.column(name).to_numpy(zero_copy_only=False)
                        for name in names})
    return summarizer.summary()


def read_manifest(info: Mapping[str, Any], split: str, source: Callable[[str], Any], *,
                  shard: int | None = None, **read_options: Any) -> pa.Table:
    """The manifest of ``split`` as one table in shard order (row ``i`` is the ``i``-th example
    read from the split's shards): every manifest file ``dataset_info.json`` (``info``) lists
    for it (:func:`curate.layout.manifest_files`), each opened by ``source(rel)`` (a path, URI
    or file-like object :func:`pyarrow.parquet.read_table` reads) and read one after another.
    A split with no examples gives an empty table of the build's manifest schema. ``shard``:
    only the file of the shard of that index (layout 2: the split's one file; select the
    shard's rows from it). ``read_options`` (``columns=…``) go to ``read_table``. The one
    reader of manifests: every part of the library that reads a split's manifest calls this."""
    rels = manifest_files(info, split)
    if shard is not None:
        own = manifest_file(split, shard)
        rels = [own] if own in rels else [r for r in rels if r.count("/") == 1]  # layout 2's
    tables = []
    for rel in rels:
        src = source(rel)
        if isinstance(src, str) and not is_local(src):
            with open_read(src) as f:
                tables.append(pq.read_table(pa.BufferReader(f.read()), **read_options))
        else:
            tables.append(pq.read_table(src, **read_options))
    if not tables:
        schema = manifest_schema([n for n in info.get("feature_spec", {})
                                  if n not in FEATURE_SPEC])
        columns = read_options.get("columns")
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        return schema.empty_table()
    return pa.concat_tables(tables, promote_options="default")


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


def count_inputs(read: int, summaries: Mapping[str, Mapping[str, Any]],
                 rejections_by_reason: Mapping[str, int], *, carried: int = 0,
                 processed: int | None = None, removed: int = 0,
                 source_rejected: int | None = None) -> Counts:
    """The build's counts; :class:`AccountingError` naming them when an input was lost or
    counted twice (a bug: every input is accepted into one manifest or rejected once, and
    every input its source did not reject was carried or processed, once)."""
    accepted = sum(int(m["num_examples"]) for m in summaries.values())
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
    config: BuildConfig, summaries: Mapping[str, Mapping[str, Any]],
    shards: Iterable[ShardResult]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``dataset_info.json``'s ``splits`` (examples, hours, speakers, every shard and every
    shard's manifest file of each configured split, in shard order) and its ``files`` entries
    for the shards and manifests (a file kept from the base version is marked
    ``"base": true``)."""
    files: dict[str, dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    for split in config.splits.ratios:
        summary = summaries[split]
        splits[split] = {
            "num_examples": summary["num_examples"],
            "duration_s": summary["duration_s"],
            "num_speakers": summary["num_speakers"],
            "shards": {fmt.value: [] for fmt in config.shards.formats},
            "manifest": [],
        }
    for result in sorted(shards, key=lambda r: (r.split, r.index)):
        for fmt, f in result.files:
            files[f.path] = _listed(f, result.from_base)
            splits[result.split]["shards"][fmt.value].append(
                {"path": f.path, **_listed(f, result.from_base),
                 "num_examples": result.num_examples}
            )
        files[result.manifest.path] = _listed(result.manifest, result.manifest_from_base)
        splits[result.split]["manifest"].append(
            manifest_entry(result.manifest, result.num_examples, result.manifest_from_base))
    return splits, files


def write_stats(output_dir: str, config: BuildConfig, summaries: Mapping[str, Mapping[str, Any]]
                ) -> tuple[dict[str, Any], WrittenFile]:
    """Write ``stats.json``: every configured split's summary. Returns it and the file."""
    stats = {"splits": {split: dict(summaries[split]) for split in config.splits.ratios}}
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
