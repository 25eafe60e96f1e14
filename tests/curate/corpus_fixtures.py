"""Tiny corpora written by code: one small set of utterances in every source layout.

The audio files are a few placeholder bytes: the source readers never open audio.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from curate.config import SourceConfig, SourceKind


@dataclass(frozen=True)
class Spoken:
    """One utterance of the shared corpus, in LibriSpeech naming: ``<spk>-<chapter>-<n>``."""

    key: str
    text: str

    @property
    def speaker(self) -> str:
        return self.key.split("-")[0]

    @property
    def relpath(self) -> str:
        speaker, chapter, _ = self.key.split("-")
        return f"{speaker}/{chapter}/{self.key}.flac"


CORPUS = (
    Spoken(key="19-198-0000", text="hello world"),
    Spoken(key="19-198-0001", text='she said "hi, there"'),
    Spoken(key="26-495-0000", text="commas, quotes ' and tabs-free text"),
    Spoken(key="26-495-0001", text=""),  # a transcript line with no text part
)


def source(kind: SourceKind, path: Path, **kw: object) -> SourceConfig:
    """A source config for ``path``; keyword values (paths, prefixes) are given as strings."""
    return SourceConfig(kind=kind, path=str(path), **{k: str(v) for k, v in kw.items()})


def write_lines(path: Path, lines: Iterable[str | bytes]) -> Path:
    """Write lines (str as UTF-8, bytes as is), each ending in a newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join((x.encode() if isinstance(x, str) else x) + b"\n" for x in lines)
    path.write_bytes(data)
    return path


def touch_audio(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"fLaC-not-really-audio")
    return path


def write_librispeech(root: Path, corpus: Iterable[Spoken] = CORPUS) -> SourceConfig:
    """``<root>/<spk>/<chapter>/<key>.flac`` plus one ``<spk>-<chapter>.trans.txt`` each."""
    chapters: dict[Path, list[str]] = {}
    for utt in corpus:
        audio = touch_audio(root / utt.relpath)
        speaker, chapter, _ = utt.key.split("-")
        trans = audio.parent / f"{speaker}-{chapter}.trans.txt"
        chapters.setdefault(trans, []).append(f"{utt.key} {utt.text}".rstrip())
    for trans, lines in chapters.items():
        write_lines(trans, lines)
    return SourceConfig(kind=SourceKind.LIBRISPEECH, path=str(root))


def write_jsonl(path: Path, audio_root: Path, corpus: Iterable[Spoken] = CORPUS) -> SourceConfig:
    rows = [
        json.dumps({"audio_filepath": utt.relpath, "text": utt.text, "speaker": utt.speaker})
        for utt in corpus
    ]
    write_lines(path, rows)
    return SourceConfig(kind=SourceKind.JSONL, path=str(path), audio_root=str(audio_root))


def write_table(path: Path, audio_root: Path, corpus: Iterable[Spoken] = CORPUS) -> SourceConfig:
    """Common Voice style: TSV with literal quotes, or CSV (by extension) with quoting."""
    header = ["client_id", "path", "sentence", "up_votes"]
    rows = [[utt.speaker, utt.relpath, utt.text, "2"] for utt in corpus]
    if path.suffix == ".csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header, *rows])
        lines = buf.getvalue().splitlines()
    else:
        lines = ["\t".join(row) for row in [header, *rows]]
    write_lines(path, lines)
    return SourceConfig(kind=SourceKind.TSV, path=str(path), audio_root=str(audio_root))


def write_kaldi(
    data_dir: Path, audio_root: Path, corpus: Iterable[Spoken] = CORPUS
) -> SourceConfig:
    corpus = list(corpus)
    write_lines(data_dir / "wav.scp", [f"{u.key} {u.relpath}" for u in corpus])
    write_lines(data_dir / "text", [f"{u.key} {u.text}".rstrip() for u in corpus])
    write_lines(data_dir / "utt2spk", [f"{u.key} {u.speaker}" for u in corpus])
    return SourceConfig(kind=SourceKind.KALDI, path=str(data_dir), audio_root=str(audio_root))
