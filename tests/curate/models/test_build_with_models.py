"""A build with every signal model on: model signals reach the manifest, the shards and
dataset_info.json; bad inputs are rejected with the model reasons; 1 and 2 workers agree."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from curate.launch import run_build
from tests.curate.models.corpus import write_models_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, librivox, model_libraries):
    """LibriVox read speech in a NeMo manifest, plus three inputs the models must reject."""
    return write_models_corpus(tmp_path_factory.mktemp("models-corpus"), librivox)


@pytest.fixture(scope="module")
def build(corpus, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("models-build") / "b")
    return out, run_build(corpus[0], out, workers=1, say=lambda _: None)


def test_model_reasons_and_signals_in_the_manifest(corpus, build):
    _, expected = corpus
    out, info = build
    manifest = pq.read_table(os.path.join(out, "manifest", "train.parquet")).to_pylist()
    rejected = pq.read_table(os.path.join(out, "rejected.parquet")).to_pylist()
    outcome = {r["key"]: None for r in manifest} | {r["key"]: r["reason"] for r in rejected}
    assert outcome == expected
    for row in manifest:
        assert row["asr_wer"] < 0.6 and row["vad_speech_ratio"] > 0.5
        assert row["langid_language"] == "en" and row["asr_model"].startswith("pocketsphinx==")
    assert set(info["models"]) == {"vad", "asr", "langid"}
    assert info["models"]["asr"]["model_id"] == manifest[0]["asr_model"]
    assert info["rejected_by_reason"] == {"asr_disagreement": 1, "low_speech_ratio": 1,
                                          "wrong_language": 1}
    stats = json.load(open(os.path.join(out, "stats.json")))
    assert stats["splits"]["train"]["signals"]["asr_wer"]["count"] == len(manifest)


def test_model_features_parse_with_the_feature_spec(build):
    import tensorflow as tf

    out, info = build
    spec = {k: tf.io.FixedLenFeature(v["shape"], getattr(tf, v["dtype"]))
            for k, v in info["feature_spec"].items()}
    assert info["feature_spec"]["vad_speech_start_sample"]["dtype"] == "int64"
    files = [os.path.join(out, s["path"]) for s in info["splits"]["train"]["shards"]["tfrecord"]]
    parsed = list(tf.data.TFRecordDataset(files).map(lambda r: tf.io.parse_single_example(r, spec)))
    manifest = {r["key"]: r for r in pq.read_table(os.path.join(out, "manifest", "train.parquet")).to_pylist()}
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
