"""The features of one example, as stored in every shard, and their spec for readers.

``FEATURE_SPEC`` goes into ``dataset_info.json`` so that any ``tf.data`` user can parse the shards
without this library:

    spec = {k: tf.io.FixedLenFeature(v["shape"], getattr(tf, v["dtype"]))
            for k, v in info["feature_spec"].items()}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from curate.example_proto import encode_example
from curate.records import SIGNAL_FIELDS, Signals

__all__ = ["FEATURE_SPEC", "feature_spec", "model_fields", "serialize_example"]

FEATURE_SPEC: dict[str, dict[str, Any]] = {
    "key": {"dtype": "string", "shape": []},
    "audio": {"dtype": "string", "shape": []},  # encoded bytes, codec in dataset_info.json
    "text": {"dtype": "string", "shape": []},
    "speaker": {"dtype": "string", "shape": []},
    "sample_rate_hz": {"dtype": "int64", "shape": []},
    "num_samples": {"dtype": "int64", "shape": []},
    "channels": {"dtype": "int64", "shape": []},
    **{name: {"dtype": "float32", "shape": []} for name in SIGNAL_FIELDS},
    "pcm_sha256": {"dtype": "string", "shape": []},
}


def _model_dtype(name: str) -> str:
    """The dtype of a model-signal field (``curate.models.records.ModelSignals``) by its name."""
    if name.endswith(("_model", "_hypothesis", "_language")):
        return "string"
    if name.endswith(("_sample", "_words", "_errors", "_chars")):
        return "int64"
    return "float32"


def model_fields(enabled: Sequence[str]) -> tuple[str, ...]:
    """The model-signal fields that enabled models (``vad``, ``asr``, ``langid``) fill."""
    from curate.models.records import MODEL_SIGNAL_FIELDS

    return tuple(f for f in MODEL_SIGNAL_FIELDS if f.split("_", 1)[0] in enabled)


def feature_spec(model_signal_fields: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """``FEATURE_SPEC`` plus the model-signal features of a build with models enabled."""
    spec = dict(FEATURE_SPEC)
    for name in model_signal_fields:
        spec[name] = {"dtype": _model_dtype(name), "shape": []}
    return spec


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
    for name, value in (model_signals or {}).items():
        dtype = _model_dtype(name)
        features[name] = value if dtype == "string" else int(value) if dtype == "int64" else float(value)
    return encode_example(features)
