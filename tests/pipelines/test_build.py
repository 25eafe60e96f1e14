"""End to end: sample corpus -> build -> the build directory, read back without this library."""

from __future__ import annotations

import io
import json
import os
import re
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import yaml

from curate.launch import run_build
from tests.pipelines.corpus import small_shard_corpus
from tests.same_build import assert_same_build
from tests.terminal import on_a_terminal
from tests.manifests import split_manifest as _manifest


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = small_shard_corpus(str(tmp_path_factory.mktemp("corpus") / "c"), utterances=30,
                              seed=7, layouts=("librispeech", "jsonl"))
    with open(os.path.join(root, "expected.json")) as f:
        return root, json.load(f)


_PROGRESS: dict[str, str] = {}  # what each build below wrote on its stderr


@pytest.fixture(scope="module")
def build_1(corpus, tmp_path_factory):
    """One worker; its progress on stderr as in a log (not a terminal), a line every step."""
    root, _ = corpus
    out = str(tmp_path_factory.mktemp("b1") / "build")
    log = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "stderr", log)
        info = run_build(os.path.join(root, "configs", "librispeech.yaml"), out, workers=1,
                         say=_quiet, progress_every_s=0)
    _PROGRESS["build_1"] = log.getvalue()
    return out, info


@pytest.fixture(scope="module")
def build_2(corpus, tmp_path_factory):
    """Two worker processes (multi_processing); stderr on a pseudo-terminal."""
    root, _ = corpus
    out = str(tmp_path_factory.mktemp("b2") / "build")
    with on_a_terminal() as terminal, pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "stderr", terminal.stream)
        info = run_build(os.path.join(root, "configs", "librispeech.yaml"), out, workers=2,
                         say=_quiet)
    _PROGRESS["build_2"] = terminal.output
    return out, info


def _outcomes(build_dir: str) -> dict[str, str | None]:
    outcome: dict[str, str | None] = {}
    with open(os.path.join(build_dir, "dataset_info.json")) as f:
        splits = json.load(f)["splits"]
    for split in splits:
        for key in _manifest(build_dir, split).column("key").to_pylist():
            outcome[key] = None
    rejected = pq.read_table(os.path.join(build_dir, "rejected.parquet")).to_pylist()
    for row in rejected:
        assert row["key"] not in outcome, f"{row['key']} both accepted and rejected"
        outcome[row["key"]] = row["reason"]
    return outcome


def _expected(expected: dict, layout: str) -> dict[str, str | None]:
    return expected[layout] if layout in expected else expected["layouts"][layout]


def test_every_input_is_accounted_for_with_its_expected_reason(corpus, build_1):
    _, expected = corpus
    out, info = build_1
    assert _outcomes(out) == _expected(expected, "librispeech")
    counts = info["counts"]
    assert counts["accepted"] + counts["rejected"] == counts["read"]
    assert counts["read"] == len(_expected(expected, "librispeech"))
    assert sum(info["rejected_by_reason"].values()) == counts["rejected"]
    assert not os.path.exists(os.path.join(out, ".staging"))


def test_jsonl_layout_rejects_what_it_can_express(corpus, tmp_path):
    root, expected = corpus
    out = str(tmp_path / "build")
    info = run_build(os.path.join(root, "configs", "jsonl.yaml"), out, workers=1, say=_quiet)
    assert _outcomes(out) == _expected(expected, "jsonl")
    assert info["counts"]["accepted"] + info["counts"]["rejected"] == info["counts"]["read"]


def test_two_workers_give_byte_identical_shards_and_fingerprint(build_1, build_2):
    out1, info1 = build_1
    out2, _ = build_2
    assert_same_build(out1, info1, out2)


def test_progress_in_a_log_lists_processes_and_writes_with_totals(build_1):
    out, info = build_1
    read, shards = info["counts"]["read"], sum(len(s["shards"]["tfrecord"])
                                                for s in info["splits"].values())
    lines = _PROGRESS["build_1"].splitlines()
    assert "\r" not in _PROGRESS["build_1"] and "\x1b" not in _PROGRESS["build_1"]
    assert lines and all(line.startswith(("listing: ", "processing: ", "writing shards: "))
                         for line in lines), lines
    ends = [line.split(":")[0] for line in lines if re.search(r"\) in \d+ s", line)]
    assert ends == ["processing", "writing shards"]  # each phase's last line, in turn
    processing = [line for line in lines if line.startswith("processing: ")]
    assert all(re.match(rf"processing: \d+ of {read} \(\d+%\)", line) for line in processing)
    assert re.fullmatch(rf"processing: {read} of {read} \(100%\) in \d+ s; {read} inputs listed "
                        r"from 1 source\(s\)", processing[-1])
    assert re.fullmatch(rf"writing shards: {shards} of {shards} \(100%\) in \d+ s", lines[-1])
    assert not os.path.exists(os.path.join(out, ".staging"))  # counts gone with the build


