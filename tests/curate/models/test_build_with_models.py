"""A build with every signal model on: model signals reach the manifest, the shards and
dataset_info.json; bad inputs are rejected with the model reasons; 1 and 2 workers agree."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml

from curate.launch import run_build
from tests.curate.models.conftest import CANDIDATES
from tests.manifests import split_manifest as _manifest

FRENCH = "le petit chat dort tranquillement sur le canapé pendant que la pluie tombe dehors"


# The cascade, in order, and the reason each model's filter gives.
CASCADE = (("vad", "low_speech_ratio"), ("langid", "wrong_language"),
           ("bandwidth", "low_bandwidth"), ("dnsmos", "low_quality"), ("asr", "asr_disagreement"))


def _noisy(samples: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(samples.shape[0]).astype(np.float32)
    noise *= np.sqrt(np.mean(samples**2) / 10 ** (snr_db / 10))
    return np.clip(samples + noise, -1, 1)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, librivox, model_libraries):
    """LibriVox read speech in a NeMo manifest, plus one input each model's filter must reject
    and a near duplicate (the same recording 6 dB quieter, 300 ms trimmed)."""
    import soxr

    root = tmp_path_factory.mktemp("models-corpus")
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
    add("french", librivox[keys[1]].samples * 0.8, FRENCH, "wrong_language")
    noise = np.cumsum(np.random.default_rng(3).normal(size=48000)).astype(np.float32)
    add("noise", 0.1 * noise / np.abs(noise).max(), "a transcript for noise only", "low_speech_ratio")
    x = librivox[keys[2]].samples
    narrow = soxr.resample(soxr.resample(x, 16000, 8000), 8000, 16000)  # telephony, upsampled
    add("narrowband", narrow, librivox[keys[2]].transcript, "low_bandwidth")
    add("noisy", _noisy(librivox[keys[4]].samples, 0.0, 5), librivox[keys[4]].transcript,
        "low_quality")
    add("z-copy", x[4800:] * 0.5, librivox[keys[2]].transcript, "near_duplicate_audio")
    with open(root / "manifest.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    config = {
        "name": "models-test",
        "sources": [{"kind": "jsonl", "path": "manifest.jsonl"}],
        "filters": {"max_silence_ratio": 1.0},
        "splits": {"by": "key", "ratios": {"train": 1.0}},
        "signals": {  # every signal on; ASR is Whisper tiny.en, the default
            "vad": {"enabled": True, "min_speech_ratio": 0.5, "trim_margin_s": 0.25},
            "langid": {"enabled": True, "languages": ["en"], "candidates": CANDIDATES},
            "bandwidth": {"enabled": True, "min_bandwidth_hz": 5000},
            "dnsmos": {"enabled": True, "min_dnsmos_ovrl": 2.4},
            "asr": {"enabled": True, "max_wer": 0.4},
            "near_duplicates": {"enabled": True, "min_similarity": 0.8},
        },
    }
    (root / "build.yaml").write_text(yaml.safe_dump(config))
    return str(root / "build.yaml"), expected


@pytest.fixture(scope="module")
def build(corpus, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("models-build") / "b")
    return out, run_build(corpus[0], out, workers=1, say=lambda _: None)


def test_model_reasons_and_signals_in_the_manifest(corpus, build):
    _, expected = corpus
    out, info = build
    manifest = _manifest(out, "train").to_pylist()
    rejected = pq.read_table(os.path.join(out, "rejected.parquet")).to_pylist()
    outcome = {r["key"]: None for r in manifest} | {r["key"]: r["reason"] for r in rejected}
    assert outcome == expected
    for row in manifest:
        assert row["asr_wer"] <= 0.4 and row["vad_speech_ratio"] > 0.5
        assert row["bandwidth_hz"] >= 5000 and row["dnsmos_ovrl"] >= 2.4
        assert 1 <= row["dnsmos_sig"] <= 5 and 1 <= row["dnsmos_bak"] <= 5
        assert 1 <= row["dnsmos_p808"] <= 5
        assert row["langid_language"] == "en"
        assert row["asr_model"].startswith(
            "whisper-tiny.en==0.1.0[int8,fitted,min=0s,retry=guarded]@")
    assert set(info["models"]) == {"vad", "langid", "bandwidth", "dnsmos", "asr"}
    asr = info["models"]["asr"]
    assert asr["model_id"] == manifest[0]["asr_model"]
    assert (asr["name"], asr["version"], asr["compute_type"], asr["device"]) == (
        "whisper-tiny.en", "0.1.0", "int8", "cpu")
    assert asr["file_sha256"]["model.bin"].startswith("1a5afae06a4d")
    assert info["models"]["dnsmos"]["file_sha256"]["dnsmos_models/sig_bak_ovr.onnx"]
    assert info["config"]["signals"]["asr"]["text_norm"] == "whisper"  # the default with Whisper
    assert info["rejected_by_reason"] == {reason: 1 for reason in expected.values() if reason}
    near = next(r for r in rejected if r["key"] == "z-copy")
    assert near["stage"] == "dedupe"
    assert re.fullmatch(rf"near duplicate of {sorted(expected)[-4]} \(similarity 0\.\d+\)",
                        near["detail"]), near["detail"]
    stats = json.load(open(os.path.join(out, "stats.json")))
    assert stats["splits"]["train"]["signals"]["asr_wer"]["count"] == len(manifest)


def test_each_model_runs_only_on_the_inputs_that_reached_it(corpus, build):
    """The cascade: an input a filter rejects is never sent to a later model. The inputs that
    reach a model are those read, less those rejected before it (by the cheap filters or an
    earlier model); dataset_info.json counts the inputs each model was sent."""
    _, info = build
    by_reason = info["rejected_by_reason"]
    expected = _reached(info)
    reached = expected["asr"] - by_reason["asr_disagreement"]
    assert info["model_calls"] == expected
    assert [info["model_calls"][m] for m, _ in CASCADE] == [11, 10, 9, 8, 7]  # one out at each
    assert info["counts"]["accepted"] == reached - by_reason["near_duplicate_audio"]


def test_the_version_metadata_names_the_models_and_their_calls(build):
    from registry.build import Build

    out, info = build
    md = Build.read(out).metadata("models-test")
    assert md["curate.model.asr"] == info["models"]["asr"]["model_id"]
    assert md["curate.model.asr.version"] == "0.1.0"
    assert md["curate.model.asr.compute_type"] == "int8"
    assert md["curate.model_calls.asr"] == "7"


def test_model_features_parse_with_the_feature_spec(build):
    import tensorflow as tf

    out, info = build
    spec = {k: tf.io.FixedLenFeature(v["shape"], getattr(tf, v["dtype"]))
            for k, v in info["feature_spec"].items()}
    assert info["feature_spec"]["vad_speech_start_sample"]["dtype"] == "int64"
    files = [os.path.join(out, s["path"]) for s in info["splits"]["train"]["shards"]["tfrecord"]]
    parsed = list(tf.data.TFRecordDataset(files).map(lambda r: tf.io.parse_single_example(r, spec)))
    manifest = {r["key"]: r for r in _manifest(out, "train").to_pylist()}
    for ex in parsed:
        row = manifest[ex["key"].numpy().decode()]
        assert ex["asr_hypothesis"].numpy().decode() == row["asr_hypothesis"]
        assert ex["asr_wer"].numpy() == pytest.approx(row["asr_wer"], rel=1e-6)


def test_two_workers_give_the_same_build(corpus, build, tmp_path):
    out2 = str(tmp_path / "b2")
    info2 = run_build(corpus[0], out2, workers=2, say=lambda _: None)
    assert info2["fingerprint"] == build[1]["fingerprint"]


def test_the_default_suite_checks_the_model_signals_of_a_real_build(build):
    from curate.validation.suites import load_suite
    from curate.validation.validate import validate_build

    out, _ = build
    result = validate_build(out, suite="asr_default", write=False)
    suite = load_suite("asr_default")
    assert result.evaluated == len(suite.expectations)  # the optional ones ran too
    failed_columns = {f["column"] for f in result.failed_expectations}
    assert not failed_columns & {"vad_speech_ratio", "asr_wer", "langid_language"}
    assert failed_columns == {"rejected_share"}  # 3 of 8 inputs were rejected on purpose


def _reached(info) -> dict[str, int]:
    """Inputs that reach each model: those read, less those the cheap stages and the models
    before it rejected."""
    by_reason = info["rejected_by_reason"]
    later = {r for _, r in CASCADE} | {"near_duplicate_audio", "duplicate_audio", "model_failed"}
    reached = info["counts"]["read"] - sum(n for r, n in by_reason.items() if r not in later)
    out = {}
    for model, reason in CASCADE:
        out[model] = reached
        reached -= by_reason.get(reason, 0)
    return out


def test_on_the_sample_corpus_with_bad_inputs_model_calls_are_the_inputs_that_reached_them(
    tmp_path, model_libraries
):
    from curate.samples import make_corpus

    corpus = tmp_path / "corpus"
    make_corpus(str(corpus), utterances=6, seed=3, with_bad_inputs=True)
    config = {
        "name": "sample-cascade",
        "sources": [{"kind": "jsonl", "path": str(corpus / "manifest.jsonl")}],
        "splits": {"by": "key", "ratios": {"train": 1.0}},
        "signals": {"vad": {"enabled": True},
                    "langid": {"enabled": True, "candidates": CANDIDATES},
                    "bandwidth": {"enabled": True, "min_bandwidth_hz": 3000},
                    "dnsmos": {"enabled": True, "min_dnsmos_ovrl": 1.5},
                    "asr": {"enabled": True}, "near_duplicates": {"enabled": True}},
    }
    (tmp_path / "build.yaml").write_text(yaml.safe_dump(config))
    info = run_build(str(tmp_path / "build.yaml"), str(tmp_path / "out"), workers=1,
                     say=lambda _: None)
    assert info["model_calls"] == _reached(info)
    assert info["counts"]["read"] > info["model_calls"]["vad"] > info["model_calls"]["asr"] > 0
