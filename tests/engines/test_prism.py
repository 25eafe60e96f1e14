"""Beam's Prism runner gives the same build, byte for byte, as the DirectRunner, with the model
signals off and on.

Prism is the Go binary that ``tests/engines/prism.sh`` builds from the Go module proxy at the
installed SDK's release (``go build`` of ``github.com/apache/beam/sdks/v2/go/cmd/prism`` against
``tests/engines/prism/go.mod``). The driver runs ``--runner PrismRunner --prism_location BINARY``:
the SDK starts that binary itself on an OS-chosen port and stops it at the end; the SDK harness
runs in the driver's process (``LOOPBACK``, what the PrismRunner picks). Driver and Prism run in a
loopback-only network namespace, with ``HOME`` pointing at an empty directory, which must still
hold no Beam cache afterwards: Beam downloaded nothing.
"""

from __future__ import annotations

import os
import sys

import pyarrow.parquet as pq

from tests.engines import prism_binary, require
from tests.engines.processes import run_bounded
from tests.same_build import assert_same_build

BUILD_TIMEOUT_S = 300


def _prism_build(config: str, tmp_path, namespace: list[str]) -> tuple[str, str]:
    """Build ``config`` on Prism; returns ``(build dir, the driver's stdout)``."""
    binary = require(prism_binary(), "prism.sh")
    out, home = str(tmp_path / "prism"), tmp_path / "home"
    home.mkdir()
    cmd = [
        *namespace, sys.executable, "-m", "pipelines.asr_dataset", "--config", config,
        "--output", out, "--runner", "PrismRunner", "--prism_location", binary,
    ]
    env = {**os.environ, "HOME": str(home)}
    proc = run_bounded(cmd, cwd=str(tmp_path), timeout_s=BUILD_TIMEOUT_S, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not (home / ".apache_beam").exists(), "Beam fetched a Prism binary of its own"
    return out, proc.stdout


def test_prism_runner_matches_direct_runner(namespace, corpus, direct_build, tmp_path):
    out, stdout = _prism_build(corpus, tmp_path, namespace)
    info = assert_same_build(*direct_build, out)
    assert info["fingerprint"] in stdout


def test_prism_runner_with_model_signals_matches_direct_runner(
    namespace, models_corpus, direct_models_build, tmp_path
):
    config, expected = models_corpus
    out, _ = _prism_build(config, tmp_path, namespace)
    info = assert_same_build(*direct_models_build, out)
    assert set(info["models"]) == {"vad", "asr", "langid"}
    rejected = pq.read_table(os.path.join(out, "rejected.parquet")).to_pylist()
    assert {r["key"]: r["reason"] for r in rejected} == {
        k: v for k, v in expected.items() if v is not None
    }
