"""Portable execution: the build through Beam's ``PortableRunner`` with SDK workers in a separate
process gives the same build, byte for byte, as the DirectRunner.

The job service is Beam's embedded one (``--job_endpoint=embed``, the Python ``LocalJobServicer``:
no Java, no Docker); the SDK harnesses come from an external worker pool
(``--environment_type=EXTERNAL``, :mod:`tests.worker_pool` on loopback), so every DoFn, side input
and lambda is pickled by the driver and unpickled in another process, as on Dataflow or Flink.
That catches state captured from the driver's session, unpicklable DoFns and reliance on the
driver's memory. The driver runs as a subprocess too, so every wait is bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

from tests.pipelines.corpus import small_shard_corpus
from curate.launch import run_build
from tests.worker_pool import pool_env

POOL_START_TIMEOUT_S = 60
BUILD_TIMEOUT_S = 300
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _quiet(_: str) -> None:
    pass


def _read_port(proc: subprocess.Popen, timeout_s: float) -> int:
    """The port from the pool's ``PORT <n>`` line, waiting at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not sel.select(left):
                break
            line = proc.stdout.readline()
            if not line:
                break  # the pool died
            if line.startswith("PORT "):
                return int(line.split()[1])
    raise RuntimeError(f"worker pool did not start within {timeout_s} s (exit code {proc.poll()})")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the pool's process group (the pool and its harnesses), then SIGKILL if need be."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # harnesses left behind by a dead pool
    except ProcessLookupError:
        pass
    proc.wait(timeout=15)


@pytest.fixture(scope="module")
def worker_pool(tmp_path_factory):
    """``(port, log path)`` of a worker pool on 127.0.0.1, stopped with its harnesses after."""
    log = tmp_path_factory.mktemp("pool") / "pool.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.worker_pool"],
            cwd=REPO_ROOT, env=pool_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=err, text=True, start_new_session=True,
        )
    try:
        yield _read_port(proc, POOL_START_TIMEOUT_S), log
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = small_shard_corpus(str(tmp_path_factory.mktemp("corpus") / "c"), utterances=16, seed=5)
    return os.path.join(root, "configs", "librispeech.yaml")


@pytest.fixture(scope="module")
def direct_build(corpus, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("direct") / "build")
    return out, run_build(corpus, out, workers=1, say=_quiet)


def _portable_build(config: str, out: str, port: int, cwd: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "pipelines.asr_dataset", "--config", config, "--output", out,
        "--runner=PortableRunner", "--job_endpoint=embed",
        "--environment_type=EXTERNAL", f"--environment_config=127.0.0.1:{port}",
    ]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)


def test_portable_runner_with_external_workers_matches_direct_runner(
    corpus, direct_build, worker_pool, tmp_path
):
    port, pool_log = worker_pool
    direct_out, direct = direct_build
    out = str(tmp_path / "portable")
    proc = _portable_build(corpus, out, port, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Starting worker" in pool_log.read_text(), "no SDK worker was started by the pool"

    portable = json.load(open(os.path.join(out, "dataset_info.json")))
    assert portable["fingerprint"] == direct["fingerprint"]
    assert portable["fingerprint"] in proc.stdout  # the summary the CLI prints
    assert portable["files"] == direct["files"]
    for rel in direct["files"]:
        with open(os.path.join(direct_out, rel), "rb") as a:
            with open(os.path.join(out, rel), "rb") as b:
                assert a.read() == b.read(), rel
    assert not os.path.exists(os.path.join(out, ".staging"))
