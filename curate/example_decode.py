"""Decoding ``tf.train.Example`` records without TensorFlow: the inverse of
:mod:`curate.example_proto`.

Training loaders (PyTorch, Grain, Ray, Spark, Hugging Face) read the shards in processes that
should not import TensorFlow (seconds and hundreds of MB per worker). The wire format is small:

    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }
    Feature  { oneof { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    *List    { repeated <type> value = 1; }   (numbers packed or not: parsers accept both)

:func:`parse_example` reads any Example into ``{name: (kind, values)}``, as protobuf does:
unknown fields are skipped, a repeated map key keeps its last entry, a Feature whose oneof is
set twice keeps the last one. :class:`ExampleDecoder` applies a ``feature_spec`` (as in
``dataset_info.json``) and returns one plain value per feature, exactly what
``tf.io.parse_single_example`` gives for ``FixedLenFeature([], dtype)``: bytes (or text),
int, or a float32 value as a Python float.

>>> from curate.example_proto import encode_example
>>> record = encode_example({"key": "a", "n": 3, "x": 0.5})
>>> parse_example(record)["n"]
(<Kind.INT64: 'int64'>, [3])
>>> ExampleDecoder({"key": {"dtype": "string", "shape": []}, "n": {"dtype": "int64", "shape": []}},
...                text=("key",)).decode(record)
{'key': 'a', 'n': 3}
"""

from __future__ import annotations

import enum
import io
import struct
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

__all__ = [
    "AUDIO_DTYPES",
    "ExampleDecodeError",
    "ExampleDecoder",
    "Kind",
    "decode_audio",
    "parse_example",
]


class ExampleDecodeError(ValueError):
    """A record that is no valid ``tf.train.Example``, or lacks a feature of the spec."""


class Kind(str, enum.Enum):
    """The value list a ``Feature`` holds (its oneof); the names are the spec's dtypes."""

    BYTES = "string"
    FLOAT = "float32"
    INT64 = "int64"


_KIND_OF_FIELD = {1: Kind.BYTES, 2: Kind.FLOAT, 3: Kind.INT64}
_VARINT, _FIXED64, _LEN, _START_GROUP, _END_GROUP, _FIXED32 = 0, 1, 2, 3, 4, 5


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, next position) of the unsigned varint at ``pos``."""
    result = shift = 0
    while True:
        if pos >= end:
            raise ExampleDecodeError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ExampleDecodeError("varint longer than 10 bytes")


def _tag(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(field number, wire type, next position) of the tag at ``pos``."""
    tag, pos = _varint(data, pos, end)
    if tag >> 3 == 0 or tag >= 1 << 32:
        raise ExampleDecodeError(f"invalid field tag {tag}")
    return tag >> 3, tag & 7, pos


def _skip(data: bytes, pos: int, end: int, wire: int, number: int = 0) -> int:
    """The position after an (unknown) field of wire type ``wire`` whose tag ended at ``pos``."""
    if wire == _VARINT:
        return _varint(data, pos, end)[1]
    if wire == _FIXED64:
        pos += 8
    elif wire == _FIXED32:
        pos += 4
    elif wire == _LEN:
        n, pos = _varint(data, pos, end)
        pos += n
    elif wire == _START_GROUP:  # skipped up to its matching end-group tag, as protobuf does
        while True:
            if pos >= end:
                raise ExampleDecodeError("unterminated group")
            inner, inner_wire, pos = _tag(data, pos, end)
            if inner_wire == _END_GROUP:
                if inner != number:
                    raise ExampleDecodeError("mismatched end-group tag")
                return pos
            pos = _skip(data, pos, end, inner_wire, inner)
    else:
        raise ExampleDecodeError(f"unexpected wire type {wire}")
    if pos > end:
        raise ExampleDecodeError("field runs past the end of its message")
    return pos


