"""A Beam SDK worker pool on loopback, for ``--environment_type=EXTERNAL`` tests.

``python -m tests.worker_pool`` serves Beam's ``BeamFnExternalWorkerPool`` on ``127.0.0.1`` at a
port the kernel picks, prints ``PORT <n>`` on stdout once it listens, and runs until it is sent
SIGTERM or its parent process exits. Each ``StartWorker`` request starts one SDK harness as a
separate Python process, as Beam's own ``worker_pool_main`` does (``use_process=True``), so DoFns
are unpickled in a process that never saw the driver's memory.

Why not ``python -m apache_beam.runners.worker.worker_pool_main --service_port N`` directly: it
binds ``[::]`` (every interface, not just loopback) and needs a port chosen in advance, which
races with other tests on a shared machine. This module reuses Beam's servicer unchanged and only
binds it differently.

The harness processes are started as ``python -c ...`` from ``PATH``; :func:`pool_env` puts this
interpreter's directory first so they run in the same virtualenv.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

__all__ = ["pool_env", "main"]


def pool_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the pool: this interpreter first on ``PATH`` (its harnesses run
    ``python``), unbuffered output."""
    env = dict(os.environ if base is None else base)
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def main() -> int:
    import grpc
    from apache_beam.portability.api import beam_fn_api_pb2_grpc
    from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer
    from apache_beam.utils import thread_pool_executor

    server = grpc.server(thread_pool_executor.shared_unbounded_instance())
    port = server.add_insecure_port("127.0.0.1:0")
    pool = BeamFnExternalWorkerPoolServicer(use_process=True)
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
    server.start()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    parent = os.getppid()
    print(f"PORT {port}", flush=True)
    while not done.wait(1.0):
        if os.getppid() != parent:  # the test process died without stopping us
            break
    server.stop(0)
    for proc in list(pool._worker_processes.values()):  # harnesses the runner did not stop
        proc.kill()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
