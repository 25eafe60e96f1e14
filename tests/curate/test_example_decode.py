"""The TensorFlow-free Example decoder agrees with TensorFlow's parsing (property tests), and
decodes every feature the build writes exactly."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.example_decode import ExampleDecodeError, ExampleDecoder, Kind, parse_example
from curate.example_proto import encode_example
from curate.features import feature_spec, model_fields, serialize_example
from curate.records import Signals
from tests.extras import require

tf = require("tensorflow", "tf")

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_FLOAT32 = st.floats(width=32, allow_nan=False)
_VALUES = st.one_of(
    st.tuples(st.just(Kind.BYTES), st.lists(st.binary(max_size=24), max_size=4)),
    st.tuples(st.just(Kind.FLOAT), st.lists(_FLOAT32, max_size=4)),
    st.tuples(st.just(Kind.INT64), st.lists(_INT64, max_size=4)),
    st.tuples(st.none(), st.just([])),
)
_FEATURES = st.dictionaries(st.text(max_size=6), _VALUES, max_size=6)
_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tf_feature(kind: Kind | None, values: list) -> tf.train.Feature:
    if kind is Kind.BYTES:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    if kind is Kind.FLOAT:
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    if kind is Kind.INT64:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Feature()


def _tf_example(features: dict) -> tf.train.Example:
    return tf.train.Example(features=tf.train.Features(
        feature={name: _tf_feature(*kv) for name, kv in features.items()}))


def _as_parsed(example: tf.train.Example) -> dict:
    """What ``parse_example`` should give for a parsed ``tf.train.Example``."""
    out = {}
    for name, f in example.features.feature.items():
        which = f.WhichOneof("kind")
        kind = {"bytes_list": Kind.BYTES, "float_list": Kind.FLOAT,
                "int64_list": Kind.INT64, None: None}[which]
        out[name] = (kind, list(getattr(f, which).value) if which else [])
    return out


@_SETTINGS
@given(_FEATURES, st.booleans())
def test_parse_example_reads_what_tensorflow_serialises(features: dict, deterministic: bool) -> None:
    record = _tf_example(features).SerializeToString(deterministic=deterministic)
    assert parse_example(record) == features


@_SETTINGS
@given(_FEATURES)
def test_parse_example_agrees_with_tensorflow_on_mutated_records(features: dict) -> None:
    """Truncated or bit-flipped records: either both parsers refuse them, or both read the
    same features (protobuf semantics: unknown fields skipped, last map entry wins)."""
    from google.protobuf.message import DecodeError

    record = _tf_example(features).SerializeToString(deterministic=True)
    variants = [record[:n] for n in range(0, len(record), max(1, len(record) // 7))]
    for i in range(0, len(record), max(1, len(record) // 5)):
        variants.append(record[:i] + bytes([record[i] ^ 0x5A]) + record[i + 1:])
    for data in variants:
        try:
            expected = _as_parsed(tf.train.Example.FromString(data))
        except DecodeError:
            with pytest.raises(ExampleDecodeError):
                parse_example(data)
            continue
        got = parse_example(data)
        assert got.keys() == expected.keys()
        for name, (kind, values) in expected.items():
            assert got[name][0] is kind
            if kind is Kind.FLOAT:  # a flipped bit may make a NaN: compare the float32 bits
                assert np.array(got[name][1], np.float32).tobytes() == np.array(
                    values, np.float32).tobytes()
            else:
                assert got[name][1] == values


@_SETTINGS
@given(st.dictionaries(st.text(min_size=1, max_size=6), st.one_of(
    st.binary(max_size=16), _INT64, _FLOAT32,
    st.lists(st.binary(max_size=8), min_size=1, max_size=3),
    st.lists(_INT64, min_size=1, max_size=3),
    st.lists(_FLOAT32, min_size=1, max_size=3)), max_size=6))
def test_parse_example_inverts_the_project_encoder(features: dict) -> None:
    parsed = parse_example(encode_example(features))
    assert parsed.keys() == features.keys()
    for name, value in features.items():
        values = value if isinstance(value, list) else [value]
        kind = Kind.BYTES if isinstance(values[0], bytes) else (
            Kind.FLOAT if isinstance(values[0], float) else Kind.INT64)
        assert parsed[name] == (kind, values)


@settings(max_examples=60, deadline=None)
@given(features=st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(
    st.binary(max_size=8), st.lists(_INT64, min_size=1, max_size=3),
    st.lists(_FLOAT32, min_size=1, max_size=3)), max_size=6), pick=st.sets(st.integers(0, 5)))
def test_parse_example_of_some_names_is_the_whole_parse_restricted(features: dict,
                                                                   pick: set) -> None:
    """What the loaders' shard tables use (key and audio of records holding 16 features)."""
    record = encode_example(features)
    names = {n for i, n in enumerate(sorted(features)) if i in pick} | {"not-there"}
    whole = parse_example(record)
    assert parse_example(record, names) == {n: v for n, v in whole.items() if n in names}


