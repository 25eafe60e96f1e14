"""The build on other runners than the DirectRunner, byte for byte the same: Beam's portable
runner with out-of-process workers, and real engines, Beam's Prism runner and Beam's Flink job
server.

``tests/engines/prism.sh`` and ``tests/engines/flink.sh`` (run by ``make test`` before pytest)
build them from the Go module proxy and from Maven Central into the engines cache, at the
release of the installed Beam SDK; :mod:`tools.engines` says where. A missing engine fails its
test in CI (``CI=true``) and skips it elsewhere, naming the script that builds it
(:func:`require`).
"""

from __future__ import annotations

from pathlib import Path

from tests.ci import skip_or_fail
from tools.engines import FLINK_VERSION, REPO_ROOT, beam_version, flink_job_server_jar, prism_binary

__all__ = [
    "FLINK_VERSION",
    "REPO_ROOT",
    "beam_version",
    "flink_job_server_jar",
    "prism_binary",
    "require",
]


def require(path: Path, script: str) -> str:
    """``path`` as a string if it exists; otherwise fail in CI, skip elsewhere, saying which
    set-up script makes it."""
    if path.exists():
        return str(path)
    skip_or_fail(f"{path} is missing: run `sh tests/engines/{script}` (make test runs it)")
