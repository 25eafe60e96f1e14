"""Where a build may write, and what it may delete (issue 16): user files are never deleted.

Each test is named after what broke: ``--output <corpus root> --overwrite`` deleted the corpus,
an ``--output`` naming a regular file deleted it without ``--overwrite``, any directory holding a
``.staging/`` was wiped whole, and a symlink or a path under a file gave a traceback.
"""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import pytest

import curate.layout
from curate.cli import main
from curate.config import SourceConfig, SourceKind
from curate.errors import UsageError
from curate.output_dir import prepare_output
from tests.curate.corpus_fixtures import write_librispeech


def _config(tmp_path: Path) -> tuple[Path, SourceConfig]:
    corpus = tmp_path / "corpus"
    source = write_librispeech(corpus / "LibriSpeech")
    config = corpus / "configs" / "c.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("name: c\nsources:\n  - {kind: librispeech, path: ../LibriSpeech}\n")
    return config, source


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_output_at_the_corpus_root_is_refused_and_the_corpus_survives(tmp_path, capsys):
    """``curate build … --output <corpus root> --overwrite`` used to delete the corpus, then
    fail with a misleading 'no *.trans.txt'."""
    config, source = _config(tmp_path)
    before = _tree(tmp_path / "corpus")
    for output in (source.path, str(Path(source.path) / "19"), str(tmp_path / "corpus"),
                   str(config.parent)):
        code = main(["build", str(config), "--output", output, "--overwrite"])
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.count("\n") == 1 and "choose another --output" in err, err
    assert _tree(tmp_path / "corpus") == before


@pytest.mark.parametrize(
    ("output", "relation"),
    [("LibriSpeech", "is sources[0].path"), ("LibriSpeech/19/198", "lies inside sources[0].path"),
     (".", "contains sources[0].path")],
)
def test_output_overlapping_a_source_is_refused_naming_it(tmp_path, output, relation):
    _, source = _config(tmp_path)
    with pytest.raises(UsageError, match=re.escape(relation)):
        prepare_output(str(tmp_path / "corpus" / output), sources=[source], overwrite=True)
    jsonl = SourceConfig(kind=SourceKind.JSONL, path=str(tmp_path / "m" / "manifest.jsonl"),
                         audio_root=str(tmp_path / "audio"))
    with pytest.raises(UsageError, match="sources\\[0\\].audio_root"):
        prepare_output(str(tmp_path / "audio" / "out"), sources=[jsonl])
    with pytest.raises(UsageError, match="sources\\[0\\].path"):  # the manifest's directory
        prepare_output(str(tmp_path / "m"), sources=[jsonl])
    prepare_output(str(tmp_path / "elsewhere"), sources=[source, jsonl])  # fine


def test_output_naming_a_regular_file_is_refused_and_the_file_kept(tmp_path, capsys):
    """An ``--output`` naming a regular file used to delete it, without ``--overwrite``, exit 0."""
    config, _ = _config(tmp_path)
    precious = tmp_path / "thesis.pdf"
    precious.write_bytes(b"years of work")
    code = main(["build", str(config), "--output", str(precious)])
    err = capsys.readouterr().err
    assert code == 2 and "the output is a file, not a directory" in err, err
    assert precious.read_bytes() == b"years of work"


def test_output_that_is_a_symlink_or_lies_under_a_file_is_one_line(tmp_path, capsys):
    """Both used to end in a traceback."""
    config, _ = _config(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "afile").write_text("x")
    for output, message in ((tmp_path / "link", "the output is a symlink"),
                            (tmp_path / "afile" / "sub" / "out", "which is a file")):
        code = main(["build", str(config), "--output", str(output)])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count("\n") == 1, err
        assert "Traceback" not in err


def test_a_staging_dir_does_not_make_a_users_directory_a_leftover(tmp_path):
    """Any directory holding a non-empty .staging/ used to count as a dead build's leftovers
    and be wiped whole."""
    out = tmp_path / "mine"
    (out / ".staging").mkdir(parents=True)
    (out / ".staging" / "x.records").write_bytes(b"staged")
    (out / "notes.txt").write_text("keep me")
    (out / "data" / "train").mkdir(parents=True)
    (out / "data" / "train" / "clip.flac").write_bytes(b"a user's audio")
    for overwrite in (False, True):
        with pytest.raises(UsageError, match="holds files no build writes .*they are not deleted"):
            prepare_output(str(out), overwrite=overwrite)
    assert _tree(out) == {".staging/x.records": b"staged", "notes.txt": b"keep me",
                          "data/train/clip.flac": b"a user's audio"}


def test_only_what_a_build_wrote_is_deleted(tmp_path):
    out = tmp_path / "build"
    build_files = ["dataset_info.json", "stats.json", "CARD.md", "rejected.parquet",
                   "manifest/train.parquet", "manifest/test/00003.parquet",
                   "data/train/c-train.tfrecord-00000-of-00002",
                   "data/train/c-train.array_record-00001-of-00002.tmp-0123456789ab",
                   "validation/result.json", "validation/docs/index.html", ".staging/a.records"]
    for rel in build_files:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(b"x")
    with pytest.raises(UsageError, match="already holds a build"):
        prepare_output(str(out))
    prepare_output(str(out), overwrite=True)
    assert out.is_dir() and not any(out.iterdir())
    (out / ".staging").mkdir()  # a build that died: cleared without --overwrite
    (out / ".staging" / "b.records").write_bytes(b"x")
    (out / "manifest").mkdir()
    (out / "manifest" / "train.parquet").write_bytes(b"x")
    prepare_output(str(out))
    assert not any(out.iterdir())
    assert os.path.isdir(out)


def test_the_layout_names_every_file_a_build_writes():
    assert doctest.testmod(curate.layout).failed == 0
