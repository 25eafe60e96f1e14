"""A deterministic sample corpus in every layout the sources read, with known bad inputs.

``make_corpus(root, utterances=N, seed=S)`` writes the same speech-like utterances as a
LibriSpeech tree, a NeMo JSONL manifest, a Common Voice ``validated.tsv`` and a Kaldi data dir,
a build config for each, and ``expected.json``: for each layout, every key it contains mapped
to ``null`` (should be accepted) or the :class:`~curate.errors.Reason` it should be rejected
with. Same arguments, byte-identical files: all randomness comes from ``seed`` and no file
holds a timestamp. Layout under ``root``::

    librispeech/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac|.wav, <spk>-<chapter>.trans.txt
    manifest.jsonl      audio_filepath (relative to root), text, speaker, duration
    validated.tsv       Common Voice columns; path relative to root
    kaldi/              wav.scp (paths relative to root), text, utt2spk, spk2utt
    configs/<layout>.yaml   one build config per layout; audio_root is set to root
    expected.json

Keys are LibriSpeech style (``1034-121119-0007``); JSONL and TSV rows are keyed by the stem of
their audio file. Bad inputs all belong to speaker 9999, chapter 99999.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

from curate.config import SourceKind
from curate.errors import Reason, UsageError
from curate.synth import Voice, clip_hard, random_words, synthesize

__all__ = ["BAD_CHAPTER", "BAD_SPEAKER", "CorpusSummary", "make_corpus"]

BAD_SPEAKER = "9999"
BAD_CHAPTER = "99999"
_RATES_HZ = (16000, 22050, 44100, 48000)
_ALL = frozenset(SourceKind)
_MANIFESTS = frozenset({SourceKind.JSONL, SourceKind.TSV})
_TREES = frozenset({SourceKind.LIBRISPEECH, SourceKind.KALDI})
_LAYOUT_PATHS = {
    SourceKind.LIBRISPEECH: "librispeech",
    SourceKind.JSONL: "manifest.jsonl",
    SourceKind.TSV: "validated.tsv",
    SourceKind.KALDI: "kaldi",
}
_TSV_COLUMNS = (
    "client_id path sentence up_votes down_votes age gender accents variant locale segment"
).split()
_AGES = ("twenties", "thirties", "fourties", "fifties", "sixties", "")  # Common Voice spelling


@dataclass(frozen=True, kw_only=True, slots=True)
class CorpusSummary:
    """What :func:`make_corpus` wrote; paths are absolute."""

    root: str
    seed: int
    num_good: int  # good utterances, present in every layout
    num_bad: int  # bad inputs that some layout should reject (0 without bad inputs)
    num_speakers: int  # speakers of the good utterances
    total_duration_s: float  # of the good utterances
    layouts: dict[SourceKind, str]  # layout -> what its config's ``sources[0].path`` names
    configs: dict[SourceKind, str]  # layout -> build config
    expected_path: str


@dataclass(frozen=True, kw_only=True, slots=True)
class _Entry:
    """One input as the layouts name it. ``text=None``: no transcript line at all."""

    key: str
    speaker: str
    audio_path: str  # relative to root, '/'-separated
    text: str | None  # bytes that are not UTF-8 are kept as surrogate escapes
    duration_s: float
    reason: Reason | None = None
    layouts: frozenset[SourceKind] = _ALL
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # TSV columns


def _write_audio(root: str, rel: str, pcm: np.ndarray, sample_rate_hz: int) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fmt = "WAV" if rel.endswith(".wav") else "FLAC"
    sf.write(path, pcm, sample_rate_hz, format=fmt, subtype="PCM_16")


def _write_lines(path: str, lines: Iterable[str]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write("".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape"))


def _audio_rel(speaker: str, chapter: str, key: str, ext: str) -> str:
    return f"librispeech/{speaker}/{chapter}/{key}.{ext}"


def _good_entries(
    root: str, ss: np.random.SeedSequence, n: int, min_s: float, max_s: float
) -> list[_Entry]:
    plan_ss, audio_ss = ss.spawn(2)
    plan = np.random.default_rng(plan_ss)
    num_speakers = min(max(6, n // 8), 4000)
    speakers = [str(s) for s in plan.choice(np.arange(10, 9000), num_speakers, replace=False)]
    voices = [Voice.random(plan) for _ in speakers]
    ages = [_AGES[i] for i in plan.integers(0, len(_AGES), size=num_speakers)]
    num_chapters = plan.integers(1, 4, size=num_speakers)
    chapter_ids = plan.choice(np.arange(1000, 200000), int(num_chapters.sum()), replace=False)
    first = np.cumsum(num_chapters) - num_chapters
    spk_of = np.concatenate(
        [np.arange(min(n, num_speakers)), plan.integers(0, num_speakers, max(0, n - num_speakers))]
    )
    plan.shuffle(spk_of)
    # Balanced mixes: a quarter at each rate, one in five stereo, one in six WAV.
    rate_of = plan.permutation(n) % len(_RATES_HZ)
    stereo = plan.permutation(n) % 5 == 0
    wav = plan.permutation(n) % 6 == 0
    counters: dict[str, int] = {}
    entries = []
    for i, child in enumerate(audio_ss.spawn(n)):
        rng = np.random.default_rng(child)
        s = int(spk_of[i])
        chapter = str(chapter_ids[first[s] + rng.integers(0, num_chapters[s])])
        counter_key = f"{speakers[s]}-{chapter}"
        key = f"{counter_key}-{counters.get(counter_key, 0):04d}"
        counters[counter_key] = counters.get(counter_key, 0) + 1
        rate = _RATES_HZ[rate_of[i]]
        frames = round(math.exp(rng.uniform(math.log(min_s), math.log(max_s))) * rate)
        frames = min(max(frames, math.ceil(min_s * rate), 1), math.floor(max_s * rate))
        words = random_words(rng, frames / rate)
        channels = 2 if stereo[i] else 1
        pcm = synthesize(
            rng, voice=voices[s], words=words, frames=frames, sample_rate_hz=rate, channels=channels
        )
        rel = _audio_rel(speakers[s], chapter, key, "wav" if wav[i] else "flac")
        _write_audio(root, rel, pcm, rate)
        extra = {
            "up_votes": str(rng.integers(2, 5)),
            "down_votes": str(rng.integers(0, 2)),
            "age": ages[s],
            "gender": "male_masculine" if voices[s].is_low else "female_feminine",
        }
        text = " ".join(words)
        entries.append(
            _Entry(
                key=key,
                speaker=speakers[s],
                audio_path=rel,
                text=text,
                duration_s=frames / rate,
                extra=extra,
            )
        )
    return entries


def _bad_entries(root: str, ss: np.random.SeedSequence) -> list[_Entry]:
    """The known bad inputs, keys ``9999-99999-0000`` on, all 16 kHz mono FLAC."""
    rate = 16000
    seconds = (4.0, 0.0, 0.0, 3.0, 3.0, 0.1, 35.0, 2.0, 2.0, 2.0, 2.0, 0.0, 2.5, 2.5)
    rngs = [np.random.default_rng(child) for child in ss.spawn(len(seconds))]
    voice = Voice.random(np.random.default_rng(ss.spawn(1)[0]))
    words = [random_words(rng, max(s, 1.0)) for rng, s in zip(rngs, seconds, strict=True)]
    words[5] = ["NO"]  # 0.1 s: a short word keeps the speaking rate plausible
    words[13] = words[12]
    texts: list[str | None] = [" ".join(w) for w in words]
    texts[7] = ""  # empty transcript
    texts[9] = None  # no transcript line at all
    texts[10] = "CAFÉ NAÏVE DÉJÀ VU".encode("latin-1").decode("utf-8", "surrogateescape")

    def key(i: int) -> str:
        return f"{BAD_SPEAKER}-{BAD_CHAPTER}-{i:04d}"

    def rel(i: int) -> str:
        return _audio_rel(BAD_SPEAKER, BAD_CHAPTER, key(i), "flac")

    def speech(i: int) -> np.ndarray:
        frames = round(seconds[i] * rate)
        return synthesize(rngs[i], voice=voice, words=words[i], frames=frames, sample_rate_hz=rate)

    def entry(
        i: int,
        reason: Reason | None,
        description: str,
        *,
        layouts: frozenset[SourceKind] = _ALL,
        **names: str,
    ) -> _Entry:
        return _Entry(
            key=names.get("key", key(i)),
            speaker=BAD_SPEAKER,
            audio_path=names.get("audio_path", rel(i)),
            text=texts[i],
            duration_s=seconds[i],
            reason=reason,
            description=description,
            layouts=layouts,
        )

    buf = io.BytesIO()
    sf.write(buf, speech(0), rate, format="FLAC", subtype="PCM_16")
    whole = buf.getvalue()
    files = {0: whole[: len(whole) // 2], 1: b"", 2: b"A text file named .flac, not audio.\n"}
    for i, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel(i))), exist_ok=True)
        with open(os.path.join(root, rel(i)), "wb") as f:
            f.write(data)
    pcm = {i: speech(i) for i in (6, 7, 9, 10, 12)}
    pcm[3] = np.zeros(round(seconds[3] * rate), dtype=np.int16)
    pcm[4] = clip_hard(speech(4), share=0.2)
    pcm[5] = speech(5)
    for i, samples in pcm.items():
        _write_audio(root, rel(i), samples, rate)
    with open(os.path.join(root, rel(12)), "rb") as src:
        original = src.read()
    with open(os.path.join(root, rel(13)), "wb") as dst:
        dst.write(original)
    return [
        entry(0, Reason.AUDIO_TRUNCATED, "valid FLAC cut to half its bytes; header says 4 s"),
        entry(1, Reason.AUDIO_EMPTY, "zero-byte .flac file"),
        entry(2, Reason.AUDIO_UNDECODABLE, "a text file named .flac"),
        entry(3, Reason.SILENT, "3 s of all-zero samples"),
        entry(4, Reason.CLIPPED, "hard-clipped: >=20% of samples at each full-scale rail"),
        entry(5, Reason.TOO_SHORT, "0.1 s utterance"),
        entry(6, Reason.TOO_LONG, "35 s utterance"),
        entry(7, Reason.EMPTY_TEXT, "empty transcript (trans.txt, Kaldi text: the key alone)"),
        entry(8, Reason.MISSING_AUDIO, "transcript whose audio file does not exist"),
        entry(9, Reason.MISSING_TRANSCRIPT, "audio file with no transcript line", layouts=_TREES),
        entry(10, Reason.TEXT_NOT_UTF8, "transcript in Latin-1 bytes, not UTF-8"),
        entry(
            11,
            Reason.PATH_OUTSIDE_ROOT,
            "manifest row whose audio path escapes the root",
            key="passwd",
            audio_path="../../etc/passwd",
            layouts=_MANIFESTS,
        ),
        entry(12, None, "original of a duplicate pair: accepted (the smaller key)"),
        entry(13, Reason.DUPLICATE_AUDIO, "byte copy of 9999-99999-0012 (the larger key)"),
    ]


def _write_librispeech(root: str, entries: list[_Entry]) -> None:
    by_chapter: dict[str, list[str]] = {}
    for e in entries:
        chapter_dir = os.path.dirname(e.audio_path)
        by_chapter.setdefault(chapter_dir, [])
        if e.text is not None:
            by_chapter[chapter_dir].append(f"{e.key} {e.text}".rstrip(" "))
    for chapter_dir, lines in by_chapter.items():
        spk, chapter = chapter_dir.split("/")[-2:]
        _write_lines(os.path.join(root, chapter_dir, f"{spk}-{chapter}.trans.txt"), sorted(lines))


def _write_jsonl(root: str, entries: list[_Entry]) -> None:
    rows = (
        json.dumps(
            {
                "audio_filepath": e.audio_path,
                "text": e.text,
                "speaker": e.speaker,
                "duration": e.duration_s,
            },
            ensure_ascii=False,
        )
        for e in entries
    )
    _write_lines(os.path.join(root, _LAYOUT_PATHS[SourceKind.JSONL]), rows)


def _write_tsv(root: str, entries: list[_Entry]) -> None:
    defaults = {"up_votes": "2", "down_votes": "0", "locale": "en"}
    rows = ["\t".join(_TSV_COLUMNS)]
    for e in entries:
        names = {"client_id": e.speaker, "path": e.audio_path, "sentence": e.text or ""}
        values = {**defaults, **e.extra, **names}
        rows.append("\t".join(values.get(c, "") for c in _TSV_COLUMNS))
    _write_lines(os.path.join(root, _LAYOUT_PATHS[SourceKind.TSV]), rows)


def _write_kaldi(root: str, entries: list[_Entry]) -> None:
    data_dir = os.path.join(root, _LAYOUT_PATHS[SourceKind.KALDI])
    _write_lines(os.path.join(data_dir, "wav.scp"), (f"{e.key} {e.audio_path}" for e in entries))
    texts = (f"{e.key} {e.text}".rstrip(" ") for e in entries if e.text is not None)
    _write_lines(os.path.join(data_dir, "text"), texts)
    _write_lines(os.path.join(data_dir, "utt2spk"), (f"{e.key} {e.speaker}" for e in entries))
    spk2utt: dict[str, list[str]] = {}
    for e in entries:
        spk2utt.setdefault(e.speaker, []).append(e.key)
    lines = (" ".join([spk, *keys]) for spk, keys in sorted(spk2utt.items()))
    _write_lines(os.path.join(data_dir, "spk2utt"), lines)


_WRITERS = {
    SourceKind.LIBRISPEECH: _write_librispeech,
    SourceKind.JSONL: _write_jsonl,
    SourceKind.TSV: _write_tsv,
    SourceKind.KALDI: _write_kaldi,
}

_CONFIG = """\
# A build of the sample corpus made by `curate samples` (curate.samples.make_corpus).
# Relative paths are resolved against this file's directory: '..' is the corpus root.
name: sample-{kind}
sources:
  - kind: {kind}
    path: ../{path}
{audio_root}audio:
  sample_rate_hz: 16000
  channels: 1
  codec: flac
