"""Writes small but real build directories for the registry tests.

The shape is the pipeline's (see DESIGN.md): TFRecord and ArrayRecord shards of serialized
``tf.train.Example``s with FLAC (or WAV) audio, Parquet manifests, ``dataset_info.json`` with
the sha256 of every file and the pipeline's fingerprint over them. Paths, shard names and the
fingerprint come from :mod:`curate.layout`, as the pipeline's do. Same examples in, same bytes
out, so a test can make v1/v2/v3 that differ in exactly one split.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curate.features import FEATURE_SPEC
from curate.layout import (
    INFO_FILE,
    REJECTED_FILE,
    STATS_FILE,
    VALIDATION_RESULT,
    ShardFormat,
    fingerprint,
    info_digest,
    manifest_file,
    shard_file,
)
from curate.records import SIGNAL_FIELDS

__all__ = ["FixtureExample", "make_examples", "write_build", "FEATURE_SPEC"]

SAMPLE_RATE_HZ = 16_000
SIGNALS = SIGNAL_FIELDS


@dataclass(frozen=True, kw_only=True, slots=True)
class FixtureExample:
    key: str
    text: str
    speaker: str
    samples: np.ndarray  # int16, mono

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_samples / SAMPLE_RATE_HZ

    def float_samples(self) -> np.ndarray:
        """What a decoder returns for this audio: float32 in [-1, 1)."""
        return self.samples.astype(np.float32) / 32768.0


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "little")


def make_examples(prefix: str, n: int, *, variant: str = "") -> list[FixtureExample]:
    """``n`` deterministic examples ``<prefix>-0000``…; ``variant`` changes their audio."""
    out = []
    for i in range(n):
        key = f"{prefix}-{i:04d}"
        rng = np.random.default_rng(_seed(key, variant))
        num = int(rng.integers(SAMPLE_RATE_HZ // 10, SAMPLE_RATE_HZ // 4))
        freq = float(rng.uniform(150, 800))
        t = np.arange(num) / SAMPLE_RATE_HZ
        wave = 0.3 * np.sin(2 * math.pi * freq * t) + 0.01 * rng.standard_normal(num)
        samples = np.clip(wave * 32767, -32768, 32767).astype(np.int16)
        words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
        text = " ".join(words[j % len(words)] for j in range(i % 4 + 2)) + f" {i}"
        out.append(FixtureExample(key=key, text=text, speaker=f"spk{i % 3}", samples=samples))
    return out


def _encode(samples: np.ndarray, codec: str) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    fmt = {"flac": "FLAC", "wav": "WAV"}[codec]
    sf.write(buf, samples, SAMPLE_RATE_HZ, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def _signals(ex: FixtureExample) -> dict[str, float]:
    x = ex.float_samples().astype(np.float64)
    rms = float(np.sqrt(np.mean(x**2)))
    peak = float(np.max(np.abs(x)))
    dur = ex.duration_s
    return {
        "duration_s": dur,
        "rms_dbfs": 20 * math.log10(max(rms, 1e-9)),
        "peak_dbfs": 20 * math.log10(max(peak, 1e-9)),
        "clipping_ratio": float(np.mean(np.abs(x) >= 0.999)),
        "silence_ratio": float(np.mean(np.abs(x) < 0.01)),
        "snr_db": 30.0,
        "chars_per_s": len(ex.text) / dur,
        "words_per_s": len(ex.text.split()) / dur,
    }


def _shard_of(key: str, num_shards: int) -> int:
    return _seed("shard-salt", key) % num_shards


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_build(
    out_dir: str | Path,
    splits: Mapping[str, Sequence[FixtureExample]],
    *,
    name: str = "asr-demo",
    num_shards: int = 2,
    codec: str = "flac",
    code_version: str = "test-0",
    validation: Mapping[str, Any] | None | str = "passed",
) -> Path:
    """Write a complete build directory; returns its path.

    ``validation``: ``"passed"`` writes a passing ``validation/result.json`` for this build (what
    ``curate validate`` leaves), a mapping writes that result, ``None`` leaves it unvalidated."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import tensorflow as tf
    from array_record.python.array_record_module import ArrayRecordWriter

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}

    def record(rel: str) -> dict[str, Any]:
        p = root / rel
        files[rel] = {"sha256": _sha(p), "size_bytes": p.stat().st_size}
        return files[rel]

    info_splits: dict[str, Any] = {}
    stats: dict[str, Any] = {}
    for split, examples in sorted(splits.items()):
        by_shard: list[list[FixtureExample]] = [[] for _ in range(num_shards)]
        for ex in sorted(examples, key=lambda e: e.key):
            by_shard[_shard_of(ex.key, num_shards)].append(ex)
        rows: list[dict[str, Any]] = []
        shard_entries: dict[str, list[dict[str, Any]]] = {f.value: [] for f in ShardFormat}
        for index, shard in enumerate(by_shard):
            records = []
            for position, ex in enumerate(shard):
                audio = _encode(ex.samples, codec)
                sig = _signals(ex)
                pcm = hashlib.sha256(ex.samples.astype("<i2").tobytes()).hexdigest()
                feats = {
                    "key": [ex.key.encode()], "audio": [audio], "text": [ex.text.encode()],
                    "speaker": [ex.speaker.encode()], "pcm_sha256": [pcm.encode()],
                }
                f = {k: tf.train.Feature(bytes_list=tf.train.BytesList(value=v))
                     for k, v in feats.items()}
                for k, v in (("sample_rate_hz", SAMPLE_RATE_HZ), ("num_samples", ex.num_samples),
                             ("channels", 1)):
                    f[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))
                for k in SIGNALS:
                    f[k] = tf.train.Feature(float_list=tf.train.FloatList(value=[sig[k]]))
                records.append(tf.train.Example(features=tf.train.Features(feature=f))
                               .SerializeToString(deterministic=True))
                rows.append({
                    "key": ex.key, "speaker": ex.speaker, "text": ex.text, "shard": index,
                    "position": position, "duration_s": ex.duration_s,
                    "num_samples": ex.num_samples, "sample_rate_hz": SAMPLE_RATE_HZ,
                    "audio_sha256": hashlib.sha256(audio).hexdigest(), "pcm_sha256": pcm,
                    "source_uri": f"file:///corpus/{ex.key}.txt",
                    "audio_uri": f"file:///corpus/{ex.key}.{codec}",
                    **{k: sig[k] for k in SIGNALS if k != "duration_s"},
                })
            tf_rel = shard_file(name, split, ShardFormat.TFRECORD, index)
            (root / tf_rel).parent.mkdir(parents=True, exist_ok=True)
            with tf.io.TFRecordWriter(str(root / tf_rel)) as w:
                for r in records:
                    w.write(r)
            ar_rel = shard_file(name, split, ShardFormat.ARRAY_RECORD, index)
            writer = ArrayRecordWriter(str(root / ar_rel), "group_size:1")
            for r in records:
                writer.write(r)
            writer.close()
            for fmt, rel in ((ShardFormat.TFRECORD, tf_rel), (ShardFormat.ARRAY_RECORD, ar_rel)):
                shard_entries[fmt.value].append(
                    {"path": rel, **record(rel), "num_examples": len(shard)})
        schema = pa.Table.from_pylist(rows).schema
        manifests = []
        for index, shard in enumerate(by_shard):  # one manifest file per shard (layout 3)
            rel = manifest_file(split, index)
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist([r for r in rows if r["shard"] == index],
                                                schema=schema), root / rel)
            manifests.append({"path": rel, **record(rel), "num_examples": len(shard)})
        duration = sum(ex.duration_s for ex in examples)
        info_splits[split] = {
            "num_examples": len(examples), "duration_s": duration,
            "num_speakers": len({ex.speaker for ex in examples}), "shards": shard_entries,
            "manifest": manifests,
        }
        stats[split] = {"num_examples": len(examples), "duration_s": duration}

    rejected = pa.Table.from_pylist(
        [{"key": "bad-0001", "source_uri": "file:///corpus/bad-0001.txt", "stage": "decode",
          "reason": "audio_undecodable", "detail": "not audio"}]
    )
    pq.write_table(rejected, root / REJECTED_FILE)
    record(REJECTED_FILE)
    (root / STATS_FILE).write_text(json.dumps(stats, sort_keys=True, indent=2))
    record(STATS_FILE)

    accepted = sum(len(v) for v in splits.values())
    config = {"name": name, "num_shards": num_shards, "codec": codec}
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    info = {
        "name": name, "schema_version": 1, "fingerprint": fingerprint(files), "config": config,
        "config_hash": config_hash, "code_version": code_version, "audio_codec": codec,
        "sample_rate_hz": SAMPLE_RATE_HZ, "channels": 1, "feature_spec": FEATURE_SPEC,
        "counts": {"read": accepted + 1, "accepted": accepted, "rejected": 1},
        "rejected_by_reason": {"audio_undecodable": 1},
        "splits": info_splits, "files": files,
    }
    (root / INFO_FILE).write_text(json.dumps(info, sort_keys=True, indent=2))
    if validation == "passed":
        validation = {"suite": "asr_default", "success": True, "evaluated": 1, "successful": 1,
                      "failed": 0}
    if validation is not None:
        result = {"fingerprint": info["fingerprint"], "info_sha256": info_digest(info),
                  **dict(validation)}  # type: ignore[arg-type]
        (root / VALIDATION_RESULT).parent.mkdir(exist_ok=True)
        (root / VALIDATION_RESULT).write_text(json.dumps(result))
    return root
