"""A small, deterministic encoder for ``tf.train.Example`` protos, without importing TensorFlow.

Pipeline workers serialise an Example per utterance; importing TensorFlow there costs seconds
and hundreds of MB per worker for one message type. The wire format is stable and simple:

    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }
    Feature  { oneof { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    *List    { repeated <type> value = 1 [packed]; }

Map entries are written sorted by key, which is what protobuf's ``deterministic=True``
serialisation produces, so the output is byte-identical to TensorFlow's (a test checks).

>>> encode_example({"n": [3]}).hex()
'0a0c0a0a0a016e12051a030a0103'
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Union

import numpy as np

__all__ = ["FeatureValue", "encode_example"]

FeatureValue = Union[bytes, str, int, float, Sequence[bytes], Sequence[int], Sequence[float]]


_SMALL = tuple(bytes((i,)) for i in range(128))  # one-byte varints, the common case


def _varint(n: int) -> bytes:
    if 0 <= n < 128:
        return _SMALL[n]
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        bits = n & 0x7F
        n >>= 7
        if n:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _len_prefixed(number: int, length: int) -> bytes:
    """The header of a length-delimited field (wire type 2) of ``length`` bytes."""
    return _varint(number << 3 | 2) + _varint(length)


def _values(value: FeatureValue) -> tuple[int, bytes, bytes]:
    """``(oneof field number, list header, payload)`` of one feature's list message: the
    payload is the values themselves, unchanged, for a single bytes/str value, so the (audio)
    bytes are copied once, when the whole Example is joined."""
    if isinstance(value, (bytes, str)):
        data = value.encode("utf-8") if isinstance(value, str) else value
        return 1, _len_prefixed(1, len(data)), data
    if isinstance(value, float):
        return 2, b"\x0a\x04", struct.pack("<f", value)
    if isinstance(value, int) and not isinstance(value, bool):
        packed = _varint(value)
        return 3, _len_prefixed(1, len(packed)), packed
    if isinstance(value, (int, float, np.generic)):
        value = [value]  # type: ignore[list-item]
    values = list(value)  # type: ignore[arg-type]
    if not values:
        return 1, b"", b""  # an empty bytes_list, as TensorFlow writes []
    first = values[0]
    if isinstance(first, (bytes, str)):
        items = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
        return 1, b"", b"".join(_len_prefixed(1, len(v)) + v for v in items)
    if isinstance(first, (float, np.floating)):
        packed = struct.pack(f"<{len(values)}f", *values)
    elif isinstance(first, (int, np.integer)) and not isinstance(first, bool):
        packed = b"".join(_varint(int(v)) for v in values)
    else:
        raise TypeError(f"unsupported feature value type {type(first).__name__}")
    kind = 2 if isinstance(first, (float, np.floating)) else 3
    return kind, _len_prefixed(1, len(packed)), packed


def encode_example(features: Mapping[str, FeatureValue]) -> bytes:
    """Serialise ``features`` as a ``tf.train.Example`` (scalars or lists of bytes/str, int, float).

    Nesting is value list -> Feature -> map entry (key, Feature) -> Features -> Example; each
    level adds a header, and the payloads are joined once, at the end."""
    chunks: list[bytes] = []
    length = 0
    for name in sorted(features):
        kind, list_head, payload = _values(features[name])
        list_len = len(list_head) + len(payload)  # the *List message
        feature_len = len(_len_prefixed(kind, list_len)) + list_len  # the Feature message
        key = name.encode("utf-8")
        entry_head = _len_prefixed(1, len(key)) + key + _len_prefixed(2, feature_len)
        entry_len = len(entry_head) + feature_len
        head = _len_prefixed(1, entry_len) + entry_head + _len_prefixed(kind, list_len) + list_head
        chunks += (head, payload)
        length += len(head) + len(payload)
    return b"".join([_len_prefixed(1, length), *chunks])
