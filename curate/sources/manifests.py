"""Line-per-utterance manifests: NeMo JSON lines and Common Voice TSV (or CSV).

Both are read with :class:`~apache_beam.io.ReadFromText` as raw bytes, so a large manifest is
split across workers and invalid UTF-8 stays detectable per line. Audio existence is not checked
here (that would cost a stat per row): the decode stage rejects a missing file.

**One input** is one non-blank line (after the header, for TSV/CSV). Outcomes:

- invalid UTF-8 on the line: ``text_not_utf8``;
- not parseable, or a required field missing/empty/mistyped: ``malformed_entry``;
- an audio path that resolves outside ``audio_root`` (``..`` escapes, absolute paths or URIs
  elsewhere): ``path_outside_root``, the detail naming the path and the root;
- otherwise an :class:`Utterance` (text stripped; empty text is left to the filter stage).

**jsonl** (NeMo): ``audio_filepath`` (relative to ``audio_root``, default the manifest's
directory; absolute only inside it), ``text``, optional ``speaker`` (default ``"unknown"``),
``duration`` and ``offset`` in seconds. Key: ``key_prefix`` + the audio file stem; when
``offset`` is present (a segment of a longer file) ``<stem>_<offset in ms, 8 digits>``, e.g.
``talk_00012500`` for 12.5 s, and ``start_s = offset``, ``end_s = offset + duration`` (open
ended without ``duration``). Without ``offset`` the whole file is used and ``duration`` is
ignored (the decode stage measures it).

**tsv** (Common Voice ``validated.tsv``; a ``.csv`` file is read as CSV): a header row naming at
least ``client_id``, ``path``, ``sentence`` (read when the transform is built, so every split of
the file knows the column order). TSV is read with no quoting (Common Voice writes quotes
literally: ``"Hi," she said``); CSV with standard quoting (``"a, b"``, ``""`` for a quote) but
one record per line. Speaker: ``client_id``; audio: ``path`` relative to ``audio_root``
(default ``<tsv dir>/clips``); key: ``key_prefix`` + the stem of ``path``.
"""

from __future__ import annotations

import csv
import enum
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam import coders
from apache_beam.io.filesystems import FileSystems

from curate.config import SourceConfig
from curate.errors import InputRejected, Reason
from curate.records import Utterance
from curate.sources import paths
from curate.sources.common import (
    MAX_SECONDS,
    UNKNOWN_SPEAKER,
    Outcome,
    decode_line,
    rejection,
    require_regular_file,
    resolve_audio,
    snippet,
    source_error,
    strip_bom,
)

__all__ = [
    "REQUIRED_COLUMNS",
    "JsonlLayout",
    "ReadJsonlManifest",
    "ReadTableManifest",
    "TableDialect",
    "TableLayout",
    "segment_key",
]

REQUIRED_COLUMNS = ("client_id", "path", "sentence")
_MAX_HEADER_BYTES = 1 << 16


def segment_key(stem: str, offset_s: float) -> str:
    """The key of a segment starting ``offset_s`` into the file ``stem``: ``<stem>_<ms:08d>``."""
    return f"{stem}_{round(offset_s * 1000):08d}"


def _malformed(what: str) -> InputRejected:
    return InputRejected(Reason.MALFORMED_ENTRY, what)


# --- jsonl ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class JsonlLayout:
    path: str
    audio_root: str
    key_prefix: str = ""

    @classmethod
    def from_config(cls, source: SourceConfig, index: int) -> JsonlLayout:
        path = paths.normalise(source.path)
        if not FileSystems.exists(path):
            raise source_error(index, "jsonl", path, "manifest file not found")
        require_regular_file(index, "jsonl", path)
        root = paths.normalise(source.audio_root or paths.dirname(path))
        return cls(path=path, audio_root=root, key_prefix=source.key_prefix)


class ReadJsonlManifest(beam.PTransform):
    """Reads one NeMo manifest into outcomes (:class:`Utterance` or :class:`Rejection`)."""

    def __init__(self, layout: JsonlLayout) -> None:
        super().__init__()
        self._layout = layout

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[Outcome]:
        return (
            pbegin
            | "ReadLines" >> beam.io.ReadFromText(self._layout.path, coder=coders.BytesCoder())
            | "Parse" >> beam.FlatMap(_jsonl_outcomes, self._layout)  # bytes -> Outcome
        )


