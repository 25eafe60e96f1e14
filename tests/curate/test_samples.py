"""The sample corpus generator: determinism, agreement between layouts, and bad inputs that are
what expected.json says they are."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
import soundfile as sf

from curate.config import SourceKind, load_config
from curate.errors import Reason, UsageError
from curate.samples import CorpusSummary, make_corpus

N = 16
SEED = 7
BAD = "9999-99999-"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusSummary:
    root = tmp_path_factory.mktemp("samples") / "corpus"
    return make_corpus(str(root), utterances=N, seed=SEED, with_bad_inputs=True)


@pytest.fixture(scope="module")
def expected(corpus: CorpusSummary) -> dict:
    with open(corpus.expected_path, encoding="utf-8") as f:
        return json.load(f)


def _tree(root: str) -> dict[str, bytes]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _read_layouts(root: str) -> dict[str, dict[str, tuple[str | None, str | None]]]:
    """Every layout parsed by hand: key -> (text or None, audio path relative to root or None)."""
    ls: dict[str, tuple[str | None, str | None]] = {}
    lib = os.path.join(root, "librispeech")
    for dirpath, _, files in os.walk(lib):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            if name.endswith((".flac", ".wav")):
                ls[_stem(name)] = (ls.get(_stem(name), (None, None))[0], rel)
            elif name.endswith(".trans.txt"):
                with open(os.path.join(dirpath, name), "rb") as f:
                    for line in f.read().splitlines():
                        key, _, text = _text(line).partition(" ")
                        ls[key] = (text, ls.get(key, (None, None))[1])
    jsonl = {}
    with open(os.path.join(root, "manifest.jsonl"), "rb") as f:
        for line in f:
            row = json.loads(_text(line))
            jsonl[_stem(row["audio_filepath"])] = (row["text"], row["audio_filepath"])
    tsv = {}
    with open(os.path.join(root, "validated.tsv"), "rb") as f:
        header, *rows = [_text(line).split("\t") for line in f.read().splitlines()]
    for row in rows:
        d = dict(zip(header, row, strict=True))
        tsv[_stem(d["path"])] = (d["sentence"], d["path"])
    kaldi: dict[str, tuple[str | None, str | None]] = {}
    with open(os.path.join(root, "kaldi", "wav.scp"), "rb") as f:
        for line in f.read().splitlines():
            key, path = _text(line).split(" ", 1)
            kaldi[key] = (None, path)
    with open(os.path.join(root, "kaldi", "text"), "rb") as f:
        for line in f.read().splitlines():
            key, _, text = _text(line).partition(" ")
            kaldi[key] = (text, kaldi[key][1])
    return {"librispeech": ls, "jsonl": jsonl, "tsv": tsv, "kaldi": kaldi}


def _good_keys(expected: dict, layout: str) -> list[str]:
    keys = expected["layouts"][layout]
    return sorted(k for k, r in keys.items() if not k.startswith(BAD) and r is None)


def _silence_ratio(x: np.ndarray, sr: int) -> float:
    frame = int(0.025 * sr)
    n = max(1, len(x) // frame)
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    db = 20 * np.log10(rms + 1e-12)
    return float(np.mean((db < -50) | (db < db.max() - 40)))


def test_same_seed_gives_byte_identical_tree(corpus: CorpusSummary, tmp_path) -> None:
    again = make_corpus(str(tmp_path / "again"), utterances=N, seed=SEED, with_bad_inputs=True)
    first, second = _tree(corpus.root), _tree(again.root)
    assert sorted(first) == sorted(second)
    assert [p for p in first if first[p] != second[p]] == []
    # Nothing written depends on where the corpus lives.
    assert not [p for p, data in first.items() if corpus.root.encode() in data]


def test_different_seed_gives_different_corpus(corpus: CorpusSummary, tmp_path) -> None:
    other = make_corpus(str(tmp_path / "other"), utterances=N, seed=SEED + 1)
    mine, theirs = _tree(corpus.root), _tree(other.root)
    assert mine["manifest.jsonl"] != theirs["manifest.jsonl"]

    def audio(tree: dict[str, bytes]) -> set[bytes]:
        return {data for p, data in tree.items() if p.endswith((".flac", ".wav"))}

    assert not audio(mine) & audio(theirs)


def test_summary(corpus: CorpusSummary, expected: dict) -> None:
    assert corpus.num_good == N
    assert corpus.num_bad == 13
    assert corpus.num_speakers == 6
    assert set(corpus.layouts) == set(SourceKind) == set(corpus.configs)
    durations = []
    with open(os.path.join(corpus.root, "manifest.jsonl"), "rb") as f:
        for line in f:
            row = json.loads(_text(line))
            if row["speaker"] != "9999":
                durations.append(row["duration"])
    assert corpus.total_duration_s == pytest.approx(sum(durations))
    assert expected["seed"] == SEED and expected["utterances"] == N


def test_layouts_agree_on_good_keys_texts_and_audio(corpus: CorpusSummary, expected: dict) -> None:
    layouts = _read_layouts(corpus.root)
    keys = _good_keys(expected, "librispeech")
    assert len(keys) == N
    for name, entries in layouts.items():
        assert _good_keys(expected, name) == keys, name
        assert {k: entries[k] for k in keys} == {k: layouts["librispeech"][k] for k in keys}, name
    for key in keys:
        text, path = layouts["librispeech"][key]
        assert text and text == text.upper() and path.endswith((".flac", ".wav"))
        spk, chapter, utt = key.split("-")
        assert path == f"librispeech/{spk}/{chapter}/{key}{os.path.splitext(path)[1]}"
        assert spk.isdigit() and chapter.isdigit() and len(utt) == 4


def test_durations_match_audio_and_stay_in_range(corpus: CorpusSummary) -> None:
    with open(os.path.join(corpus.root, "manifest.jsonl"), "rb") as f:
        rows = [json.loads(_text(line)) for line in f]
    good = [r for r in rows if r["speaker"] != "9999"]
    assert len(good) == N
    for row in good:
        info = sf.info(os.path.join(corpus.root, row["audio_filepath"]))
        assert row["duration"] == pytest.approx(info.frames / info.samplerate, abs=1e-9)
        assert 0.3 <= row["duration"] <= 25.0
        assert 2 < len(row["text"]) / row["duration"] < 25


def test_good_audio_is_speech_like_and_distinct(corpus: CorpusSummary, expected: dict) -> None:
    layouts = _read_layouts(corpus.root)
    hashes = set()
    for key in _good_keys(expected, "kaldi"):
        path = os.path.join(corpus.root, layouts["kaldi"][key][1])
        pcm, sr = sf.read(path, dtype="int16", always_2d=True)
        x = pcm.astype(np.float64).mean(axis=1) / 32768
        peak_db = 20 * np.log10(np.abs(pcm).max() / 32768)
        assert -6.1 <= peak_db <= -2.9, key
        assert _silence_ratio(x, sr) < 0.5, key
        assert np.std(x) > 1e-3, key
        hashes.add(hashlib.sha256(pcm.tobytes()).hexdigest())
    assert len(hashes) == N


def test_rates_channels_and_formats_are_mixed(corpus: CorpusSummary, expected: dict) -> None:
    layouts = _read_layouts(corpus.root)
    keys = _good_keys(expected, "tsv")
    infos = [sf.info(os.path.join(corpus.root, layouts["tsv"][k][1])) for k in keys]
    assert {i.samplerate for i in infos} == {16000, 22050, 44100, 48000}
    assert {i.channels for i in infos} == {1, 2}
    assert {i.format for i in infos} == {"FLAC", "WAV"}
    assert {i.subtype for i in infos} == {"PCM_16"}
    assert sum(i.format == "FLAC" for i in infos) > len(infos) / 2


def test_expected_json_lists_every_key_of_every_layout(
    corpus: CorpusSummary, expected: dict
) -> None:
    layouts = _read_layouts(corpus.root)
    assert set(expected["layouts"]) == {k.value for k in SourceKind}
    for name, entries in layouts.items():
        assert set(expected["layouts"][name]) == set(entries), name
        for reason in expected["layouts"][name].values():
            assert reason is None or Reason(reason)
    required = {
        "audio_truncated", "audio_empty", "audio_undecodable", "silent", "clipped", "too_short",
        "too_long", "empty_text", "missing_audio", "missing_transcript", "text_not_utf8",
        "path_outside_root", "duplicate_audio",
    }
    assert {b["reason"] for b in expected["bad_inputs"]} == required | {None}
    for bad in expected["bad_inputs"]:
        assert bad["description"]
        for name in ("librispeech", "jsonl", "tsv", "kaldi"):
            assert (name in bad["layouts"]) == (bad["key"] in expected["layouts"][name])
            if name in bad["layouts"]:
                assert expected["layouts"][name][bad["key"]] == bad["reason"]
    by_key = {b["key"]: b for b in expected["bad_inputs"]}
    assert by_key["passwd"]["layouts"] == ["jsonl", "tsv"]
    assert by_key[BAD + "0009"]["layouts"] == ["librispeech", "kaldi"]


def test_bad_audio_files_are_what_they_claim(corpus: CorpusSummary) -> None:
    def path(i: int) -> str:
        return os.path.join(corpus.root, "librispeech/9999/99999", f"{BAD}{i:04d}.flac")

    # Truncated: the header declares 4 s, the bytes do not hold them.
    with open(path(0), "rb") as f:
        assert f.read(4) == b"fLaC"
    assert sf.info(path(0)).frames == 4 * 16000
    try:
        got = len(sf.read(path(0))[0])
    except sf.LibsndfileError:
        got = -1
    assert got < 4 * 16000
    assert os.path.getsize(path(1)) == 0
    with pytest.raises(sf.LibsndfileError):
        sf.read(path(2))
    silent, sr = sf.read(path(3), dtype="int16")
    assert sr == 16000 and len(silent) == 3 * sr and not silent.any()
    clipped, _ = sf.read(path(4), dtype="int16")
    assert np.mean(clipped == 32767) > 0.05 and np.mean(clipped == -32768) > 0.05
    assert sf.info(path(5)).duration == pytest.approx(0.1)
    assert sf.info(path(6)).duration == pytest.approx(35.0)
    assert not os.path.exists(path(8))
    assert os.path.exists(path(9))
    with open(path(12), "rb") as a, open(path(13), "rb") as b:
        assert a.read() == b.read()


def test_bad_transcripts_are_what_they_claim(corpus: CorpusSummary, expected: dict) -> None:
    with open(os.path.join(corpus.root, "librispeech/9999/99999/9999-99999.trans.txt"), "rb") as f:
        trans = {line.split(b" ", 1)[0]: line for line in f.read().splitlines()}
    assert trans[b"9999-99999-0007"] == b"9999-99999-0007"  # empty transcript
    assert b"9999-99999-0009" not in trans  # audio without a transcript
    latin1 = trans[b"9999-99999-0010"].split(b" ", 1)[1]
    with pytest.raises(UnicodeDecodeError):
        latin1.decode("utf-8")
    assert latin1.decode("latin-1") == "CAFÉ NAÏVE DÉJÀ VU"
    with open(os.path.join(corpus.root, "manifest.jsonl"), "rb") as f:
        lines = f.read().splitlines()
    with pytest.raises(UnicodeDecodeError):
        json.loads(next(line for line in lines if b"9999-99999-0010" in line))
    outside = [json.loads(line) for line in lines if b"passwd" in line]
    assert [r["audio_filepath"] for r in outside] == ["../../etc/passwd"]
    resolved = os.path.normpath(os.path.join(corpus.root, outside[0]["audio_filepath"]))
    assert not resolved.startswith(corpus.root + os.sep)
    with open(os.path.join(corpus.root, "kaldi", "text"), "rb") as f:
        text_keys = {line.split(b" ", 1)[0] for line in f.read().splitlines()}
    assert b"9999-99999-0009" not in text_keys and b"9999-99999-0007" in text_keys
    pair = expected["layouts"]["kaldi"]
    assert (pair[BAD + "0012"], pair[BAD + "0013"]) == (None, "duplicate_audio")


def test_kaldi_files_are_sorted_and_consistent(corpus: CorpusSummary) -> None:
    def lines(name: str) -> list[bytes]:
        with open(os.path.join(corpus.root, "kaldi", name), "rb") as f:
            return f.read().splitlines()

    for name in ("wav.scp", "text", "utt2spk", "spk2utt"):
        keys = [line.split(b" ", 1)[0] for line in lines(name)]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), name
    utt2spk = dict(line.split(b" ") for line in lines("utt2spk"))
    spk2utt = {line.split(b" ")[0]: line.split(b" ")[1:] for line in lines("spk2utt")}
    assert {u: s for s, us in spk2utt.items() for u in us} == utt2spk
    assert all(u.startswith(s + b"-") for u, s in utt2spk.items())


def test_generated_configs_load(corpus: CorpusSummary) -> None:
    for kind in SourceKind:
        config = load_config(corpus.configs[kind])
        assert config.name == f"sample-{kind.value}"
        (source,) = config.sources
        assert source.kind is kind
        assert source.path == corpus.layouts[kind]
        if kind is not SourceKind.LIBRISPEECH:
            assert source.audio_root == corpus.root
        assert (config.audio.sample_rate_hz, config.audio.channels, config.audio.codec.value) == (
            16000, 1, "flac",
        )
        assert config.filters == type(config.filters)()
        assert config.splits == type(config.splits)()
        assert config.shards.target_size_mb <= 2


def test_without_bad_inputs_every_key_is_accepted(tmp_path) -> None:
    summary = make_corpus(str(tmp_path / "c"), utterances=3, seed=1)
    with open(summary.expected_path, encoding="utf-8") as f:
        expected = json.load(f)
    assert summary.num_bad == 0 and expected["bad_inputs"] == []
    for name in ("librispeech", "jsonl", "tsv", "kaldi"):
        assert len(expected["layouts"][name]) == 3
        assert set(expected["layouts"][name].values()) == {None}
    assert not os.path.exists(os.path.join(summary.root, "librispeech", "9999"))


def test_refuses_non_empty_root(tmp_path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not an empty directory"):
        make_corpus(str(tmp_path / "full"), utterances=1)
    assert os.listdir(tmp_path / "full") == ["keep.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError):
        make_corpus(str(tmp_path / "file"), utterances=1)
    (tmp_path / "empty").mkdir()
    assert make_corpus(str(tmp_path / "empty"), utterances=1).num_good == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"utterances": -1},
        {"utterances": 1, "seed": -1},
        {"utterances": 1, "min_duration_s": 2.0, "max_duration_s": 1.0},
        {"utterances": 1, "min_duration_s": 0.0},
    ],
)
def test_rejects_bad_arguments(tmp_path, kwargs) -> None:
    with pytest.raises(UsageError):
        make_corpus(str(tmp_path / "c"), **kwargs)
    assert not os.path.exists(tmp_path / "c")


def test_custom_duration_range_is_respected(tmp_path) -> None:
    summary = make_corpus(
        str(tmp_path / "c"), utterances=8, seed=3, min_duration_s=1.0, max_duration_s=1.5
    )
    with open(os.path.join(summary.root, "manifest.jsonl"), "rb") as f:
        durations = [json.loads(line)["duration"] for line in f]
    assert all(1.0 <= d <= 1.5 for d in durations)


def test_curate_samples_writes_the_corpus_and_says_what(tmp_path, capsys):
    from curate.cli import main

    assert main(["samples", str(tmp_path / "c"), "--utterances", "3", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("wrote 3 good and 0 bad utterances") and str(tmp_path / "c") in out
    assert (tmp_path / "c" / "configs" / "jsonl.yaml").is_file()
    assert (tmp_path / "c" / "expected.json").is_file()
