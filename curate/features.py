"""The features of one example, as stored in every shard, and their spec for readers.

``FEATURE_SPEC`` goes into ``dataset_info.json`` so that any ``tf.data`` user can parse the shards
without this library:

    spec = {k: tf.io.FixedLenFeature(v["shape"], getattr(tf, v["dtype"]))
            for k, v in info["feature_spec"].items()}
"""

from __future__ import annotations

from typing import Any

from curate.example_proto import encode_example
from curate.records import SIGNAL_FIELDS, Signals

__all__ = ["FEATURE_SPEC", "serialize_example"]

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
) -> bytes:
    """One ``tf.train.Example``, deterministic bytes, holding exactly ``FEATURE_SPEC``."""
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
    return encode_example(features)
