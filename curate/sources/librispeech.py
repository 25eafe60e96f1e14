"""LibriSpeech directory layout: ``<root>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt``.

Transcripts are every ``*.trans.txt`` below the root, one ``KEY TEXT`` line per utterance;
audio is every ``*.flac`` and ``*.wav`` below the root, keyed by file stem. The tree is listed
once; transcript files are fanned out and read whole (they are a few KB each); lines and audio
names are joined by key. Audio bytes are never read here.

**One input** is one key found among the transcript lines or the audio file stems. A key named
by more than one transcript line or more than one audio file (``x.flac`` and ``x.wav``) counts
one more input per extra line or file, rejected as ``duplicate_key`` (the smallest transcript
uri / audio path is kept). Outcomes:

- line and audio file: an :class:`Utterance` (a line with no text gives empty text; the filter
  stage decides about it);
- line without audio: ``missing_audio``; audio without line: ``missing_transcript``;
- a line that is not valid UTF-8: ``text_not_utf8`` (decoded per line, neighbours unaffected).

Key: ``key_prefix`` + the utterance id. Speaker: the first ``-`` field of the id (LibriSpeech
convention), else the first directory below the root, else ``"unknown"``. ``source_uri`` is
the ``.trans.txt`` file (the root for audio without a transcript line).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import BeamIOError, FileMetadata
from apache_beam.io.filesystems import FileSystems

from curate.config import SourceConfig
from curate.errors import InputRejected, Reason
from curate.records import Utterance
from curate.sources import paths
from curate.sources.common import (
    KEYED_ENTRY,
    UNKNOWN_SPEAKER,
    Entry,
    Outcome,
    duplicate_of,
    parse_keyed_line,
    pick_first,
    rejection,
    source_error,
)

__all__ = ["AUDIO_SUFFIXES", "TRANSCRIPT_SUFFIX", "LibriSpeechLayout", "ReadLibriSpeech"]

TRANSCRIPT_SUFFIX = ".trans.txt"
AUDIO_SUFFIXES = (".flac", ".wav")
_TRANSCRIPT, _AUDIO, _OTHER = 0, 1, 2  # partitions of the listed files
_LINES, _FILES = "lines", "audio"  # CoGroupByKey tags


@dataclass(frozen=True, kw_only=True, slots=True)
class LibriSpeechLayout:
    root: str
    key_prefix: str = ""

    @classmethod
    def from_config(cls, source: SourceConfig, index: int) -> LibriSpeechLayout:
        """Check the root holds at least one transcript (stops listing at the first one)."""
        root = paths.normalise(source.path)
        if source.audio_root is not None:
            raise source_error(
                index, "librispeech", root, "audio_root does not apply: audio is under the root"
            )
        pattern = paths.join(root, "**" + TRANSCRIPT_SUFFIX)
        try:
            found = FileSystems.match([pattern], limits=[1])[0].metadata_list
        except BeamIOError as e:
            raise source_error(index, "librispeech", root, f"cannot list the root: {e}") from e
        if not found:
            raise source_error(
                index, "librispeech", root, f"no *{TRANSCRIPT_SUFFIX} transcripts under the root"
            )
        return cls(root=root, key_prefix=source.key_prefix)


class ReadLibriSpeech(beam.PTransform):
    """Reads one LibriSpeech tree into outcomes (:class:`Utterance` or :class:`Rejection`)."""

    def __init__(self, layout: LibriSpeechLayout) -> None:
        super().__init__()
        self._layout = layout

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[Outcome]:
        layout = self._layout
        files = (
            pbegin
            | "ListFiles" >> fileio.MatchFiles(paths.join(layout.root, "**"))  # FileMetadata
            | "Classify" >> beam.Partition(_classify, 3)
        )
        lines = (
            files[_TRANSCRIPT]
            | "Reshuffle" >> beam.Reshuffle()
            | "ReadTranscripts" >> fileio.ReadMatches()
            | "SplitLines"
            >> beam.FlatMap(_transcript_lines, layout).with_output_types(KEYED_ENTRY)
        )  # (key, Entry)
        audio = files[_AUDIO] | "KeyAudio" >> beam.Map(_audio_entry, layout).with_output_types(
            KEYED_ENTRY
        )  # (key, Entry)
        return (
            {_LINES: lines, _FILES: audio}
            | "JoinByKey" >> beam.CoGroupByKey()  # (key, {lines: [Entry], audio: [Entry]})
            | "Pair" >> beam.FlatMap(_pair, layout)
        )


def _classify(meta: FileMetadata, _num_partitions: int) -> int:
    name = paths.basename(meta.path)
    if name.endswith(TRANSCRIPT_SUFFIX):
        return _TRANSCRIPT
    return _AUDIO if name.lower().endswith(AUDIO_SUFFIXES) else _OTHER


def _transcript_lines(
    file: fileio.ReadableFile, layout: LibriSpeechLayout
) -> Iterator[tuple[str, Entry]]:
    uri = file.metadata.path
    for raw in file.read().splitlines():
        parsed = parse_keyed_line(raw, uri)
        if parsed is not None:
            yield layout.key_prefix + parsed[0], parsed[1]


def _audio_entry(meta: FileMetadata, layout: LibriSpeechLayout) -> tuple[str, Entry]:
    return layout.key_prefix + paths.stem(meta.path), Entry(source_uri=layout.root, value=meta.path)


def _speaker(utt_id: str, audio_uri: str, root: str) -> str:
    if "-" in utt_id and not utt_id.startswith("-"):
        return utt_id.split("-", 1)[0]
    below = paths.relative_parts(root, audio_uri)
    return below[0] if len(below) > 1 else UNKNOWN_SPEAKER


def _pair(element: tuple[str, dict[str, Any]], layout: LibriSpeechLayout) -> Iterator[Outcome]:
    key, grouped = element
    utt_id = key[len(layout.key_prefix) :]
    line, extra_lines = pick_first(grouped[_LINES])
    audio, extra_audio = pick_first(grouped[_FILES])
    audio_uri = audio.value if audio else ""
    source_uri = line.source_uri if line else layout.root
    for extra in extra_lines:
        error = duplicate_of(key, source_uri)
        yield rejection(key=key, source_uri=extra.source_uri, audio_uri=audio_uri, error=error)
    for extra in extra_audio:
        error = duplicate_of(key, audio_uri)
        yield rejection(key=key, source_uri=source_uri, audio_uri=extra.value, error=error)
    if line is None:
        where = f"any *{TRANSCRIPT_SUFFIX} under {layout.root}"
        error = InputRejected(Reason.MISSING_TRANSCRIPT, f"no line for {utt_id!r} in {where}")
    elif audio is None:
        names = " or ".join(utt_id + s for s in AUDIO_SUFFIXES)
        error = InputRejected(Reason.MISSING_AUDIO, f"no {names} under {layout.root}")
    else:
        error = line.error
    if error is not None:
        yield rejection(key=key, source_uri=source_uri, audio_uri=audio_uri, error=error)
        return
    yield Utterance(
        key=key,
        audio_uri=audio_uri,
        text=line.value,
        speaker=_speaker(utt_id, audio_uri, layout.root),
        source_uri=source_uri,
    )
