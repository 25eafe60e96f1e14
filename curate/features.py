"""The features of one example, as stored in every shard, and their spec for readers.

``FEATURE_SPEC`` goes into ``dataset_info.json`` so that any ``tf.data`` user can parse the shards
without this library:

    spec = {k: tf.io.FixedLenFeature(v["shape"], getattr(tf, v["dtype"]))
            for k, v in info["feature_spec"].items()}
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from curate.example_proto import encode_example
from curate.records import SIGNAL_FIELDS, Signals

__all__ = ["FEATURE_SPEC", "feature_spec", "model_fields", "serialize_example"]

# tf.train.Example holds bytes, int64 and float32 lists: a field's Python type picks one.
_DTYPES: dict[type, str] = {str: "string", bytes: "string", int: "int64", float: "float32"}


def _dtype_of(record: type, name: str) -> str:
    """The feature dtype of field ``name`` of the dataclass ``record``, from its type
    (``float | None`` is ``float32``: ``None`` only means the field's model is off)."""
    hint = typing.get_type_hints(record)[name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (hint,) = [t for t in typing.get_args(hint) if t is not type(None)]
    return _DTYPES[hint]


def _spec(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "shape": []}


FEATURE_SPEC: dict[str, dict[str, Any]] = {
    "key": _spec("string"),
    "audio": _spec("string"),  # encoded bytes, codec in dataset_info.json
    "text": _spec("string"),
    "speaker": _spec("string"),
    "sample_rate_hz": _spec("int64"),
    "num_samples": _spec("int64"),
    "channels": _spec("int64"),
    **{f.name: _spec(_dtype_of(Signals, f.name)) for f in dataclasses.fields(Signals)},
}


@functools.cache
def _model_dtypes() -> dict[str, str]:
    """Model-signal field -> dtype, from ``curate.models.records.ModelSignals``."""
    from curate.models.records import ModelSignals

    return {f.name: _dtype_of(ModelSignals, f.name) for f in dataclasses.fields(ModelSignals)}


def model_fields(enabled: Sequence[str]) -> tuple[str, ...]:
    """The model-signal fields that enabled models (``vad``, ``asr``, ``langid``, ``bandwidth``,
    ``dnsmos``) fill."""
    from curate.models.records import MODEL_SIGNAL_FIELDS

    return tuple(f for f in MODEL_SIGNAL_FIELDS if f.split("_", 1)[0] in enabled)


def feature_spec(model_signal_fields: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """``FEATURE_SPEC`` plus the model-signal features of a build with models enabled."""
    dtypes = _model_dtypes()
    return {**FEATURE_SPEC, **{name: _spec(dtypes[name]) for name in model_signal_fields}}


def serialize_example(
    *,
    key: str,
    audio: bytes,
    text: str,
    speaker: str,
    sample_rate_hz: int,
    num_samples: int,
    channels: int,
    signals: Signals,
    model_signals: Mapping[str, Any] | None = None,
) -> bytes:
    """One ``tf.train.Example``, deterministic bytes, holding exactly ``feature_spec(fields)``
    where ``fields`` are the keys of ``model_signals`` (none without models)."""
    features: dict[str, Any] = {
        "key": key,
        "audio": audio,
        "text": text,
        "speaker": speaker,
        "sample_rate_hz": int(sample_rate_hz),
        "num_samples": int(num_samples),
        "channels": int(channels),
        "pcm_sha256": signals.pcm_sha256,
    }
    for name in SIGNAL_FIELDS:
        features[name] = float(getattr(signals, name))
    dtypes = _model_dtypes()
    for name, value in (model_signals or {}).items():
        features[name] = _CASTS[dtypes[name]](value)
    return encode_example(features)


_CASTS: dict[str, Any] = {"string": str, "int64": int, "float32": float}