# filters and splits: the defaults.
shards:
  target_size_mb: 2  # small, so a few hundred utterances make several shards per split
card:  # what CARD.md's front matter says
  license: cc0-1.0  # synthetic speech made by code: no one's recording
  language: [en]
"""


def _write_config(root: str, kind: SourceKind) -> str:
    # LibriSpeech paths are relative to its own tree; the others name paths relative to root.
    audio_root = "" if kind is SourceKind.LIBRISPEECH else "    audio_root: ..\n"
    text = _CONFIG.format(kind=kind.value, path=_LAYOUT_PATHS[kind], audio_root=audio_root)
    path = os.path.join(root, "configs", f"{kind.value}.yaml")
    _write_lines(path, text.splitlines())
    return path


def make_corpus(
    root: str,
    *,
    utterances: int,
    seed: int = 0,
    with_bad_inputs: bool = False,
    min_duration_s: float = 0.3,
    max_duration_s: float = 25.0,
) -> CorpusSummary:
    """Write a sample corpus of ``utterances`` good utterances (plus the known bad inputs if
    ``with_bad_inputs``) under ``root``, which must not exist or be empty.

    The same arguments produce byte-identical files. Durations are log-uniform between
    ``min_duration_s`` and ``max_duration_s``. Raises :class:`UsageError` for a non-empty
    ``root`` or bad arguments.

    >>> import tempfile
    >>> root = os.path.join(tempfile.mkdtemp(), "corpus")
    >>> summary = make_corpus(root, utterances=3, seed=1, with_bad_inputs=True)
    >>> summary.num_good, summary.num_bad, sorted(os.listdir(root))
    (3, 13, ['configs', 'expected.json', 'kaldi', 'librispeech', 'manifest.jsonl', 'validated.tsv'])
    """
    if utterances < 0:
        raise UsageError(f"utterances must be 0 or more, got {utterances}")
    if seed < 0:
        raise UsageError(f"seed must be 0 or more, got {seed}")
    if not 0 < min_duration_s < max_duration_s:
        raise UsageError(
            f"durations must satisfy 0 < min < max, got min={min_duration_s} max={max_duration_s}"
        )
    root = os.path.abspath(root)
    if os.path.exists(root) and (not os.path.isdir(root) or os.listdir(root)):
        raise UsageError(f"{root}: already exists and is not an empty directory")
    os.makedirs(root, exist_ok=True)
    good_ss, bad_ss = np.random.SeedSequence(seed).spawn(2)
    good = _good_entries(root, good_ss, utterances, min_duration_s, max_duration_s)
    bad = _bad_entries(root, bad_ss) if with_bad_inputs else []
    expected: dict[str, dict[str, str | None]] = {}
    configs = {}
    for kind in SourceKind:
        entries = sorted((e for e in good + bad if kind in e.layouts), key=lambda e: e.key)
        _WRITERS[kind](root, entries)
        expected[kind.value] = {e.key: e.reason.value if e.reason else None for e in entries}
        configs[kind] = _write_config(root, kind)
    doc = {
        "seed": seed,
        "utterances": utterances,
        "with_bad_inputs": with_bad_inputs,
        "keys": "LibriSpeech style; JSONL and TSV rows are keyed by their audio file's stem",
        "configs": {k.value: os.path.relpath(p, root) for k, p in configs.items()},
        "layouts": expected,
        "bad_inputs": [
            {
                "key": e.key,
                "reason": e.reason.value if e.reason else None,
                "description": e.description,
                "audio_path": e.audio_path,
                "layouts": [k.value for k in SourceKind if k in e.layouts],
            }
            for e in bad
        ],
    }
    expected_path = os.path.join(root, "expected.json")
    _write_lines(expected_path, [json.dumps(doc, indent=2, sort_keys=True)])
    return CorpusSummary(
        root=root,
        seed=seed,
        num_good=len(good),
        num_bad=sum(e.reason is not None for e in bad),
        num_speakers=len({e.speaker for e in good}),
        total_duration_s=sum(e.duration_s for e in good),
        layouts={k: os.path.join(root, p) for k, p in _LAYOUT_PATHS.items()},
        configs=configs,
        expected_path=expected_path,
    )