def _length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(start, end) of the length-delimited payload whose length varint is at ``pos``."""
    n, pos = _varint(data, pos, end)
    if pos + n > end:
        raise ExampleDecodeError("length-delimited field runs past the end of its message")
    return pos, pos + n


def _signed64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def _list_values(data: bytes, pos: int, end: int, kind: Kind) -> list[Any]:
    """The values of a BytesList / FloatList / Int64List message in ``data[pos:end]``."""
    values: list[Any] = []
    while pos < end:
        number, wire, pos = _tag(data, pos, end)
        if number != 1:
            pos = _skip(data, pos, end, wire, number)
            continue
        if kind is Kind.BYTES:
            if wire != _LEN:  # a wire type that does not match is an unknown field
                pos = _skip(data, pos, end, wire, number)
                continue
            start, pos = _length(data, pos, end)
            values.append(bytes(data[start:pos]))
        elif kind is Kind.FLOAT:
            if wire == _LEN:  # packed
                start, pos = _length(data, pos, end)
                if (pos - start) % 4:
                    raise ExampleDecodeError("packed float_list is not a multiple of 4 bytes")
                values.extend(struct.unpack_from(f"<{(pos - start) // 4}f", data, start))
            elif wire == _FIXED32:
                if pos + 4 > end:
                    raise ExampleDecodeError("truncated float")
                values.append(struct.unpack_from("<f", data, pos)[0])
                pos += 4
            else:
                pos = _skip(data, pos, end, wire, number)
        else:
            if wire == _LEN:  # packed
                start, pos = _length(data, pos, end)
                while start < pos:
                    v, start = _varint(data, start, pos)
                    values.append(_signed64(v))
            elif wire == _VARINT:
                v, pos = _varint(data, pos, end)
                values.append(_signed64(v))
            else:
                pos = _skip(data, pos, end, wire, number)
    return values


def _feature(data: bytes, segments: list[tuple[int, int]]) -> tuple[Kind | None, list[Any]]:
    """A Feature message (given as the segments of its occurrences, which protobuf merges): the
    last value list set wins, as for a oneof; repeats of the same one are concatenated."""
    kind: Kind | None = None
    values: list[Any] = []
    for pos, end in segments:
        while pos < end:
            number, wire, pos = _tag(data, pos, end)
            field_kind = _KIND_OF_FIELD.get(number)
            if field_kind is None or wire != _LEN:
                pos = _skip(data, pos, end, wire, number)
                continue
            start, pos = _length(data, pos, end)
            if field_kind is not kind:
                kind, values = field_kind, []
            values.extend(_list_values(data, start, pos, field_kind))
    return kind, values


def _map_entry(data: bytes, pos: int, end: int, names: Collection[str] | None = None,
               ) -> tuple[str, tuple[Kind | None, list[Any]]] | None:
    """(name, feature) of a map entry; None for an entry holding unknown fields, which
    protobuf (upb, behind ``tf.train.Example``) sets aside instead of adding to the map, and
    for a feature not in ``names`` (when given: its values are not even read)."""
    key = b""
    segments: list[tuple[int, int]] = []
    unknown = False
    while pos < end:
        number, wire, pos = _tag(data, pos, end)
        if wire != _LEN or number not in (1, 2):
            pos = _skip(data, pos, end, wire, number)
            unknown = True
            continue
        start, pos = _length(data, pos, end)
        if number == 1:
            key = bytes(data[start:pos])
        else:
            segments.append((start, pos))
    try:
        name = key.decode("utf-8")
    except UnicodeDecodeError:
        raise ExampleDecodeError(f"feature name {key!r} is not UTF-8") from None
    if names is not None and name not in names:
        return None
    feature = _feature(data, segments)  # read (and checked) even when set aside, as upb does
    return None if unknown else (name, feature)


def _message_fields(data: bytes, pos: int, end: int, number: int):
    """(start, end) of every length-delimited field ``number`` of the message in ``data[pos:end]``."""
    while pos < end:
        got, wire, pos = _tag(data, pos, end)
        if got == number and wire == _LEN:
            start, pos = _length(data, pos, end)
            yield start, pos
        else:
            pos = _skip(data, pos, end, wire, got)


def parse_example(record: bytes, names: Collection[str] | None = None,
                  ) -> dict[str, tuple[Kind | None, list[Any]]]:
    """Every feature of a serialized Example (or those in ``names``): ``{name: (kind,
    values)}``; ``kind`` is None for a Feature with no value list set. Raises
    :class:`ExampleDecodeError` for malformed bytes (in the features not in ``names``, only
    for a malformed message frame: their values are skipped unread)."""
    features: dict[str, tuple[Kind | None, list[Any]]] = {}
    end = len(record)
    for fs, fe in _message_fields(record, 0, end, 1):  # Example.features (merged if repeated)
        for es, ee in _message_fields(record, fs, fe, 1):  # Features.feature map entries
            entry = _map_entry(record, es, ee, names)
            if entry is not None:
                features[entry[0]] = entry[1]
    return features


class ExampleDecoder:
    """Decodes records holding exactly the features of a ``feature_spec`` (shape ``[]``:
    one value each), as ``tf.io.parse_single_example`` with ``FixedLenFeature([], dtype)``.

    ``string`` features come back as ``bytes``, or as ``str`` for the names in ``text``;
    ``int64`` as ``int``; ``float32`` as the float32 value (a Python float holding it exactly).
    A missing feature, a feature of another kind, or one with other than one value is an
    :class:`ExampleDecodeError` naming it."""

    def __init__(self, feature_spec: Mapping[str, Mapping[str, Any]], *,
                 text: Collection[str] = ()) -> None:
        self._spec: dict[str, Kind] = {}
        for name, f in feature_spec.items():
            if list(f.get("shape", [])) != []:
                raise ValueError(f"feature '{name}': only scalar features (shape []) are supported")
            try:
                self._spec[name] = Kind(f["dtype"])
            except ValueError:
                raise ValueError(f"feature '{name}': unknown dtype {f['dtype']!r}") from None
        unknown = set(text) - set(self._spec)
        if unknown:
            raise ValueError(f"text features not in the spec: {', '.join(sorted(unknown))}")
        self._text = frozenset(text)

    @property
    def names(self) -> list[str]:
        return list(self._spec)

    def decode(self, record: bytes) -> dict[str, Any]:
        parsed = parse_example(record, self._spec)
        out: dict[str, Any] = {}
        for name, kind in self._spec.items():
            got = parsed.get(name)
            if got is None:
                raise ExampleDecodeError(f"feature '{name}' is missing")
            got_kind, values = got
            if got_kind is not kind:
                what = got_kind.value if got_kind else "no value list"
                raise ExampleDecodeError(f"feature '{name}' holds {what}, the spec says {kind.value}")
            if len(values) != 1:
                raise ExampleDecodeError(f"feature '{name}' has {len(values)} values, expected 1")
            value = values[0]
            if name in self._text:
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise ExampleDecodeError(f"feature '{name}' is not UTF-8 text") from None
            out[name] = value
        return out


AUDIO_DTYPES = ("float32", "int16")


def decode_audio(encoded: bytes, dtype: str = "float32") -> np.ndarray:
    """Encoded audio (FLAC, WAV…) as samples: ``[n]`` for mono, ``[n, channels]`` otherwise.
    ``float32`` in [-1, 1] is what ``tf_dataset`` gives; ``int16`` is the 16-bit PCM the
    build stores, at half the bytes (what a worker process sends its parent)."""
    import soundfile as sf

    if dtype not in AUDIO_DTYPES:
        raise ValueError(f"audio dtype must be one of {', '.join(AUDIO_DTYPES)}, not {dtype!r}")
    samples, _ = sf.read(io.BytesIO(encoded), dtype=dtype, always_2d=False)
    return samples
