"""The sample corpus written in every layout builds into the same examples."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from curate.config import SourceKind
from curate.samples import make_corpus
from curate.launch import run_build


def _rows(build_dir: str) -> dict[str, tuple]:
    rows = {}
    for name in sorted(os.listdir(os.path.join(build_dir, "manifest"))):
        for r in pq.read_table(os.path.join(build_dir, "manifest", name)).to_pylist():
            rows[r["key"]] = (name, r["text"], r["speaker"], r["duration_s"], r["audio_sha256"],
                              r["num_samples"])
    return rows


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("layouts") / "corpus")
    summary = make_corpus(root, utterances=16, seed=3)
    out = {}
    for kind in SourceKind:
        dest = str(tmp_path_factory.mktemp(kind.value) / "build")
        info = run_build(summary.configs[kind], dest, workers=1, say=lambda _: None)
        out[kind] = (info, _rows(dest))
    return summary, out


def test_every_layout_gives_the_same_examples(builds):
    summary, out = builds
    reference = out[SourceKind.LIBRISPEECH][1]
    assert len(reference) == summary.num_good
    for kind, (info, rows) in out.items():
        assert rows == reference, kind
        assert info["counts"] == {"read": summary.num_good, "accepted": summary.num_good,
                                  "rejected": 0, "carried": 0, "processed": summary.num_good,
                                  "removed": 0}


def test_durations_match_the_manifest_the_corpus_declares(builds):
    import json

    summary, out = builds
    declared = {}
    with open(os.path.join(summary.root, "manifest.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            declared[os.path.splitext(os.path.basename(row["audio_filepath"]))[0]] = row["duration"]
    rows = out[SourceKind.JSONL][1]
    for key, row in rows.items():
        assert row[3] == pytest.approx(declared[key], abs=1e-3), key
