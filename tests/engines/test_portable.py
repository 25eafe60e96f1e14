"""Portable execution: the build through Beam's ``PortableRunner`` with SDK workers in a separate
process gives the same build, byte for byte, as the DirectRunner.

The job service is Beam's embedded one (``--job_endpoint=embed``, the Python ``LocalJobServicer``:
no Java, no Docker); the SDK harnesses come from an external worker pool
(``--environment_type=EXTERNAL``, :mod:`tests.worker_pool` on loopback), so every DoFn, side input
and lambda is pickled by the driver and unpickled in another process, as on Dataflow or Flink.
That catches state captured from the driver's session, unpicklable DoFns and reliance on the
driver's memory. The driver runs as a subprocess too, so every wait is bounded by a timeout.
The same build on real engines: ``test_prism.py``, ``test_flink.py``.
"""

from __future__ import annotations

import sys

from tests.engines.processes import run_bounded
from tests.same_build import assert_same_build

BUILD_TIMEOUT_S = 300


def test_portable_runner_with_external_workers_matches_direct_runner(
    namespace, worker_pool, corpus, direct_build, tmp_path
):
    port, pool_log = worker_pool
    out = str(tmp_path / "portable")
    cmd = [
        *namespace, sys.executable, "-m", "pipelines.asr_dataset", "--config", corpus,
        "--output", out, "--runner=PortableRunner", "--job_endpoint=embed",
        "--environment_type=EXTERNAL", f"--environment_config=127.0.0.1:{port}",
    ]
    proc = run_bounded(cmd, cwd=str(tmp_path), timeout_s=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Starting worker" in pool_log.read_text(), "no SDK worker was started by the pool"
    info = assert_same_build(*direct_build, out)
    assert info["fingerprint"] in proc.stdout  # the summary the CLI prints
