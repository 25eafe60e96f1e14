"""A whole build over a corpus a hostile user (or an odd encoder) made (issue 16).

One LibriSpeech tree holds, next to ordinary FLAC files under a transcript saved with a BOM
and CRLF line ends: an Opus file, float audio with NaN samples, a 40 s file (too long, found
from its header), a FIFO named like audio, a symlink out of the corpus and one to /dev/zero.
The build must finish, account for every input with its reason, and write strict JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from curate.launch import run_build
from tests.manifests import split_manifest as _manifest

pytestmark = pytest.mark.timeout(300)
SR = 16000


def _speech(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SR)) / SR
    env = np.clip(np.sin(2 * np.pi * 3 * t), 0.1, None)
    return (0.3 * env * rng.standard_normal(t.size)).astype(np.float32)


def _strict(text: str) -> object:
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_hostile_corpus_builds_and_accounts_for_every_input(tmp_path: Path):
    root = tmp_path / "corpus" / "LibriSpeech"
    chapter = root / "1" / "10"
    chapter.mkdir(parents=True)
    lines = {}
    for i in range(3):  # ordinary inputs
        sf.write(chapter / f"1-10-000{i}.flac", _speech(1.5, i), SR, subtype="PCM_16")
        lines[f"1-10-000{i}"] = "an ordinary utterance"
    sf.write(chapter / "1-10-0003.opus", _speech(1.5, 3), 48000, format="OGG", subtype="OPUS")
    nan = _speech(1.5, 4)
    nan[1000:1200] = np.nan
    sf.write(chapter / "1-10-0004.wav", nan, SR, subtype="FLOAT")
    sf.write(chapter / "1-10-0005.wav", _speech(40.0, 5), SR, subtype="PCM_16")
    os.mkfifo(chapter / "1-10-0006.flac")
    outside = tmp_path / "outside.flac"
    sf.write(outside, _speech(1.5, 7), SR, subtype="PCM_16")
    (chapter / "1-10-0007.flac").symlink_to(outside)
    (chapter / "1-10-0008.wav").symlink_to("/dev/zero")
    for key in ("1-10-0003", "1-10-0004", "1-10-0005", "1-10-0006", "1-10-0007", "1-10-0008"):
        lines[key] = "an odd one"
    transcript = "".join(f"{k} {v}\r\n" for k, v in lines.items())
    (chapter / "1-10.trans.txt").write_bytes(b"\xef\xbb\xbf" + transcript.encode())
    config = tmp_path / "corpus" / "c.yaml"
    config.write_text(
        "name: hostile\nsources:\n  - {kind: librispeech, path: LibriSpeech}\n"
        "filters: {max_duration_s: 30, min_snr_db: null, max_chars_per_s: null}\n"
        "splits: {by: key, ratios: {train: 1.0}}\n"
    )
    out = tmp_path / "build"
    info = run_build(str(config), str(out), workers=1, say=lambda _: None)

    rejected = {r["key"]: r["reason"] for r in pq.read_table(out / "rejected.parquet").to_pylist()}
    assert rejected == {
        "1-10-0004": "audio_not_finite",
        "1-10-0005": "too_long",
        "1-10-0006": "audio_unreadable",
        "1-10-0007": "path_outside_root",
        "1-10-0008": "path_outside_root",
    }
    accepted = set(_manifest(str(out), "train").column("key").to_pylist())
    assert accepted == {"1-10-0000", "1-10-0001", "1-10-0002", "1-10-0003"}
    assert info["counts"] == {"read": 9, "accepted": 4, "rejected": 5, "carried": 0,
                              "processed": 7, "removed": 0}  # 2 refused by their source
    for name in ("dataset_info.json", "stats.json"):
        _strict((out / name).read_text())