def test_progress_on_a_terminal_is_a_bar_per_step(build_2):
    out, info = build_2
    read, shards = info["counts"]["read"], sum(len(s["shards"]["tfrecord"])
                                                for s in info["splits"].values())
    tty = _PROGRESS["build_2"]
    assert re.search(rf"\rprocessing \[#{{24}}\] {read} of {read} \(100%\)\s+in \d+ s\s+"
                     rf"{read} inputs listed from 1 source\(s\)", tty), tty
    assert re.search(rf"\rwriting shards \[#{{24}}\] {shards} of {shards} \(100%\)", tty), tty
    assert "\x1b[K" in tty
    assert not os.path.exists(os.path.join(out, ".staging"))


def test_build_directory_describes_itself(build_1):
    out, info = build_1
    import hashlib

    for path, meta in info["files"].items():
        data = open(os.path.join(out, path), "rb").read()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], path
        assert len(data) == meta["size_bytes"]
    for split, s in info["splits"].items():
        manifest = _manifest(out, split)
        assert manifest.num_rows == s["num_examples"]
        assert sum(sh["num_examples"] for sh in s["shards"]["tfrecord"]) == s["num_examples"]
        assert sum(sh["num_examples"] for sh in s["shards"]["array_record"]) == s["num_examples"]
        assert s["duration_s"] == pytest.approx(sum(manifest.column("duration_s").to_pylist()))
    speakers = [set(_manifest(out, s).column("speaker").to_pylist())
                for s in info["splits"]]
    assert sum(len(s) for s in speakers) == len(set().union(*speakers)), "a speaker crosses splits"
    assert sum(len(s["shards"]["tfrecord"]) for s in info["splits"].values()) > 3, "expected several shards"
    stats = json.load(open(os.path.join(out, "stats.json")))
    assert set(stats["splits"]) == set(info["splits"])
    card = open(os.path.join(out, "CARD.md")).read()
    counts = info["counts"]
    assert f"{counts['accepted']} examples accepted of {counts['read']} inputs read" in card
    for reason, n in info["rejected_by_reason"].items():
        assert f"| `{reason}` | {n} |" in card
    assert "CARD.md" in info["files"]
    front = yaml.safe_load(card.split("\n---\n", 1)[0].removeprefix("---\n"))
    assert front["license"] == "cc0-1.0" and front["language"] == ["en"]  # the config's card:
    assert "[report.html](report.html)" in card


def test_the_report_of_a_real_build_plays_kept_and_rejected_examples(build_1, tmp_path):
    from curate.report.write import write_report

    out, info = build_1
    written = write_report(out, output=str(tmp_path / "report.html"))
    with open(written.path, encoding="utf-8") as f:
        page = f.read()
    for reason in info["rejected_by_reason"]:
        assert f'id="reason-{reason}"' in page
    kept = set(re.findall(r'<audio [^>]*data-key="([^"]+)"', page))
    for split, s in info["splits"].items():  # 3 kept examples of every split, from its shard 0
        first = _manifest(out, split).to_pylist()
        in_shard_0 = {r["key"] for r in first if r["shard"] == 0}
        assert len(kept & in_shard_0) == min(3, len(in_shard_0)), split
    assert written.excerpts >= 3 * len(info["splits"]) and written.unplayable >= 3
    assert written.size_bytes < 1_000_000


def _expected_pcm(audio_uri: str, start_s: float = 0.0):
    from curate import audio

    decoded = audio.decode(audio.read_bytes(audio_uri), uri=audio_uri)
    return audio.to_pcm16(audio.normalise(decoded, sample_rate_hz=16000, channels=1))


