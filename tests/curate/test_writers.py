"""Every writer gets a write-then-read-back test; Example bytes must equal TensorFlow's."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from curate.example_proto import encode_example
from curate.features import FEATURE_SPEC, feature_spec, model_fields, serialize_example
from curate.fsio import write_bytes
from curate.layout import ShardFormat, shard_file
from curate.records import Signals
from curate.writers import read_tfrecord, write_shard, write_shards



def _tf_feature(value):
    if isinstance(value, (bytes, str)):
        value = [value]
    if isinstance(value, (int, float)):
        value = [value]
    if not value:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[]))
    if isinstance(value[0], (bytes, str)):
        return tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[v.encode() if isinstance(v, str) else v for v in value])
        )
    if isinstance(value[0], float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=value))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=value))


@pytest.mark.parametrize(
    "features",
    [
        {"n": [3]},
        {"key": b"abc", "text": "héllo wörld", "x": [1.5, -2.25], "n": [-3, 2**40, 0], "empty": []},
        {"audio": bytes(range(256)) * 700, "rate": 16000, "snr": 12.5},
    ],
)
def test_encode_example_matches_tensorflow_deterministic_serialisation(features):
    expected = tf.train.Example(
        features=tf.train.Features(feature={k: _tf_feature(v) for k, v in features.items()})
    ).SerializeToString(deterministic=True)
    assert encode_example(features) == expected


def _signals(i: int) -> Signals:
    return Signals(duration_s=1.0 + i, rms_dbfs=-20.0, peak_dbfs=-3.0, clipping_ratio=0.0,
                   silence_ratio=0.1, snr_db=20.0 + i, chars_per_s=10.0, words_per_s=2.0,
                   pcm_sha256=f"{i:064x}")


def _records(n: int) -> list[bytes]:
    return [
        serialize_example(key=f"k{i:03d}", audio=os.urandom(100 + i), text=f"text {i}",
                          speaker=f"s{i % 3}", sample_rate_hz=16000, num_samples=16000 * (i + 1),
                          channels=1, signals=_signals(i))
        for i in range(n)
    ]


def test_tfrecord_shard_reads_back_with_tf_data_and_the_feature_spec(tmp_path):
    records = _records(7)
    dest = str(tmp_path / shard_file("ds", "train", ShardFormat.TFRECORD, 0))
    files, count = write_shards({ShardFormat.TFRECORD: dest}, records)
    assert count == 7 and files[ShardFormat.TFRECORD].size_bytes == os.path.getsize(dest)
    assert not [p for p in os.listdir(os.path.dirname(dest)) if ".tmp-" in p]
    assert read_tfrecord(open(dest, "rb").read()) == records
    spec = {k: tf.io.FixedLenFeature(v["shape"], getattr(tf, v["dtype"])) for k, v in FEATURE_SPEC.items()}
    parsed = list(tf.data.TFRecordDataset([dest]).map(lambda r: tf.io.parse_single_example(r, spec)))
    assert [p["key"].numpy().decode() for p in parsed] == [f"k{i:03d}" for i in range(7)]
    assert parsed[3]["num_samples"].numpy() == 16000 * 4
    assert parsed[3]["snr_db"].numpy() == pytest.approx(23.0)
    assert parsed[2]["text"].numpy().decode() == "text 2"


def test_array_record_shard_reads_back_by_random_access(tmp_path):
    from array_record.python.array_record_data_source import ArrayRecordDataSource

    records = _records(5)
    dest = str(tmp_path / "x.array_record-00000-of-00001")
    write_shard(dest, ShardFormat.ARRAY_RECORD, records)
    source = ArrayRecordDataSource([dest])
    assert len(source) == 5
    assert [source[i] for i in (4, 0, 2)] == [records[4], records[0], records[2]]


def test_shards_are_byte_identical_across_writes(tmp_path):
    records = _records(4)
    for fmt in ShardFormat:
        a = write_shard(str(tmp_path / f"a.{fmt.value}"), fmt, records)
        b = write_shard(str(tmp_path / f"b.{fmt.value}"), fmt, records)
        assert a.sha256 == b.sha256


def test_read_tfrecord_detects_corruption(tmp_path):
    dest = str(tmp_path / "c.tfrecord")
    write_shard(dest, ShardFormat.TFRECORD, _records(2))
    data = bytearray(open(dest, "rb").read())
    data[20] ^= 0xFF
    with pytest.raises(ValueError, match="corrupt TFRecord"):
        read_tfrecord(bytes(data))


def test_write_bytes_is_atomic_and_hashes(tmp_path):
    import hashlib

    w = write_bytes(str(tmp_path / "sub" / "f.json"), b"{}")
    assert w.sha256 == hashlib.sha256(b"{}").hexdigest()
    assert os.listdir(tmp_path / "sub") == ["f.json"]
    assert np.frombuffer(open(tmp_path / "sub" / "f.json", "rb").read(), np.uint8).tobytes() == b"{}"


def test_model_signal_features_parse_with_the_dtypes_of_their_dataclass_fields(tmp_path):
    from curate.models.records import ModelSignals

    fields = model_fields(("vad", "asr", "langid", "bandwidth", "dnsmos"))
    signals = ModelSignals(
        vad_speech_ratio=0.75, vad_speech_start_sample=160, vad_speech_end_sample=15840,
        vad_model="silero", asr_hypothesis="hello world", asr_wer=0.5, asr_cer=0.25,
        asr_word_errors=1, asr_ref_words=2, asr_char_errors=3, asr_ref_chars=12,
        asr_model="sphinx", langid_language="en", langid_confidence=0.875, langid_words=2,
        langid_model="lingua", bandwidth_hz=6234.5, dnsmos_sig=3.25, dnsmos_bak=3.5,
        dnsmos_ovrl=2.875, dnsmos_p808=3.125, dnsmos_model="dnsmos-p835",
    )
    values = {name: getattr(signals, name) for name in fields}
    assert set(fields) == set(ModelSignals.__dataclass_fields__)
    record = serialize_example(key="k", audio=b"a", text="hello world", speaker="s",
                               sample_rate_hz=16000, num_samples=16000, channels=1,
                               signals=_signals(0), model_signals=values)
    spec = {k: tf.io.FixedLenFeature(v["shape"], getattr(tf, v["dtype"]))
            for k, v in feature_spec(fields).items()}
    parsed = tf.io.parse_single_example(record, spec)
    for name, value in values.items():
        got = parsed[name].numpy()
        assert (got.decode() if isinstance(value, str) else got.item()) == value, name
