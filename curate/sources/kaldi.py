"""Kaldi data directory: ``wav.scp``, ``text``, optional ``utt2spk`` and ``segments``.

Each table is read with :class:`~apache_beam.io.ReadFromText` (raw bytes, split across
workers), parsed as ``ID REST`` lines and joined by id with ``CoGroupByKey``. Audio is never
opened. ``wav.scp`` paths are resolved against ``audio_root`` (default: the data dir) and must
stay inside it: Kaldi dirs usually hold absolute paths, so set ``audio_root`` to their common
prefix (``/``, if it must be). Pipe commands (``... |``) and archive offsets (``x.ark:123``) are
``unsupported_path``. A missing ``utt2spk`` file or entry gives speaker ``"unknown"``.

**Without segments**, recording id = utterance id, and **one input** is one id named in
``wav.scp`` or ``text``: both give an :class:`Utterance`; only ``wav.scp`` gives
``missing_transcript``; only ``text`` gives ``missing_audio``.

**With segments**, **one input** is one utterance id named in ``segments`` or ``text``: a
``segments`` line (``<utt-id> <rec-id> <start> <end>``, seconds; end ``-1`` = to the end of the
recording) plus a ``text`` line gives an :class:`Utterance` with ``start_s``/``end_s``; only
``segments`` gives ``missing_transcript``; only ``text`` gives ``missing_audio``; a recording
id missing from ``wav.scp`` gives ``missing_audio``. Recordings no segment uses are not inputs.

In both modes: an id listed again in the same table counts one more input per extra line,
rejected as ``duplicate_key`` (the smallest line is kept); a line that is not valid UTF-8 is
``text_not_utf8``, a line that cannot be parsed ``malformed_entry``. Key: ``key_prefix`` +
utterance id. ``source_uri``: the ``text`` file for utterances, the file whose line is at fault
for rejections.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam import coders
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from curate.config import SourceConfig
from curate.errors import InputRejected, Reason
from curate.records import Utterance
from curate.sources import paths
from curate.sources.common import (
    KEYED_ENTRY,
    MAX_SECONDS,
    UNKNOWN_SPEAKER,
    Entry,
    Outcome,
    duplicate_of,
    parse_keyed_line,
    pick_first,
    rejection,
    require_regular_file,
    resolve_audio,
    source_error,
)

__all__ = ["KaldiLayout", "ReadKaldiDir"]

WAV_SCP, TEXT, UTT2SPK, SEGMENTS = "wav.scp", "text", "utt2spk", "segments"
_PENDING, _DONE = "pending", "done"  # outputs of the segment join
_ARCHIVE_OFFSET = re.compile(r"\.ark:\d+$")


@dataclass(frozen=True, kw_only=True, slots=True)
class KaldiLayout:
    data_dir: str
    audio_root: str
    has_utt2spk: bool
    has_segments: bool
    key_prefix: str = ""

    def file(self, name: str) -> str:
        return paths.join(self.data_dir, name)

    @classmethod
    def from_config(cls, source: SourceConfig, index: int) -> KaldiLayout:
        """Check ``wav.scp`` and ``text`` exist; note whether ``utt2spk``/``segments`` do."""
        data_dir = paths.normalise(source.path)
        for required in (WAV_SCP, TEXT):
            if not FileSystems.exists(paths.join(data_dir, required)):
                raise source_error(index, "kaldi", data_dir, f"data dir has no {required}")
        layout = cls(
            data_dir=data_dir,
            audio_root=paths.normalise(source.audio_root or data_dir),
            has_utt2spk=FileSystems.exists(paths.join(data_dir, UTT2SPK)),
            has_segments=FileSystems.exists(paths.join(data_dir, SEGMENTS)),
            key_prefix=source.key_prefix,
        )
        for name in layout.tables():
            require_regular_file(index, "kaldi", layout.file(name))
        return layout

    def tables(self) -> tuple[str, ...]:
        """The tables this data dir has, of ``wav.scp``, ``text``, ``utt2spk``, ``segments``."""
        return (WAV_SCP, TEXT) + ((UTT2SPK,) if self.has_utt2spk else ()) + (
            (SEGMENTS,) if self.has_segments else ())


@dataclass(frozen=True, kw_only=True, slots=True)
class _Pending:
    """A segment with its transcript, waiting for its recording's ``wav.scp`` entry."""

    key: str
    text: str
    speaker: str
    start_s: float
    end_s: float | None
    text_uri: str
    segments_uri: str


