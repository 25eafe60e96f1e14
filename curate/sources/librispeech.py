"""LibriSpeech directory layout: ``<root>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt``.

Transcripts are every ``*.trans.txt`` below the root, one ``KEY TEXT`` line per utterance
(UTF-8; a byte-order mark and ``\r\n`` line ends are fine); audio is every file below the root
whose extension (any case) is one the decoder reads (:data:`AUDIO_FORMATS`: ``.flac``,
``.wav``, ``.opus``, ``.ogg``, ``.mp3``, ``.sph``, …), keyed by file stem. The tree is listed
once; transcript files are fanned out and read whole (they are a few KB each; one larger than
:data:`MAX_TRANSCRIPT_BYTES` is refused); lines and audio names are joined by key. Audio bytes
are never read here.

**One input** is one key found among the transcript lines or the audio file stems, or a
transcript file that cannot be read. A key named by more than one transcript line counts one
more input per extra line, rejected as ``duplicate_key`` (the smallest transcript uri is kept).
A key with more than one audio file (``x.flac`` and ``x.mp3``, or ``x.flac`` in two
directories) keeps the one whose extension comes first in :data:`AUDIO_FORMATS` (lossless
before lossy), then the smallest path; each other file is one more input, rejected as
``duplicate_key`` naming both files. Outcomes:

- line and audio file: an :class:`Utterance` (a line with no text gives empty text; the filter
  stage decides about it);
- line without audio: ``missing_audio``; audio without line: ``missing_transcript``;
- a line that is not valid UTF-8: ``text_not_utf8`` (decoded per line, neighbours unaffected);
- an audio file or transcript that is a symlink to a file outside the root:
  ``path_outside_root``; a transcript that is not a regular file (a FIFO, a device):
  ``unsupported_path``, and one larger than :data:`MAX_TRANSCRIPT_BYTES`: ``malformed_entry``
  (neither is opened).

Key: ``key_prefix`` + the utterance id. Speaker: the first ``-`` field of the id (LibriSpeech
convention), else the first directory below the root, else ``"unknown"``. ``source_uri`` is
the ``.trans.txt`` file (the root for audio without a transcript line).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import BeamIOError, FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from curate.config import SourceConfig
from curate.errors import InputRejected, Reason
from curate.fsio import open_read, special_file_kind
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

__all__ = [
    "AUDIO_FORMATS",
    "AUDIO_SUFFIXES",
    "MAX_TRANSCRIPT_BYTES",
    "TRANSCRIPT_SUFFIX",
    "LibriSpeechLayout",
    "ReadLibriSpeech",
]

TRANSCRIPT_SUFFIX = ".trans.txt"
AUDIO_FORMATS: dict[str, str] = {
    # extension -> the libsndfile major format that reads it, in order of preference when one
    # key has several files: lossless first, then lossy. (Ambiguous extensions such as .mat or
    # .raw, and headerless formats, are left out.)
    ".flac": "FLAC", ".wav": "WAV", ".wave": "WAV", ".w64": "W64", ".rf64": "RF64",
    ".aiff": "AIFF", ".aif": "AIFF", ".aifc": "AIFF", ".caf": "CAF", ".au": "AU", ".snd": "AU",
    ".sph": "NIST", ".nist": "NIST", ".voc": "VOC", ".htk": "HTK", ".paf": "PAF",
    ".svx": "SVX", ".8svx": "SVX", ".xi": "XI", ".sds": "SDS", ".avr": "AVR", ".sd2": "SD2",
    ".pvf": "PVF", ".wve": "WVE",
    ".opus": "OGG", ".ogg": "OGG", ".oga": "OGG", ".mp3": "MP3",
}
AUDIO_SUFFIXES = tuple(AUDIO_FORMATS)
MAX_TRANSCRIPT_BYTES = 64 << 20
"""A transcript file larger than this (64 MiB; LibriSpeech's are a few KB) is refused unread."""
_TRANSCRIPT, _AUDIO, _OTHER = 0, 1, 2  # partitions of the listed files
_LINES, _FILES = "lines", "audio"  # CoGroupByKey tags
_FILE_REJECTED = "file_rejected"  # tagged output of the transcript reader
_PREFERENCE = {suffix: i for i, suffix in enumerate(AUDIO_SUFFIXES)}


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
            | "ReadTranscripts"
            >> beam.FlatMap(_transcript_lines, layout)
            .with_output_types(KEYED_ENTRY)
            .with_outputs(_FILE_REJECTED, main=_LINES)
        )  # main: (key, Entry); file_rejected: Rejection
        audio = files[_AUDIO] | "KeyAudio" >> beam.Map(_audio_entry, layout).with_output_types(
            KEYED_ENTRY
        )  # (key, Entry)
        paired = (
            {_LINES: lines[_LINES], _FILES: audio}
            | "JoinByKey" >> beam.CoGroupByKey()  # (key, {lines: [Entry], audio: [Entry]})
            | "Pair" >> beam.FlatMap(_pair, layout)
        )
        return (paired, lines[_FILE_REJECTED]) | "Merge" >> beam.Flatten()


