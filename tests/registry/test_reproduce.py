"""``curate reproduce NAME@vN``: a version rebuilt from its own record (issue 16).

A small LibriSpeech corpus at 22.05 kHz (so every example goes through soxr) is built,
registered and reproduced: identical the first time, after its sources moved (with
``--sources-root``), and not identical once soxr's quality changes, naming the files that
differ and the library versions that do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from curate import audio, provenance
from curate.cli import main
from curate.launch import run_build
from registry.api import Registry
from registry.local import LocalStore

pytestmark = pytest.mark.timeout(600)
DS = "repro"
RATE = 22050


def _corpus(root: Path) -> Path:
    chapter = root / "corpus" / "LibriSpeech" / "7" / "70"
    chapter.mkdir(parents=True)
    rng = np.random.default_rng(3)
    lines = []
    for i in range(6):
        t = np.arange(RATE) / RATE
        x = (0.3 * np.clip(np.sin(2 * np.pi * 3 * t), 0.1, None) * rng.standard_normal(RATE))
        sf.write(chapter / f"7-70-000{i}.flac", x.astype(np.float32), RATE, subtype="PCM_16")
        lines.append(f"7-70-000{i} utterance number {i}")
    (chapter / "7-70.trans.txt").write_text("\n".join(lines) + "\n")
    config = root / "corpus" / "c.yaml"
    config.write_text("name: repro\nsources:\n  - {kind: librispeech, path: LibriSpeech}\n"
                      "filters: {max_chars_per_s: null}\n"
                      "splits: {by: key, ratios: {train: 1.0}}\n")
    return config


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("repro")
    config = _corpus(root)
    info = run_build(str(config), str(root / "build"), say=lambda _: None)
    assert info["counts"]["accepted"] == 6
    assert info["dependencies"]["libFLAC"].startswith("reference libFLAC")
    registry = (root / "registry").as_uri()
    Registry(LocalStore(root / "registry")).register(root / "build", dataset=DS,
                                                     allow_unvalidated=True)
    return root, registry


def _reproduce(capsys, registry: str, *extra: str) -> tuple[int, str]:
    code = main(["reproduce", f"{DS}@v1", "--registry", registry, *extra])
    return code, capsys.readouterr().out


def test_reproduce_of_a_freshly_registered_version_is_identical(registered, capsys):
    _, registry = registered
    code, out = _reproduce(capsys, registry)
    assert code == 0, out
    assert out.startswith(f"{DS}@v1 (") and "reproduced, every file identical" in out


def test_reproduce_after_the_sources_moved_needs_and_takes_a_sources_root(registered, capsys):
    root, registry = registered
    moved = root / "moved"
    shutil.move(root / "corpus", moved)
    try:
        code = main(["reproduce", f"{DS}@v1", "--registry", registry])
        err = capsys.readouterr().err
        assert code == 2 and "give --sources-root where that directory is now" in err, err
        assert f"they were under {root / 'corpus' / 'LibriSpeech'}" in err
        code, out = _reproduce(capsys, registry, "--sources-root", str(moved / "LibriSpeech"))
        assert code == 0, out
        assert "identical but for the sources' new place in manifest/train.parquet" in out
    finally:
        shutil.move(moved, root / "corpus")


def test_reproduce_with_another_soxr_quality_names_the_files_and_versions(
    registered, capsys, monkeypatch
):
    """The rebuild runs in this process (DirectRunner, in memory), so changing the resampler's
    quality here changes the bytes it writes; the installed soxr is made to look different
    too, as it would after an upgrade."""
    _, registry = registered
    monkeypatch.setattr(audio, "RESAMPLE_QUALITY", "LQ")
    real = provenance.byte_dependencies
    monkeypatch.setattr(provenance, "byte_dependencies", lambda: {**real(), "soxr": "0.0.1"})
    code, out = _reproduce(capsys, registry)
    assert code == 1, out
    assert "NOT reproduced" in out
    assert "data/train/repro-train.tfrecord-00000-of-00001: sha256" in out
    assert "manifest/train.parquet: sha256" in out
    assert f"soxr: {real()['soxr']} -> 0.0.1" in out
    code = main(["reproduce", f"{DS}@v1", "--registry", registry, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["identical"] is False
    assert "data/train/repro-train.array_record-00000-of-00001" in doc["files_differ"]
    assert {"name": "soxr", "recorded": real()["soxr"], "installed": "0.0.1"} in \
        doc["dependencies_differ"]