class ReadKaldiDir(beam.PTransform):
    """Reads one Kaldi data dir into outcomes (:class:`Utterance` or :class:`Rejection`)."""

    def __init__(self, layout: KaldiLayout) -> None:
        super().__init__()
        self._layout = layout

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[Outcome]:
        layout = self._layout
        wav = pbegin | "ReadWavScp" >> _ReadTable(layout.file(WAV_SCP))  # (rec_id, Entry)
        by_utt = {TEXT: pbegin | "ReadText" >> _ReadTable(layout.file(TEXT))}  # (utt_id, Entry)
        if layout.has_utt2spk:
            by_utt[UTT2SPK] = pbegin | "ReadUtt2spk" >> _ReadTable(layout.file(UTT2SPK))
        if not layout.has_segments:
            return (
                {**by_utt, WAV_SCP: wav}
                | "JoinByUtterance" >> beam.CoGroupByKey()  # (utt_id, {table: [Entry]})
                | "Pair" >> beam.FlatMap(_whole_recording, layout)
            )
        by_utt[SEGMENTS] = pbegin | "ReadSegments" >> _ReadTable(layout.file(SEGMENTS))
        joined = (
            by_utt
            | "JoinByUtterance" >> beam.CoGroupByKey()  # (utt_id, {table: [Entry]})
            | "PairSegments"
            >> beam.FlatMap(_segment, layout)
            .with_output_types(tuple[str, _Pending])
            .with_outputs(_DONE, main=_PENDING)
        )  # main: (rec_id, _Pending); done: Rejection
        resolved = (
            {WAV_SCP: wav, _PENDING: joined[_PENDING]}
            | "JoinByRecording" >> beam.CoGroupByKey()  # (rec_id, {wav.scp, pending})
            | "Resolve" >> beam.FlatMap(_resolve_recording, layout)
        )
        return (joined[_DONE], resolved) | "Merge" >> beam.Flatten()


