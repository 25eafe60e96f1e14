"""A small build directory for the report tests, written without a pipeline: real TFRecord
shards of FLAC examples (``serialize_example``, ``write_shard``), manifests and stats
(``write_manifest``), ``rejected.parquet`` (``write_rejected``) whose rows name real source
files (a clipped one, an empty one, one that is not audio, one that is missing), and a
``dataset_info.json`` listing them. Everything comes from the seed, so durations are known:
``FixtureBuild.durations`` is what each example and source lasts.

>>> import tempfile
>>> fb = write_report_build(tempfile.mkdtemp())
>>> sorted(fb.info["splits"]), fb.info["counts"]
(['test', 'train'], {'read': 17, 'accepted': 12, 'rejected': 5})
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.audio import encode, to_pcm16
from curate.build_info import write_manifest, write_rejected
from curate.config import AudioCodec
from curate.errors import Reason, Stage
from curate.features import serialize_example
from curate.records import Rejection, Signals
from curate.synth import Voice, random_words, synthesize
from curate.layout import STATS_FILE, ShardFormat, fingerprint, shard_file
from curate.writers import write_shard

__all__ = ["FixtureBuild", "write_report_build"]

_RATE = 16000
# split -> shards -> examples' durations in seconds
_LAYOUT = {"train": [[1.5, 6.0, 2.25, 3.0], [2.0, 5.0, 1.0, 2.5]], "test": [[3.5, 1.25, 0.75, 2.0]]}


@dataclass(frozen=True, kw_only=True, slots=True)
class FixtureBuild:
    root: str
    info: dict[str, Any]
    durations: dict[str, float] = field(default_factory=dict)  # key -> seconds of its audio
    clipped_at_s: float = 0.0  # where the clipped source's loud burst is


def _speech(rng: np.random.Generator, seconds: float) -> np.ndarray:
    frames = int(round(seconds * _RATE))
    pcm = synthesize(rng, voice=Voice.random(rng), words=random_words(rng, seconds), frames=frames,
                     sample_rate_hz=_RATE)
    return pcm.astype(np.float32) / 32768.0


def _signals(samples: np.ndarray, text: str, seconds: float, i: int) -> Signals:
    return Signals(duration_s=seconds, rms_dbfs=-20.0 - i % 5, peak_dbfs=-4.0 - i % 3,
                   clipping_ratio=0.0, silence_ratio=0.02 * (i % 4), snr_db=15.0 + 2 * i,
                   chars_per_s=len(text) / seconds, words_per_s=len(text.split()) / seconds,
                   pcm_sha256=f"{i:064x}")


def _write_sources(root: str, rng: np.random.Generator) -> tuple[list[Rejection], dict[str, float]]:
    src = os.path.join(root, "..", "sources")
    os.makedirs(src, exist_ok=True)
    src = os.path.abspath(src)
    listed = os.path.join(src, "manifest.jsonl")
    durations = {}
    rows = []

    def reject(key: str, uri: str, stage: Stage, reason: Reason, detail: str) -> None:
        rows.append(Rejection(key=key, source_uri=listed, audio_uri=uri, stage=stage,
                              reason=reason, detail=detail))

    clipped = _speech(rng, 9.0) * 0.3
    burst = slice(int(6.0 * _RATE), int(6.5 * _RATE))
    clipped[burst] = np.clip(clipped[burst] * 40.0, -1.0, 1.0)
    path = os.path.join(src, "clipped.wav")
    with open(path, "wb") as f:
        f.write(encode(to_pcm16(clipped[:, None]), _RATE, AudioCodec.WAV))
    durations["bad-clipped"] = 9.0
    reject("bad-clipped", path, Stage.FILTER, Reason.CLIPPED,
           "clipping_ratio 0.03 > max_clipping_ratio 0.01")
    path = os.path.join(src, "short.flac")
    with open(path, "wb") as f:
        f.write(encode(to_pcm16(_speech(rng, 0.1)[:, None]), _RATE, AudioCodec.FLAC))
    durations["bad-short"] = 0.1
    reject("bad-short", path, Stage.FILTER, Reason.TOO_SHORT, "duration 0.10 s < min 0.2")
    path = os.path.join(src, "empty.flac")
    open(path, "wb").close()
    reject("bad-empty", path, Stage.DECODE, Reason.AUDIO_EMPTY, f"{path}: file is empty (0 bytes)")
    path = os.path.join(src, "text.flac")
    with open(path, "w") as f:
        f.write("this is not audio\n")
    reject("bad-text", path, Stage.DECODE, Reason.AUDIO_UNDECODABLE, f"{path}: not decodable")
    path = os.path.join(src, "gone.flac")  # named by the manifest, never there
    reject("bad-gone", path, Stage.SOURCE, Reason.MISSING_AUDIO, f"{path}: no such file")
    return rows, durations


def write_report_build(root: str, *, seed: int = 0, name: str = "report-fixture",
                       duration_scale: float = 1.0) -> FixtureBuild:
    """Write the build into ``root`` (its sources beside it, in ``root/../sources``)."""
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    stats: dict[str, Any] = {"splits": {}}
    durations: dict[str, float] = {}
    i = 0
    for split, shards in _LAYOUT.items():
        rows, written = [], []
        for index, shard in enumerate(shards):
            records = []
            for position, seconds in enumerate(shard):
                seconds *= duration_scale
                key = f"{split}-{index}-{position:03d}"
                samples = _speech(rng, seconds)
                text = " ".join(random_words(rng, seconds))
                signals = _signals(samples, text, seconds, i)
                records.append(serialize_example(
                    key=key, audio=encode(samples[:, None], _RATE, AudioCodec.FLAC), text=text,
                    speaker=f"spk{i % 3}", sample_rate_hz=_RATE, num_samples=samples.size,
                    channels=1, signals=signals))
                rows.append({
                    "key": key, "speaker": f"spk{i % 3}", "text": text, "shard": index,
                    "position": position, "num_samples": samples.size, "sample_rate_hz": _RATE,
                    "audio_sha256": f"{i:064x}", "source_uri": "fixture.jsonl",
                    "audio_uri": f"/fixture/{key}.flac", **signals.to_dict(),
                    # what a build on this one would match (layout 2); no source file here
                    "start_s": 0.0, "end_s": None, "source_fingerprint": "",
                    "input_sha256": "", "settings_sha256": "",
                    "example_sha256": hashlib.sha256(records[-1]).hexdigest(),
                    "record_bytes": len(records[-1]),
                })
                durations[key] = seconds
                i += 1
            rel = shard_file(name, split, ShardFormat.TFRECORD, index)
            f = write_shard(os.path.join(root, rel), ShardFormat.TFRECORD, records)
            written.append({"path": rel, "sha256": f.sha256, "size_bytes": f.size_bytes,
                            "num_examples": len(records)})
            files[rel] = {"sha256": f.sha256, "size_bytes": f.size_bytes}
        manifests, summary = write_manifest(root, split, rows)
        for m in manifests:
            files[m["path"]] = {"sha256": m["sha256"], "size_bytes": m["size_bytes"]}
        stats["splits"][split] = summary
        splits[split] = {"num_examples": summary["num_examples"],
                         "duration_s": summary["duration_s"],
                         "num_speakers": summary["num_speakers"],
                         "shards": {"tfrecord": written}, "manifest": manifests}
    rejections, source_durations = _write_sources(root, rng)
    rejected = write_rejected(root, rejections)
    files[rejected.path] = {"sha256": rejected.sha256, "size_bytes": rejected.size_bytes}
    stats_bytes = json.dumps(stats, indent=2, sort_keys=True).encode()
    with open(os.path.join(root, STATS_FILE), "wb") as f:
        f.write(stats_bytes)
    files[STATS_FILE] = {"sha256": hashlib.sha256(stats_bytes).hexdigest(),
                           "size_bytes": len(stats_bytes)}
    by_reason: dict[str, int] = {}
    for r in rejections:
        by_reason[r.reason.value] = by_reason.get(r.reason.value, 0) + 1
    accepted = sum(s["num_examples"] for s in splits.values())
    info = {
        "name": name, "schema_version": 1, "fingerprint": fingerprint(files),
        "config_hash": "f" * 64, "code_version": "curate-speech (fixture)",
        "config": {"name": name, "splits": {"ratios": {"train": 0.7, "test": 0.3}}},
        "counts": {"read": accepted + len(rejections), "accepted": accepted,
                   "rejected": len(rejections)},
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "splits": splits, "files": dict(sorted(files.items())),
    }
    with open(os.path.join(root, "dataset_info.json"), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
    return FixtureBuild(root=root, info=info, durations={**durations, **source_durations},
                        clipped_at_s=6.25)