def _jsonl_outcomes(raw: bytes, layout: JsonlLayout) -> Iterator[Outcome]:
    if not raw.strip():
        return
    try:
        yield _jsonl_utterance(raw, layout)
    except InputRejected as e:
        key, audio_uri = _jsonl_names(raw, layout)
        yield rejection(key=key, source_uri=layout.path, audio_uri=audio_uri, error=e)


def _seconds(obj: dict[str, Any], field: str) -> float | None:
    value = obj.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _malformed(f"{field!r} must be a number of seconds, got {_short(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _malformed(f"{field!r} must be a finite number of seconds, got {value!r}")
    if value < 0:
        raise _malformed(f"{field!r} must not be negative, got {_short(value)}")
    if value > MAX_SECONDS:  # (compared before float(): an int of 400 digits overflows it)
        raise _malformed(f"{field!r} is {_short(value)} s, more than {MAX_SECONDS:g} s")
    return float(value)


def _short(value: Any) -> str:
    """``repr`` of a value for a detail, at most 40 characters (a JSON int may have 4000 digits)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _jsonl_key(obj: dict[str, Any], layout: JsonlLayout) -> str:
    stem = paths.stem(obj["audio_filepath"])
    offset = _seconds(obj, "offset")
    return layout.key_prefix + (stem if offset is None else segment_key(stem, offset))


def _jsonl_utterance(raw: bytes, layout: JsonlLayout) -> Utterance:
    try:  # ValueError: also an integer too long to convert (Python refuses > 4300 digits)
        obj = json.loads(decode_line(strip_bom(raw)))
    except (ValueError, RecursionError) as e:
        raise _malformed(f"not valid JSON ({_short_error(e)}): {snippet(raw)}") from None
    if not isinstance(obj, dict):
        raise _malformed(f"expected a JSON object: {snippet(raw)}")
    audio = obj.get("audio_filepath")
    if not isinstance(audio, str) or not audio.strip():
        raise _malformed(f"missing or empty 'audio_filepath': {snippet(raw)}")
    text = obj.get("text")
    if not isinstance(text, str):
        raise _malformed(f"missing 'text' (a string): {snippet(raw)}")
    speaker = obj.get("speaker")
    if isinstance(speaker, bool) or not isinstance(speaker, (str, int, type(None))):
        raise _malformed(f"'speaker' must be a string or an integer, got {speaker!r}")
    for field in ("audio_filepath", "text", "speaker"):
        _check_encodable(obj.get(field), field)
    offset, duration = _seconds(obj, "offset"), _seconds(obj, "duration")
    return Utterance(
        key=_jsonl_key(obj, layout),
        audio_uri=resolve_audio(audio, layout.audio_root),
        text=text.strip(),
        speaker=UNKNOWN_SPEAKER if speaker is None else (str(speaker).strip() or UNKNOWN_SPEAKER),
        source_uri=layout.path,
        start_s=offset or 0.0,
        end_s=offset + duration if offset is not None and duration is not None else None,
    )


def _short_error(e: BaseException) -> str:
    text = str(e)
    return text if len(text) <= 120 else text[:120] + "…"


def _check_encodable(value: Any, field: str) -> None:
    """JSON ``\\ud800`` escapes decode to lone surrogates, which no UTF-8 writer accepts."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InputRejected(
                Reason.TEXT_NOT_UTF8, f"{field!r} has an unpaired surrogate escape at {e.start}"
            ) from None


def _jsonl_names(raw: bytes, layout: JsonlLayout) -> tuple[str, str]:
    """Best-effort key and audio uri of a rejected line, for the rejection row."""
    try:
        obj = json.loads(strip_bom(raw).decode("utf-8", errors="replace"))
        audio = obj["audio_filepath"]
        if not isinstance(audio, str):  # a list, a number…: no name (the fuzz layer found it)
            return "", ""
        uri = paths.normalise(paths.join(layout.audio_root, audio))
    except (ValueError, LookupError, TypeError, RecursionError):  # unparseable: no name
        return "", ""
    try:
        return _jsonl_key(obj, layout), uri
    except InputRejected:  # a bad offset: the stem alone
        return layout.key_prefix + paths.stem(audio), uri


# --- tsv / csv -----------------------------------------------------------------------------


class TableDialect(str, enum.Enum):
    TSV = "tsv"  # tab separated, quotes are literal characters (Common Voice)
    CSV = "csv"  # comma separated, standard quoting

    @classmethod
    def for_path(cls, path: str) -> TableDialect:
        name = paths.basename(path).lower()
        for compressed in (".gz", ".bz2", ".zst", ".deflate"):
            name = name.removesuffix(compressed)
        return cls.CSV if name.endswith(".csv") else cls.TSV

    def split(self, line: str, *, strict: bool = True) -> list[str]:
        """The fields of one decoded line; :class:`csv.Error` if it is not a valid record."""
        if self is TableDialect.CSV:
            rows = list(csv.reader([line], dialect=csv.excel, strict=strict))
        else:
            rows = list(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE, strict=strict))
        return rows[0] if rows else []


