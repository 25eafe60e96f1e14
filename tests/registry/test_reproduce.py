"""``curate reproduce NAME@vN``: a version rebuilt from its own record (issue 16).

A small LibriSpeech corpus at 22.05 kHz (so every example goes through soxr) is built,
registered and reproduced: identical the first time (``curate reproduce`` as typed, a process
of its own), after its sources moved (with ``--sources-root``), and not identical once soxr
resamples otherwise (as typed, with another soxr first on the path), naming the files that
differ and the library versions that do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def test_reproduce_of_a_freshly_registered_version_exits_0_as_typed(registered):
    _, registry = registered
    done = _curate("reproduce", f"{DS}@v1", "--registry", registry)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"{DS}@v1 (") and "reproduced, every file identical" in \
        done.stdout


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


# Every file whose bytes the resampled samples decide: the shards, the manifest (signals) and
# the statistics and card made from the signals; dataset_info.json's other files do not change.
_RESAMPLED = ("CARD.md", "data/train/repro-train.array_record-00000",
              "data/train/repro-train.tfrecord-00000", "manifest/train.parquet",
              "stats.json")
_OTHER_SOXR = '''"""soxr as installed, but resampling at another quality, under another version: what
an upgrade of soxr that changes its output looks like to curate (which is not changed)."""
import os
import sys

_shim = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
del sys.modules[__name__]
_path = sys.path[:]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _shim]
try:
    import soxr as _real
finally:
    sys.path[:] = _path
_resample = _real.resample


def _other_quality(x, in_rate, out_rate, quality="HQ"):
    return _resample(x, in_rate, out_rate, quality="LQ")


_real.resample = _other_quality
sys.modules[__name__] = _real
'''


def _curate(*argv: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """``curate ARGV`` as a user types it: a process of its own."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore::FutureWarning"}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath),
                                                          env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "curate.cli", *argv], capture_output=True,
                          text=True, env=env, timeout=500)


def test_reproduce_once_soxr_resamples_otherwise_exits_1_naming_the_files(registered, tmp_path):
    """As typed, with another soxr first on the path (another quality and version; curate
    untouched): exit 1, naming every file whose bytes the resampler decides and soxr's
    recorded versus installed version."""
    _, registry = registered
    shim = tmp_path / "other-soxr"
    (shim / "soxr").mkdir(parents=True)
    (shim / "soxr" / "__init__.py").write_text(_OTHER_SOXR)
    (shim / "soxr-9.9.9.dist-info").mkdir()
    (shim / "soxr-9.9.9.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: soxr\nVersion: 9.9.9\n")
    other = _curate("reproduce", f"{DS}@v1", "--registry", registry, pythonpath=shim)
    assert other.returncode == 1, other.stdout + other.stderr
    assert "NOT reproduced: 5 file(s) differ" in other.stdout, other.stdout
    assert "Traceback" not in other.stderr
    for path in _RESAMPLED:
        assert f"\n  {path}: sha256 " in other.stdout, other.stdout
    assert f"soxr: {provenance.byte_dependencies()['soxr']} -> 9.9.9" in other.stdout


def test_reproduce_json_names_the_files_and_versions(registered, capsys, monkeypatch):
    """The same difference for machines (in this process: the rebuild runs here on the
    DirectRunner, so the resampler's quality and soxr's version are changed here)."""
    _, registry = registered
    monkeypatch.setattr(audio, "RESAMPLE_QUALITY", "LQ")
    real = provenance.byte_dependencies
    monkeypatch.setattr(provenance, "byte_dependencies", lambda: {**real(), "soxr": "0.0.1"})
    code = main(["reproduce", f"{DS}@v1", "--registry", registry, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["identical"] is False
    assert doc["files_differ"] == sorted(_RESAMPLED)
    assert {"name": "soxr", "recorded": real()["soxr"], "installed": "0.0.1"} in \
        doc["dependencies_differ"]


def test_a_version_built_on_a_base_and_its_compaction_reproduce_on_their_base(registered,
                                                                              capsys):
    """v2 = v1 + one utterance (``--base``, from a copy of the corpus elsewhere) and v3 = v2
    compacted are rebuilt on the version each names as its base, so every file, the kept
    shards too, is identical: exit 0. A registry that lacks the base: one line, exit 2."""
    from curate.compact import compact

    root, registry = registered
    copy = root / "corpus-v2"
    shutil.copytree(root / "corpus", copy)
    chapter = copy / "LibriSpeech" / "7" / "70"
    sf.write(chapter / "7-70-0009.flac", np.full(RATE, 0.2, np.float32)
             * np.sign(np.sin(np.arange(RATE) / 7.0)), RATE, subtype="PCM_16")
    with open(chapter / "7-70.trans.txt", "a") as f:
        f.write("7-70-0009 one more utterance\n")
    reg = Registry(LocalStore(root / "registry"))
    info = run_build(str(copy / "c.yaml"), str(root / "build-v2"), say=lambda _: None,
                     base=reg.open(f"{DS}@v1"))
    assert info["counts"]["carried"] == 6 and info["counts"]["processed"] == 1
    reg.register(root / "build-v2", dataset=DS, allow_unvalidated=True)
    assert compact(reg.open(f"{DS}@v2"), str(root / "build-v3"), say=lambda _: None,
                   report=False)["base"]["mode"] == "compaction"
    reg.register(root / "build-v3", dataset=DS, allow_unvalidated=True)

    for tag, doing in (("v2", "rebuilding"), ("v3", "compacting")):
        code = main(["reproduce", f"{DS}@{tag}", "--registry", registry])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert f"{doing} {DS}@{tag} (" in err and f" on {DS}@v{int(tag[1]) - 1} (" in err, err
        assert "reproduced, every file identical" in out, out

    other = root / "other-registry"
    Registry(LocalStore(other)).register(root / "build-v2", dataset=DS, allow_unvalidated=True)
    code = main(["reproduce", f"{DS}@v1", "--registry", other.as_uri()])
    out, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"its base {DS}@v1 (commit" in err and "is not in this registry" in err, err