def test_tfrecord_reads_back_with_plain_tf_data(corpus, build_1):
    import soundfile as sf
    import io

    out, info = build_1
    spec = {k: tf.io.FixedLenFeature(v["shape"], getattr(tf, v["dtype"]))
            for k, v in info["feature_spec"].items()}
    split = max(info["splits"], key=lambda s: info["splits"][s]["num_examples"])
    files = [os.path.join(out, s["path"]) for s in info["splits"][split]["shards"]["tfrecord"]]
    manifest = {r["key"]: r for r in _manifest(out, split).to_pylist()}
    parsed = list(tf.data.TFRecordDataset(files).map(lambda r: tf.io.parse_single_example(r, spec)))
    assert len(parsed) == len(manifest)
    for ex in parsed[:6]:
        key = ex["key"].numpy().decode()
        row = manifest[key]
        assert ex["text"].numpy().decode() == row["text"]
        pcm, rate = sf.read(io.BytesIO(ex["audio"].numpy()), dtype="int16", always_2d=True)
        assert rate == 16000 == ex["sample_rate_hz"].numpy()
        assert pcm.shape[0] == ex["num_samples"].numpy() == row["num_samples"]
        np.testing.assert_array_equal(pcm, _expected_pcm(row["audio_uri"]))


def test_array_record_holds_the_same_examples_in_the_same_order(build_1):
    from array_record.python.array_record_data_source import ArrayRecordDataSource
    from curate.writers import read_tfrecord

    out, info = build_1
    for split, s in info["splits"].items():
        for tfr, arr in zip(s["shards"]["tfrecord"], s["shards"]["array_record"]):
            records = read_tfrecord(open(os.path.join(out, tfr["path"]), "rb").read())
            source = ArrayRecordDataSource([os.path.join(out, arr["path"])])
            assert len(source) == len(records)
            assert [source[i] for i in range(len(source))] == records


def test_manifest_rows_follow_the_shards(build_1):
    """Row i of a split's manifest is the i-th example read from the split's shards in order
    (one manifest file per shard, listed in shard order), so a training step's index finds its
    row without a join; nothing is left in the staging dir."""
    from curate.writers import read_tfrecord

    out, info = build_1
    for split, s in info["splits"].items():
        keys = []
        for shard in s["shards"]["tfrecord"]:
            for record in read_tfrecord(open(os.path.join(out, shard["path"]), "rb").read()):
                example = tf.train.Example.FromString(record)
                keys.append(example.features.feature["key"].bytes_list.value[0].decode())
        manifest = _manifest(out, split)
        assert manifest.column("key").to_pylist() == keys, split
        rows = manifest.select(["shard", "position"]).to_pylist()
        assert rows == sorted(rows, key=lambda r: (r["shard"], r["position"]))
        assert [m["path"] for m in s["manifest"]] == [
            f"manifest/{split}/{shard['path'].rsplit('-', 1)[1]}.parquet"
            for shard in s["shards"]["tfrecord"]]
        for m, shard in zip(s["manifest"], s["shards"]["tfrecord"]):
            assert pq.read_table(os.path.join(out, m["path"])).num_rows == shard["num_examples"]
    assert not os.path.exists(os.path.join(out, ".staging"))


def _cli(capsys, *args: str) -> tuple[int, str]:
    """``curate ARGS`` in this process (``tests/test_demo.py`` runs ``python -m curate.cli``
    itself): the exit code and what went to stderr."""
    from curate.cli import main

    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "config, message",
    [
        ("name: x\nsources: [{kind: jsonl, path: m.jsonl}]\nbogus: 1\n", "bogus: unknown field"),
        ("name: x\nsources: [{kind: jsonl, path: m.jsonl}]\naudio: {sample_rate_hz: -1}\n",
         "audio.sample_rate_hz"),
        ("name: x\nsources: [{kind: jsonl, path: missing.jsonl}]\n", "sources[0].path: not found"),
    ],
)
def test_config_errors_exit_2_with_one_line(tmp_path, capsys, config, message):
    (tmp_path / "m.jsonl").write_text("")
    (tmp_path / "c.yaml").write_text(config)
    code, err = _cli(capsys, "build", str(tmp_path / "c.yaml"), "--output", str(tmp_path / "out"))
    assert code == 2, err  # (a traceback would have raised out of main)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("curate: error: ")
    assert not (tmp_path / "out").exists()


def test_refuses_to_overwrite_a_build(corpus, build_1, capsys):
    out, info = build_1
    code, err = _cli(capsys, "build", os.path.join(corpus[0], "configs", "librispeech.yaml"),
                     "--output", out)
    assert code == 2 and "already holds a build" in err, err
    assert json.load(open(os.path.join(out, "dataset_info.json"))) == info