def _signals(draw_floats: list[float], sha: str) -> Signals:
    names = ["duration_s", "rms_dbfs", "peak_dbfs", "clipping_ratio", "silence_ratio",
             "snr_db", "chars_per_s", "words_per_s"]
    return Signals(**dict(zip(names, draw_floats)), pcm_sha256=sha)


_TEXT = st.text(max_size=30)
_FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e30, max_value=1e30)


@settings(max_examples=60, deadline=None)
@given(key=st.text(min_size=1, max_size=20), text=_TEXT, speaker=_TEXT, audio=st.binary(max_size=64),
       rate=st.integers(1, 192_000), n=st.integers(0, 2**40), channels=st.integers(1, 8),
       floats=st.lists(_FINITE, min_size=8, max_size=8), with_models=st.booleans(),
       hyp=_TEXT, wer=_FINITE, errors=st.integers(0, 10**6))
def test_decoder_gives_what_tf_parse_single_example_gives_for_every_build_feature(
    key, text, speaker, audio, rate, n, channels, floats, with_models, hyp, wer, errors
) -> None:
    fields = model_fields(["vad", "asr", "langid"]) if with_models else ()
    model_values = {}
    for name in fields:
        dtype = feature_spec(fields)[name]["dtype"]
        model_values[name] = hyp if dtype == "string" else errors if dtype == "int64" else wer
    record = serialize_example(
        key=key, audio=audio, text=text, speaker=speaker, sample_rate_hz=rate, num_samples=n,
        channels=channels, signals=_signals(floats, "ab" * 32), model_signals=model_values or None,
    )
    spec = feature_spec(fields)
    dtypes = {"string": tf.string, "int64": tf.int64, "float32": tf.float32}
    expected = tf.io.parse_single_example(
        record, {k: tf.io.FixedLenFeature([], dtypes[v["dtype"]]) for k, v in spec.items()})
    text_names = [k for k, v in spec.items() if v["dtype"] == "string" and k != "audio"]
    got = ExampleDecoder(spec, text=text_names).decode(record)
    assert got.keys() == spec.keys()
    for name, tensor in expected.items():
        value = tensor.numpy()
        if name in text_names:
            assert got[name] == value.decode("utf-8")
        elif spec[name]["dtype"] == "float32":
            assert struct.pack("<f", got[name]) == value.tobytes()  # float32, bit for bit
        else:
            assert got[name] == value
            assert type(got[name]) is (bytes if name == "audio" else int)


def test_decoder_names_a_missing_or_mistyped_feature() -> None:
    spec = {"key": {"dtype": "string", "shape": []}, "n": {"dtype": "int64", "shape": []}}
    dec = ExampleDecoder(spec, text=["key"])
    with pytest.raises(ExampleDecodeError, match="feature 'n' is missing"):
        dec.decode(encode_example({"key": "a"}))
    with pytest.raises(ExampleDecodeError, match="feature 'n' holds float32, the spec says int64"):
        dec.decode(encode_example({"key": "a", "n": 1.5}))
    with pytest.raises(ExampleDecodeError, match="feature 'n' has 2 values, expected 1"):
        dec.decode(encode_example({"key": "a", "n": [1, 2]}))
    with pytest.raises(ExampleDecodeError, match="feature 'key' is not UTF-8 text"):
        dec.decode(encode_example({"key": b"\xff", "n": 1}))
    with pytest.raises(ExampleDecodeError, match="truncated|past the end"):
        dec.decode(encode_example({"key": "abc", "n": 1})[:-3])
    with pytest.raises(ValueError, match="only scalar features"):
        ExampleDecoder({"x": {"dtype": "int64", "shape": [2]}})


def test_nan_and_infinities_survive_decoding() -> None:
    record = encode_example({"x": [math.inf, -math.inf, math.nan]})
    _, values = parse_example(record)["x"]
    assert values[:2] == [math.inf, -math.inf] and math.isnan(values[2])