class _ReadTable(beam.PTransform):
    """``ID REST`` lines of one Kaldi table as ``(id, Entry)``; blank lines skipped."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[tuple[str, Entry]]:
        return (
            pbegin
            | "ReadLines" >> beam.io.ReadFromText(self._path, coder=coders.BytesCoder())
            | "Parse" >> beam.FlatMap(_keyed, self._path).with_output_types(KEYED_ENTRY)
        )


def _keyed(raw: bytes, uri: str) -> Iterator[tuple[str, Entry]]:
    parsed = parse_keyed_line(raw, uri)
    if parsed is not None:
        yield parsed


def _speaker(grouped: dict[str, Any]) -> str:
    entry, _ = pick_first(grouped.get(UTT2SPK, ()))
    if entry is None or entry.error is not None or not entry.value:
        return UNKNOWN_SPEAKER
    return entry.value.split()[0]


def _audio(rec_id: str, wav: Entry, layout: KaldiLayout) -> str:
    """The audio uri of a ``wav.scp`` entry, or :class:`InputRejected`."""
    if wav.error is not None:
        raise wav.error
    value = wav.value
    if not value:
        raise InputRejected(Reason.MALFORMED_ENTRY, f"wav.scp entry {rec_id!r} has no path")
    if value.endswith("|"):
        raise InputRejected(
            Reason.UNSUPPORTED_PATH,
            f"wav.scp entry {rec_id!r} is a pipe command ({value!r}); write the audio to files",
        )
    if _ARCHIVE_OFFSET.search(value):
        raise InputRejected(
            Reason.UNSUPPORTED_PATH, f"wav.scp entry {rec_id!r} is an archive offset ({value!r})"
        )
    return resolve_audio(value, layout.audio_root)


def _duplicates(key: str, extras: list[Entry], kept: Entry, audio_uri: str) -> Iterator[Outcome]:
    for extra in extras:
        yield rejection(
            key=key,
            source_uri=extra.source_uri,
            audio_uri=audio_uri,
            error=duplicate_of(key, f"an earlier line of {kept.source_uri}"),
        )


def _whole_recording(
    element: tuple[str, dict[str, Any]], layout: KaldiLayout
) -> Iterator[Outcome]:
    utt_id, grouped = element
    key = layout.key_prefix + utt_id
    wav, extra_wav = pick_first(grouped[WAV_SCP])
    line, extra_lines = pick_first(grouped[TEXT])
    if wav is None and line is None:
        return  # named only in utt2spk: not an input
    raw_audio = wav.value if wav else ""
    yield from _duplicates(key, extra_wav, wav, raw_audio) if wav else ()
    yield from _duplicates(key, extra_lines, line, raw_audio) if line else ()
    if wav is None:
        yield rejection(
            key=key,
            source_uri=line.source_uri,
            error=InputRejected(Reason.MISSING_AUDIO, f"{utt_id!r} has no wav.scp entry"),
        )
        return
    if line is None:
        missing = InputRejected(Reason.MISSING_TRANSCRIPT, f"{utt_id!r} has no line in text")
        yield rejection(key=key, source_uri=wav.source_uri, audio_uri=raw_audio, error=missing)
        return
    try:
        audio_uri = _audio(utt_id, wav, layout)
    except InputRejected as e:
        yield rejection(key=key, source_uri=wav.source_uri, audio_uri=raw_audio, error=e)
        return
    if line.error is not None:
        yield rejection(key=key, source_uri=line.source_uri, audio_uri=audio_uri, error=line.error)
        return
    yield Utterance(
        key=key,
        audio_uri=audio_uri,
        text=line.value,
        speaker=_speaker(grouped),
        source_uri=line.source_uri,
    )


def _parse_segment(utt_id: str, seg: Entry) -> tuple[str, float, float | None]:
    """``(rec_id, start_s, end_s)`` of a ``segments`` entry, or :class:`InputRejected`."""
    if seg.error is not None:
        raise seg.error
    fields = seg.value.split()
    try:
        if len(fields) != 3:
            raise ValueError("expected '<rec-id> <start> <end>'")
        start, end = float(fields[1]), float(fields[2])
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
            raise ValueError("times must be finite and start >= 0")
        if start > MAX_SECONDS or end > MAX_SECONDS:
            raise ValueError(f"times must be at most {MAX_SECONDS:g} s")
        if end != -1 and end <= start:
            raise ValueError("end must be after start (or -1)")
    except ValueError as e:
        raise InputRejected(
            Reason.MALFORMED_ENTRY, f"segments entry {utt_id!r} {seg.value!r}: {e}"
        ) from None
    return fields[0], start, None if end == -1 else end


def _segment(element: tuple[str, dict[str, Any]], layout: KaldiLayout) -> Iterator[Any]:
    """``(rec_id, _Pending)`` for a usable segment; tagged rejections otherwise."""
    utt_id, grouped = element
    key = layout.key_prefix + utt_id
    seg, extra_segs = pick_first(grouped[SEGMENTS])
    line, extra_lines = pick_first(grouped[TEXT])
    if seg is None and line is None:
        return  # named only in utt2spk: not an input
    done: list[Outcome] = []
    done += _duplicates(key, extra_segs, seg, "") if seg else ()
    done += _duplicates(key, extra_lines, line, "") if line else ()
    if seg is None:
        error = InputRejected(Reason.MISSING_AUDIO, f"{utt_id!r} has no segments line")
        at_fault = line
    elif line is None:
        error = InputRejected(Reason.MISSING_TRANSCRIPT, f"{utt_id!r} has no line in text")
        at_fault = seg
    else:
        try:
            rec_id, start_s, end_s = _parse_segment(utt_id, seg)
            error, at_fault = line.error, line
        except InputRejected as e:
            error, at_fault = e, seg
    if error is not None:
        done.append(rejection(key=key, source_uri=at_fault.source_uri, error=error))
    else:
        pending = _Pending(
            key=key,
            text=line.value,
            speaker=_speaker(grouped),
            start_s=start_s,
            end_s=end_s,
            text_uri=line.source_uri,
            segments_uri=seg.source_uri,
        )
        yield rec_id, pending
    for outcome in done:
        yield TaggedOutput(_DONE, outcome)


def _resolve_recording(
    element: tuple[str, dict[str, Any]], layout: KaldiLayout
) -> Iterator[Outcome]:
    rec_id, grouped = element
    pending: list[_Pending] = list(grouped[_PENDING])
    if not pending:
        return  # a recording no segment uses: not an input
    wav, extra = pick_first(grouped[WAV_SCP])
    audio_uri, error, at_fault = "", None, ""
    if wav is None:
        error = InputRejected(Reason.MISSING_AUDIO, f"recording {rec_id!r} is not in wav.scp")
    elif extra:
        n = len(extra) + 1
        error = InputRejected(
            Reason.MALFORMED_ENTRY, f"recording {rec_id!r} is listed {n} times in wav.scp"
        )
        audio_uri, at_fault = wav.value, wav.source_uri
    else:
        try:
            audio_uri = _audio(rec_id, wav, layout)
        except InputRejected as e:
            audio_uri, error, at_fault = wav.value, e, wav.source_uri
    for p in pending:
        if error is not None:
            source_uri = at_fault or p.segments_uri
            yield rejection(key=p.key, source_uri=source_uri, audio_uri=audio_uri, error=error)
            continue
        yield Utterance(
            key=p.key,
            audio_uri=audio_uri,
            text=p.text,
            speaker=p.speaker,
            source_uri=p.text_uri,
            start_s=p.start_s,
            end_s=p.end_s,
        )
