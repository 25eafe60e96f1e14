"""Processes the engine tests start, each bounded in time and always stopped.

* :func:`loopback_namespace`: a private network namespace holding only a loopback interface.
  Beam's Java job server binds its gRPC ports on every interface (its ``ServerFactory`` takes
  the port only, whatever ``--job-host`` says) and so does Prism (``net.Listen(":port")``), so
  the tests run them, the driver and the SDK worker pool inside such a namespace: nothing there
  can be reached from another host, whatever an engine binds. Where namespaces cannot be made
  (not root, no ``unshare``), the commands run as they are, still on OS-chosen ports.
* :func:`run_bounded`: a command in its own process group, killed with the whole group (an
  engine the driver started included) when it ends or its time runs out.
* :func:`start_worker_pool` / :func:`stop_group`: ``tests.worker_pool`` and its SDK harnesses.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tests.worker_pool import pool_env

__all__ = [
    "loopback_namespace",
    "run_bounded",
    "start_worker_pool",
    "stop_group",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
_NAMESPACE_SCRIPT = "ip link set lo up && echo ready && exec sleep 86400"


def _read_line(proc: subprocess.Popen, prefix: str, timeout_s: float, what: str) -> str:
    """The first stdout line of ``proc`` that starts with ``prefix``, within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not sel.select(left):
                break
            line = proc.stdout.readline()
            if not line:
                break  # it died
            if line.startswith(prefix):
                return line
    raise RuntimeError(f"{what} did not start within {timeout_s} s (exit code {proc.poll()})")


def stop_group(proc: subprocess.Popen, grace_s: float = 15) -> None:
    """SIGTERM ``proc``'s process group, then SIGKILL whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace_s)
        os.killpg(proc.pid, signal.SIGKILL)  # children left behind by a dead leader
    proc.wait(timeout=grace_s)


@contextlib.contextmanager
def loopback_namespace(timeout_s: float = 30) -> Iterator[list[str]]:
    """Yields the command prefix that runs a command inside a fresh loopback-only network
    namespace (``[]`` where none can be made); the namespace goes when the block ends."""
    if not (shutil.which("unshare") and shutil.which("nsenter") and shutil.which("ip")):
        yield []
        return
    holder = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", _NAMESPACE_SCRIPT],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )
    try:
        try:
            _read_line(holder, "ready", timeout_s, "a loopback network namespace")
        except RuntimeError:
            yield []  # not allowed here
            return
        yield ["nsenter", "-t", str(holder.pid), "-n"]
    finally:
        stop_group(holder)


def start_worker_pool(
    log: Path, prefix: Sequence[str] = (), timeout_s: float = 60
) -> tuple[subprocess.Popen, int]:
    """``tests.worker_pool`` on 127.0.0.1 (inside ``prefix``'s namespace): ``(process, port)``.
    Stop it with :func:`stop_group`, which stops its SDK harnesses too."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "tests.worker_pool"],
            cwd=REPO_ROOT, env=pool_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=err, text=True, start_new_session=True,
        )
    try:
        port = int(_read_line(proc, "PORT ", timeout_s, "the worker pool").split()[1])
    except BaseException:
        stop_group(proc)
        raise
    return proc, port


def run_bounded(
    cmd: Sequence[str], *, cwd: str, timeout_s: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``cmd`` in a new process group; when it ends, or after ``timeout_s`` (then
    :class:`subprocess.TimeoutExpired` is raised), everything left in the group is killed."""
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env=None if env is None else dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        stop_group(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