@dataclass(frozen=True, kw_only=True, slots=True)
class TableLayout:
    path: str
    audio_root: str
    dialect: TableDialect
    columns: tuple[str, ...]
    key_prefix: str = ""

    @classmethod
    def from_config(cls, source: SourceConfig, index: int) -> TableLayout:
        """Check the file exists and read its header row."""
        path = paths.normalise(source.path)
        if not FileSystems.exists(path):
            raise source_error(index, "tsv", path, "manifest file not found")
        require_regular_file(index, "tsv", path)
        dialect = TableDialect.for_path(path)
        with FileSystems.open(path) as f:
            header = f.readline(_MAX_HEADER_BYTES)
        try:
            header_line = header.decode("utf-8-sig").rstrip("\r\n")
            columns = tuple(c.strip() for c in dialect.split(header_line))
        except (UnicodeDecodeError, csv.Error) as e:
            raise source_error(index, "tsv", path, f"unreadable header row: {e}") from e
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise source_error(
                index, "tsv", path, f"header row lacks column(s) {', '.join(missing)}: {columns}"
            )
        root = paths.normalise(source.audio_root or paths.join(paths.dirname(path), "clips"))
        return cls(
            path=path,
            audio_root=root,
            dialect=dialect,
            columns=columns,
            key_prefix=source.key_prefix,
        )

    def field(self, row: list[str], name: str) -> str:
        return row[self.columns.index(name)].strip()


class ReadTableManifest(beam.PTransform):
    """Reads one Common Voice TSV/CSV into outcomes (:class:`Utterance` or :class:`Rejection`)."""

    def __init__(self, layout: TableLayout) -> None:
        super().__init__()
        self._layout = layout

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[Outcome]:
        return (
            pbegin
            | "ReadRows"
            >> beam.io.ReadFromText(
                self._layout.path, coder=coders.BytesCoder(), skip_header_lines=1
            )
            | "Parse" >> beam.FlatMap(_table_outcomes, self._layout)  # bytes -> Outcome
        )


def _table_outcomes(raw: bytes, layout: TableLayout) -> Iterator[Outcome]:
    if not raw.strip():
        return
    try:
        yield _table_utterance(_table_row(decode_line(raw), raw, layout), layout)
    except InputRejected as e:
        key, audio_uri = _table_names(raw, layout)
        yield rejection(key=key, source_uri=layout.path, audio_uri=audio_uri, error=e)


def _table_row(line: str, raw: bytes, layout: TableLayout) -> list[str]:
    try:
        row = layout.dialect.split(line)
    except csv.Error as e:
        kind = layout.dialect.value
        raise _malformed(f"not a valid {kind} record ({e}): {snippet(raw)}") from None
    if len(row) > len(layout.columns):
        raise _malformed(f"{len(row)} fields, the header has {len(layout.columns)}: {snippet(raw)}")
    needed = max(layout.columns.index(c) for c in REQUIRED_COLUMNS) + 1
    if len(row) < needed:
        required = ", ".join(REQUIRED_COLUMNS)
        raise _malformed(f"{len(row)} fields, too few for {required}: {snippet(raw)}")
    if not layout.field(row, "path"):
        raise _malformed(f"empty 'path': {snippet(raw)}")
    return row


def _table_utterance(row: list[str], layout: TableLayout) -> Utterance:
    audio = layout.field(row, "path")
    return Utterance(
        key=layout.key_prefix + paths.stem(audio),
        audio_uri=resolve_audio(audio, layout.audio_root),
        text=layout.field(row, "sentence"),
        speaker=layout.field(row, "client_id") or UNKNOWN_SPEAKER,
        source_uri=layout.path,
    )


def _table_names(raw: bytes, layout: TableLayout) -> tuple[str, str]:
    """Best-effort key and audio uri of a rejected row, for the rejection row."""
    try:
        row = layout.dialect.split(raw.decode("utf-8", errors="replace"), strict=False)
        audio = layout.field(row, "path")
    except (csv.Error, IndexError):
        return "", ""
    if not audio:
        return "", ""
    uri = paths.normalise(paths.join(layout.audio_root, audio))
    return layout.key_prefix + paths.stem(audio), uri
