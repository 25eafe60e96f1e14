"""Pieces the layout readers share: line decoding, keyed-table entries, audio path resolution.

Each reader turns its inputs into *outcomes*: an :class:`Utterance` or a source-stage
:class:`Rejection`, one per input. :mod:`curate.sources.read` routes them to the two outputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Union

from curate.errors import ConfigError, InputRejected, Reason, Stage
from curate.records import Rejection, Utterance
from curate.sources import paths

__all__ = [
    "BOM",
    "MAX_SECONDS",
    "UNKNOWN_SPEAKER",
    "Entry",
    "KEYED_ENTRY",
    "Outcome",
    "decode_line",
    "duplicate_of",
    "parse_keyed_line",
    "pick_first",
    "rejection",
    "require_regular_file",
    "resolve_audio",
    "source_error",
    "snippet",
    "strip_bom",
]

Outcome = Union[Utterance, Rejection]
UNKNOWN_SPEAKER = "unknown"
BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte-order mark some editors put at the start of a file: never part of a key."""
MAX_SECONDS = 1e7
"""The largest time in seconds (an offset, a duration, a segment's start or end) a manifest
may give: about 116 days, far past any recording, and small enough that milliseconds and
frame counts computed from it stay exact integers. Beyond it a line is ``malformed_entry``."""


def strip_bom(raw: bytes) -> bytes:
    """``raw`` without a leading UTF-8 byte-order mark. Readers split files into lines across
    workers and cannot tell the first line from the others, so every line is stripped (a BOM
    inside a file, as left by concatenating files, is no more part of a key than the first)."""
    return raw[len(BOM):] if raw.startswith(BOM) else raw


def source_error(index: int, kind: str, path: str, problem: str) -> ConfigError:
    """A one-line error about a whole source, naming its index in the config and its path."""
    return ConfigError(f"sources[{index}] ({kind} {path}): {problem}")


def require_regular_file(index: int, kind: str, path: str) -> None:
    """:func:`source_error` unless ``path`` (a manifest or table the config names) is a regular
    file: reading a FIFO would wait forever, a link to ``/dev/zero`` would never end."""
    from curate.fsio import special_file_kind

    what = special_file_kind(path)
    if what is not None:
        name = paths.basename(path)
        raise source_error(index, kind, path, f"{name} is {what}, not a regular file")


def rejection(*, key: str, source_uri: str, audio_uri: str = "", error: InputRejected) -> Rejection:
    return Rejection(
        key=key,
        source_uri=source_uri,
        audio_uri=audio_uri,
        stage=Stage.SOURCE,
        reason=error.reason,
        detail=error.detail,
    )


def snippet(raw: bytes | str, limit: int = 80) -> str:
    """A short printable excerpt of a line for rejection details."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return repr(text if len(text) <= limit else text[:limit] + "…")


def decode_line(raw: bytes) -> str:
    """UTF-8 text of one line; :class:`InputRejected` ``TEXT_NOT_UTF8`` naming the bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputRejected(
            Reason.TEXT_NOT_UTF8, f"not valid UTF-8 at byte {e.start}: {snippet(raw)}"
        ) from None


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """One line of a keyed table (``KEY VALUE``, e.g. ``text``, ``wav.scp``, ``*.trans.txt``).

    ``value`` is the rest of the line, stripped; ``reason``/``detail`` say why the line cannot be
    used (the key was still readable, so the line can be joined with the other tables).
    """

    source_uri: str
    value: str
    reason: Reason | None = None
    detail: str = ""

    @property
    def error(self) -> InputRejected | None:
        return None if self.reason is None else InputRejected(self.reason, self.detail)

    def sort_key(self) -> tuple[str, str]:
        return (self.source_uri, self.value)


# The element type of a keyed table, declared on the steps that feed a CoGroupByKey: a ``str`` key
# gets Beam's string coder instead of a pickled one, which Beam's Prism runner (2.62) cannot take
# as a CoGroupByKey key ("unknown coder urn key: beam:coder:pickled_python:v1"). Beam 2.62 does not
# infer it from the functions' annotations.
KEYED_ENTRY = tuple[str, Entry]


def parse_keyed_line(raw: bytes, source_uri: str) -> tuple[str, Entry] | None:
    """``(key, Entry)`` for a ``KEY [VALUE]`` line; ``None`` for a blank line.

    The line is split at its first run of whitespace; a leading byte-order mark and the line
    end (``\n``, ``\r\n``) are dropped. Invalid UTF-8 makes the entry an error
    (``TEXT_NOT_UTF8``) while keeping the key (decoded with replacement characters if need be),
    so one bad line never spoils its neighbours.
    """
    line = strip_bom(raw.strip()).strip()
    parts = line.split(None, 1)
    if not parts:
        return None
    key = parts[0].decode("utf-8", errors="replace")
    try:
        decode_line(line)
    except InputRejected as e:
        return key, Entry(source_uri=source_uri, value="", reason=e.reason, detail=e.detail)
    value = parts[1].decode("utf-8").strip() if len(parts) > 1 else ""
    return key, Entry(source_uri=source_uri, value=value)


def pick_first(entries: Iterable[Entry]) -> tuple[Entry | None, list[Entry]]:
    """The entry to use among several lines naming one key in one table, and the surplus.

    The kept entry is the smallest by (source uri, value), so the choice does not depend on the
    order bundles arrive in. Each surplus line is one more input, rejected with
    :func:`duplicate_of`.
    """
    ordered = sorted(entries, key=Entry.sort_key)
    return (ordered[0], ordered[1:]) if ordered else (None, [])


def duplicate_of(key: str, kept_from: str) -> InputRejected:
    return InputRejected(Reason.DUPLICATE_KEY, f"key {key!r} also read from {kept_from}")


def resolve_audio(raw: str, audio_root: str) -> str:
    """The normalised audio URI for ``raw`` (relative to ``audio_root`` unless absolute).

    Raises :class:`InputRejected` ``PATH_OUTSIDE_ROOT`` if it is not inside ``audio_root``, by
    its name or, for a local path, through a symlink (see :func:`paths.resolves_within`).
    """
    if "\x00" in raw:  # no filesystem takes it (and os.path.realpath raises on it)
        raise InputRejected(Reason.MALFORMED_ENTRY, f"audio path {raw!r} holds a NUL character")
    resolved = paths.normalise(paths.join(audio_root, raw))
    if not paths.is_within(audio_root, resolved):
        raise InputRejected(
            Reason.PATH_OUTSIDE_ROOT,
            f"audio path {raw!r} resolves to {resolved}, outside audio_root {audio_root}",
        )
    if not paths.resolves_within(audio_root, resolved):
        raise InputRejected(
            Reason.PATH_OUTSIDE_ROOT,
            f"audio path {raw!r} is a symlink to {os.path.realpath(resolved)}, outside "
            f"audio_root {audio_root}",
        )
    return resolved

