"""The corpus of a build with every signal model on: LibriVox read speech in a NeMo manifest,
plus three inputs the models must reject (used by the model build tests and the engine tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from curate.models.records import ModelInput
from tests.curate.models.speech import FRENCH

__all__ = ["CANDIDATES", "write_models_corpus"]

# A small candidate set keeps lingua's load time down in tests (the default has 14).
CANDIDATES = ["en", "fr", "de", "es", "it", "nl"]


def write_models_corpus(root: Path, librivox: dict[str, ModelInput]) -> tuple[str, dict]:
    """Write the corpus and its config (``build.yaml``, VAD + ASR + language ID on) under
    ``root``; returns ``(config path, {key: expected rejection reason or None})``."""
    keys = sorted(librivox)
    rows, expected = [], {}

    def add(key, samples, text, reason):
        sf.write(root / f"{key}.wav", samples, 16000, subtype="PCM_16")
        rows.append({"audio_filepath": f"{key}.wav", "text": text, "speaker": key[-4:]})
        expected[key] = reason

    for key in keys:
        add(key, librivox[key].samples, librivox[key].transcript, None)
    # Distinct audio (quieter copies), so dedupe has nothing to say about them.
    add("mismatch", librivox[keys[0]].samples * 0.8, librivox[keys[3]].transcript, "asr_disagreement")
    add("french", librivox[keys[1]].samples * 0.8, FRENCH[0], "wrong_language")
    noise = np.cumsum(np.random.default_rng(3).normal(size=48000)).astype(np.float32)
    add("noise", 0.1 * noise / np.abs(noise).max(), "a transcript for noise only", "low_speech_ratio")
    with open(root / "manifest.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    config = {
        "name": "models-test",
        "sources": [{"kind": "jsonl", "path": "manifest.jsonl"}],
        "filters": {"max_silence_ratio": 1.0},
        "splits": {"by": "key", "ratios": {"train": 1.0}},
        "signals": {
            "vad": {"enabled": True, "min_speech_ratio": 0.5},
            "asr": {"enabled": True, "max_wer": 0.6},
            "langid": {"enabled": True, "languages": ["en"], "candidates": CANDIDATES},
        },
    }
    (root / "build.yaml").write_text(yaml.safe_dump(config))
    return str(root / "build.yaml"), expected
