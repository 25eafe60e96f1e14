"""Beam's FlinkRunner gives the same build, byte for byte, as the DirectRunner, with the model
signals off and on.

The job server is the jar that ``tests/engines/flink.sh`` assembles from Maven Central (the
runner ``beam-runners-flink-1.19`` at the SDK's release and its dependencies; see
``tests/engines/flink/pom.xml``), passed with ``--flink_job_server_jar``: the SDK starts it with
``java -jar`` on OS-chosen ports and stops it at the end. ``--flink_master=[local]`` makes the job
server run the job on an embedded Flink 1.19 cluster (a JobManager and a TaskManager in its JVM,
parallelism 2). The SDK harnesses come from an external worker pool (``EXTERNAL``,
:mod:`tests.worker_pool`), so every DoFn, model handler included, is unpickled in a process of
its own. Driver, job server, Flink and pool run in a loopback-only network namespace, with
``HOME`` pointing at an empty directory that must hold no Beam jar cache afterwards: Beam
downloaded nothing.
"""

from __future__ import annotations

import os
import sys

import pyarrow.parquet as pq

from tests.engines import FLINK_VERSION, flink_job_server_jar, require
from tests.engines.processes import run_bounded
from tests.same_build import assert_same_build

BUILD_TIMEOUT_S = 600
# Keep an SDK harness between stages: with Beam's default (0, none kept) the job server asks the
# pool for a new harness for every stage, 8 on the sample corpus, and the build takes ~190 s
# instead of ~100 s here.
ENVIRONMENT_CACHE_MS = 120_000


def _flink_build(config: str, tmp_path, namespace: list[str], pool_port: int) -> tuple[str, str]:
    """Build ``config`` on Flink; returns ``(build dir, the driver's stdout)``."""
    jar = require(flink_job_server_jar(), "flink.sh")
    out, home = str(tmp_path / "flink"), tmp_path / "home"
    home.mkdir()
    cmd = [
        *namespace, sys.executable, "-m", "pipelines.asr_dataset", "--config", config,
        "--output", out, "--runner=FlinkRunner", "--flink_master=[local]",
        f"--flink_version={FLINK_VERSION}", f"--flink_job_server_jar={jar}",
        f"--artifacts_dir={tmp_path / 'artifacts'}", "--parallelism=2",
        "--environment_type=EXTERNAL", f"--environment_config=127.0.0.1:{pool_port}",
        f"--environment_cache_millis={ENVIRONMENT_CACHE_MS}",
    ]
    env = {**os.environ, "HOME": str(home)}
    proc = run_bounded(cmd, cwd=str(tmp_path), timeout_s=BUILD_TIMEOUT_S, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not (home / ".apache_beam").exists(), "Beam fetched a job-server jar of its own"
    return out, proc.stdout


def test_flink_runner_matches_direct_runner(namespace, worker_pool, corpus, direct_build, tmp_path):
    port, pool_log = worker_pool
    out, stdout = _flink_build(corpus, tmp_path, namespace, port)
    assert "Starting worker" in pool_log.read_text(), "no SDK worker was started by the pool"
    info = assert_same_build(*direct_build, out)
    assert info["fingerprint"] in stdout


def test_flink_runner_with_model_signals_matches_direct_runner(
    namespace, worker_pool, models_corpus, direct_models_build, tmp_path
):
    config, expected = models_corpus
    out, _ = _flink_build(config, tmp_path, namespace, worker_pool[0])
    info = assert_same_build(*direct_models_build, out)
    assert set(info["models"]) == {"vad", "asr", "langid"}
    rejected = pq.read_table(os.path.join(out, "rejected.parquet")).to_pylist()
    assert {r["key"]: r["reason"] for r in rejected} == {
        k: v for k, v in expected.items() if v is not None
    }
