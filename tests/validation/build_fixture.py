"""Writes schema-valid build directories for the validation tests, without running a pipeline.

Only what validation reads is written: ``manifest/<split>.parquet`` (through
``curate.build_info.write_manifest``, one file per shard), ``rejected.parquet`` (``write_rejected``), ``stats.json``
and ``dataset_info.json`` with the sha256 of those files and the pipeline's fingerprint over
them (paths and fingerprint from :mod:`curate.layout`); no shards.
Everything comes from ``FixtureSpec`` and its seed, so the same spec writes the same bytes.

>>> import tempfile
>>> info = write_build(tempfile.mkdtemp(), FixtureSpec(examples={"train": 20, "test": 5}))
>>> info["counts"], sorted(info["splits"])
({'read': 30, 'accepted': 25, 'rejected': 5}, ['test', 'train'])
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.build_info import MANIFEST_SCHEMA, manifest_entry, write_manifest, write_rejected
from curate.errors import Reason, Stage
from curate.features import model_fields
from curate.fsio import WrittenFile
from curate.layout import INFO_FILE, STATS_FILE, fingerprint, manifest_file
from curate.records import Rejection
from curate.stats import summarize_split

__all__ = ["FixtureSpec", "Rows", "write_build"]

Row = dict[str, Any]
Rows = list[Row]
_WORDS = ("THE", "AND", "WATER", "LIGHT", "HOUSE", "MORNING", "SMALL", "THROUGH", "GARDEN", "ONE",
          "NEVER", "FATHER", "WINDOW", "STREET", "PEOPLE", "THOUGHT", "YOUNG", "WHITE")


@dataclass(frozen=True, kw_only=True, slots=True)
class FixtureSpec:
    """What a fixture build holds. Defaults pass ``asr_default``; see :data:`STRICT_OK` for a
    spec that passes ``asr_strict``."""

    name: str = "fixture"
    examples: Mapping[str, int] = field(
        default_factory=lambda: {"train": 80, "validation": 12, "test": 12}
    )
    speakers: Mapping[str, int] = field(
        default_factory=lambda: {"train": 8, "validation": 2, "test": 2}
    )
    median_duration_s: float = 4.0
    duration_scale: float = 1.0  # every duration times this (a shifted distribution)
    rejected: int = 5
    sample_rate_hz: int = 16000  # of the rows; the config always says 16000
    leak_speakers: int = 0  # this many train speakers also speak in the last split
    seed: int = 0
    enabled_models: tuple[str, ...] = ()  # signal models: their manifest columns are present


STRICT_OK = FixtureSpec(
    name="fixture-strict",
    examples={"train": 240, "validation": 200, "test": 200},
    speakers={"train": 12, "validation": 12, "test": 12},
    median_duration_s=12.0,
    rejected=10,
    enabled_models=("vad", "asr", "langid", "bandwidth", "dnsmos"),
)


def _split_rows(spec: FixtureSpec, split: str, index: int) -> Rows:
    rng = np.random.default_rng([spec.seed, index])
    n, n_spk = spec.examples[split], max(1, spec.speakers.get(split, 1))
    speakers = [f"{split[:2]}{index}{j:03d}" for j in range(n_spk)]
    durations = np.exp(rng.normal(math.log(spec.median_duration_s), 0.35, size=n))
    durations = np.clip(durations, 0.6, 19.0) * spec.duration_scale
    rows = []
    for i in range(n):
        speaker = speakers[i % n_spk]
        duration = float(round(durations[i], 4))
        words = [str(w) for w in rng.choice(_WORDS, size=max(1, round(duration * 2.2)))]
        text = " ".join(words)
        key = f"{speaker}-{split}-{i:05d}"
        rows.append({
            "key": key, "speaker": speaker, "text": text, "shard": 0, "position": i,
            "duration_s": duration,
            "num_samples": int(round(duration * spec.sample_rate_hz)),
            "sample_rate_hz": spec.sample_rate_hz,
            "audio_sha256": hashlib.sha256(f"audio {key}".encode()).hexdigest(),
            "pcm_sha256": hashlib.sha256(f"pcm {key}".encode()).hexdigest(),
            "source_uri": f"file:///fixture/{split}.jsonl",
            "audio_uri": f"file:///fixture/audio/{key}.flac",
            "rms_dbfs": float(round(rng.normal(-22.0, 2.0), 3)),
            "peak_dbfs": float(round(rng.uniform(-6.0, -3.0), 3)),
            "clipping_ratio": 0.0,
            "silence_ratio": float(round(rng.uniform(0.0, 0.2), 4)),
            "snr_db": float(round(rng.uniform(15.0, 35.0), 3)),
            "chars_per_s": len("".join(words)) / duration,
            "words_per_s": len(words) / duration,
        })
        if spec.enabled_models:
            rows[-1].update(_model_signals(rng, spec.enabled_models, num_samples=rows[-1]["num_samples"]))
    return rows


def _model_signals(rng: np.random.Generator, enabled: tuple[str, ...], *, num_samples: int) -> Row:
    """Healthy model signals for one row (fields of the enabled models only)."""
    values = {
        "vad_speech_ratio": float(round(rng.uniform(0.7, 0.95), 4)),
        "vad_speech_start_sample": 1600, "vad_speech_end_sample": max(1600, num_samples - 1600),
        "vad_model": "silero-vad==fixture", "asr_hypothesis": "a hypothesis",
        "asr_wer": float(round(rng.uniform(0.0, 0.25), 4)),
        "asr_cer": float(round(rng.uniform(0.0, 0.15), 4)), "asr_word_errors": 1,
        "asr_ref_words": 8, "asr_char_errors": 3, "asr_ref_chars": 40,
        "asr_model": "pocketsphinx==fixture", "langid_language": "en",
        "langid_confidence": float(round(rng.uniform(0.8, 1.0), 4)), "langid_words": 8,
        "langid_model": "lingua==fixture",
        "bandwidth_hz": float(round(rng.uniform(5500, 8000), 1)),
        "dnsmos_sig": float(round(rng.uniform(3.0, 4.0), 4)),
        "dnsmos_bak": float(round(rng.uniform(3.0, 4.2), 4)),
        "dnsmos_ovrl": float(round(rng.uniform(2.6, 3.6), 4)),
        "dnsmos_p808": float(round(rng.uniform(3.0, 4.0), 4)),
        "dnsmos_model": "dnsmos==fixture",
    }
    return {name: values[name] for name in model_fields(enabled)}


def _leak(spec: FixtureSpec, rows_by_split: dict[str, Rows]) -> None:
    """Give ``leak_speakers`` train speakers an example in the last split each."""
    splits = list(spec.examples)
    if spec.leak_speakers <= 0 or "train" not in splits or len(splits) < 2:
        return
    target = rows_by_split[splits[-1]]
    leaked = sorted({r["speaker"] for r in rows_by_split["train"]})[: spec.leak_speakers]
    for j, speaker in enumerate(leaked):
        target[j % len(target)]["speaker"] = speaker


def _write_manifest_direct(output_dir: str, split: str, rows: Rows) -> tuple[Any, Any]:
    """``write_manifest`` sorts by key and so cannot take a null key; write those directly."""
    table = pa.table({f.name: [r.get(f.name) for r in rows] for f in MANIFEST_SCHEMA},
                     schema=MANIFEST_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    rel = manifest_file(split, 0)
    os.makedirs(os.path.dirname(os.path.join(output_dir, rel)), exist_ok=True)
    with open(os.path.join(output_dir, rel), "wb") as f:
        f.write(buf.getvalue())
    written = WrittenFile(path=rel, sha256=hashlib.sha256(buf.getvalue()).hexdigest(),
                          size_bytes=len(buf.getvalue()))
    columns = {f.name: [r.get(f.name) for r in rows] for f in MANIFEST_SCHEMA}
    columns["speaker"] = [s for s in columns["speaker"] if s is not None]
    return [manifest_entry(written, len(rows))], summarize_split(columns)


def write_build(
    output_dir: str,
    spec: FixtureSpec | None = None,
    *,
    mutate: Callable[[str, Rows], None] | None = None,
) -> dict[str, Any]:
    """Write a build for ``spec`` into ``output_dir``; ``mutate(split, rows)`` may change the
    rows of each split before they are written. Returns the ``dataset_info.json`` data."""
    spec = spec or FixtureSpec()
    os.makedirs(output_dir, exist_ok=True)
    rows_by_split = {s: _split_rows(spec, s, i) for i, s in enumerate(spec.examples)}
    _leak(spec, rows_by_split)
    files: dict[str, dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    stats: dict[str, Any] = {"splits": {}}
    for split, rows in rows_by_split.items():
        if mutate is not None:
            mutate(split, rows)
        if all(isinstance(r["key"], str) for r in rows):
            manifests, summary = write_manifest(output_dir, split, rows,
                                                model_fields(spec.enabled_models))
        else:
            manifests, summary = _write_manifest_direct(output_dir, split, rows)
        for m in manifests:
            files[m["path"]] = {"sha256": m["sha256"], "size_bytes": m["size_bytes"]}
        stats["splits"][split] = summary
        splits[split] = {
            "num_examples": summary["num_examples"],
            "duration_s": summary["duration_s"],
            "num_speakers": summary["num_speakers"],
            "shards": {},
            "manifest": manifests,
        }
    rejections = [
        Rejection(key=f"bad-{i:05d}", source_uri="file:///fixture/bad.jsonl",
                  audio_uri=f"file:///fixture/audio/bad-{i:05d}.flac", stage=Stage.FILTER,
                  reason=Reason.TOO_SHORT, detail="0.05 s")
        for i in range(spec.rejected)
    ]
    rejected = write_rejected(output_dir, rejections)
    files[rejected.path] = {"sha256": rejected.sha256, "size_bytes": rejected.size_bytes}
    stats_bytes = (json.dumps(stats, indent=2, sort_keys=True) + "\n").encode()
    with open(os.path.join(output_dir, STATS_FILE), "wb") as f:
        f.write(stats_bytes)
    files[STATS_FILE] = {"sha256": hashlib.sha256(stats_bytes).hexdigest(),
                           "size_bytes": len(stats_bytes)}
    accepted = sum(s["num_examples"] for s in splits.values())
    total = sum(spec.examples.values())
    info = {
        "name": spec.name,
        "schema_version": 1,
        "fingerprint": fingerprint(files),
        "config": {
            "name": spec.name,
            "audio": {"sample_rate_hz": 16000, "channels": 1, "codec": "flac"},
            "splits": {"by": "speaker", "salt": "fixture",
                       "ratios": {s: n / total for s, n in spec.examples.items()}},
            **({"signals": {m: {"enabled": True, **({"languages": ["en"]} if m == "langid"
                                                    else {})} for m in spec.enabled_models}}
               if spec.enabled_models else {}),
        },
        "sample_rate_hz": 16000,
        "counts": {"read": accepted + spec.rejected, "accepted": accepted,
                   "rejected": spec.rejected},
        "rejected_by_reason": {Reason.TOO_SHORT.value: spec.rejected} if spec.rejected else {},
        "splits": splits,
        "files": dict(sorted(files.items())),
    }
    with open(os.path.join(output_dir, INFO_FILE), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")
    return info