def _classify(meta: FileMetadata, _num_partitions: int) -> int:
    name = paths.basename(meta.path)
    if name.endswith(TRANSCRIPT_SUFFIX):
        return _TRANSCRIPT
    return _AUDIO if _suffix(name) in _PREFERENCE else _OTHER


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _transcript_lines(meta: FileMetadata, layout: LibriSpeechLayout) -> Iterator[Any]:
    """``(key, Entry)`` per line of one transcript file, or one tagged :class:`Rejection` for a
    file that cannot be read (it is never opened if it is not a regular file inside the root)."""
    uri = meta.path
    try:
        data = _read_transcript(uri, layout.root)
    except InputRejected as e:
        yield TaggedOutput(_FILE_REJECTED, rejection(key="", source_uri=uri, error=e))
        return
    for raw in data.splitlines():  # \n, \r\n and \r
        parsed = parse_keyed_line(raw, uri)
        if parsed is not None:
            yield layout.key_prefix + parsed[0], parsed[1]


def _read_transcript(uri: str, root: str) -> bytes:
    if not paths.resolves_within(root, uri):
        raise InputRejected(
            Reason.PATH_OUTSIDE_ROOT,
            f"transcript {uri} is a symlink to {os.path.realpath(uri)}, outside the root {root}",
        )
    kind = special_file_kind(uri)
    if kind is not None:
        raise InputRejected(Reason.UNSUPPORTED_PATH, f"transcript {uri} is {kind}, not a file")
    try:
        with open_read(uri) as f:
            data = f.read(MAX_TRANSCRIPT_BYTES + 1)
    except OSError as e:
        raise InputRejected(Reason.MALFORMED_ENTRY, f"transcript {uri} cannot be read: {e}") from e
    if len(data) > MAX_TRANSCRIPT_BYTES:
        raise InputRejected(
            Reason.MALFORMED_ENTRY,
            f"transcript {uri} is larger than {MAX_TRANSCRIPT_BYTES} bytes (not a transcript?)",
        )
    return data


def _audio_entry(meta: FileMetadata, layout: LibriSpeechLayout) -> tuple[str, Entry]:
    return layout.key_prefix + paths.stem(meta.path), Entry(source_uri=layout.root, value=meta.path)


def _speaker(utt_id: str, audio_uri: str, root: str) -> str:
    if "-" in utt_id and not utt_id.startswith("-"):
        return utt_id.split("-", 1)[0]
    below = paths.relative_parts(root, audio_uri)
    return below[0] if len(below) > 1 else UNKNOWN_SPEAKER


def _audio_order(entry: Entry) -> tuple[int, str]:
    """Which of a key's audio files is used: by :data:`AUDIO_FORMATS` order, then path."""
    return _PREFERENCE.get(_suffix(entry.value), len(_PREFERENCE)), entry.value


def _pair(element: tuple[str, dict[str, Any]], layout: LibriSpeechLayout) -> Iterator[Outcome]:
    key, grouped = element
    utt_id = key[len(layout.key_prefix) :]
    line, extra_lines = pick_first(grouped[_LINES])
    audio, *extra_audio = sorted(grouped[_FILES], key=_audio_order) or [None]
    audio_uri = audio.value if audio else ""
    source_uri = line.source_uri if line else layout.root
    for extra in extra_lines:
        error = duplicate_of(key, source_uri)
        yield rejection(key=key, source_uri=extra.source_uri, audio_uri=audio_uri, error=error)
    for extra in extra_audio:
        error = InputRejected(
            Reason.DUPLICATE_KEY,
            f"key {key!r} has two audio files, {audio_uri} and {extra.value}: the first is used "
            "(by extension, in the order of curate.sources.librispeech.AUDIO_FORMATS, then path)",
        )
        yield rejection(key=key, source_uri=source_uri, audio_uri=extra.value, error=error)
    if line is None:
        where = f"any *{TRANSCRIPT_SUFFIX} under {layout.root}"
        error = InputRejected(Reason.MISSING_TRANSCRIPT, f"no line for {utt_id!r} in {where}")
    elif audio is None:
        error = InputRejected(
            Reason.MISSING_AUDIO,
            f"no audio file {utt_id}.<ext> under {layout.root} (ext: any case of "
            f"{', '.join(s[1:] for s in AUDIO_SUFFIXES)})",
        )
    elif not paths.resolves_within(layout.root, audio_uri):
        error = InputRejected(
            Reason.PATH_OUTSIDE_ROOT,
            f"{audio_uri} is a symlink to {os.path.realpath(audio_uri)}, outside the root "
            f"{layout.root}",
        )
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
