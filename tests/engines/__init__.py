"""The build on other runners than the DirectRunner, byte for byte the same: Beam's portable
runner with out-of-process workers, and real engines, Beam's Prism runner and Beam's Flink job
server.

``tests/engines/prism.sh`` and ``tests/engines/flink.sh`` (run by ``make test`` before pytest)
build them from the Go module proxy and from Maven Central into the engines cache: ``.engines/``
in the repository (gitignored), or ``$CURATE_ENGINES_DIR``. Both are built at the release of the
installed Beam SDK, which ``setup.py`` pins. The tests find them with :func:`prism_binary` and
:func:`flink_job_server_jar`; a missing engine fails the test in CI (``CI=true``) and skips it
elsewhere, naming the script that builds it.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

from tests.ci import skip_or_fail

__all__ = [
    "FLINK_VERSION",
    "REPO_ROOT",
    "beam_version",
    "engines_dir",
    "flink_job_server_jar",
    "prism_binary",
    "require",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
FLINK_VERSION = "1.19"  # the newest Flink that Beam 2.62's runner on Maven Central is built for


def beam_version() -> str:
    return version("apache-beam")


def engines_dir() -> Path:
    return Path(os.environ.get("CURATE_ENGINES_DIR") or REPO_ROOT / ".engines")


def prism_binary() -> Path:
    """Where ``prism.sh`` puts the Prism binary of this Beam release."""
    return engines_dir() / "prism" / f"prism-v{beam_version()}"


def flink_job_server_jar() -> Path:
    """Where ``flink.sh`` puts the job-server jar (its dependencies in ``lib/`` beside it)."""
    name = f"beam-runners-flink-{FLINK_VERSION}-job-server-{beam_version()}.jar"
    return engines_dir() / "flink" / name


def require(path: Path, script: str) -> str:
    """``path`` as a string if it exists; otherwise fail in CI, skip elsewhere, saying which
    set-up script makes it."""
    if path.exists():
        return str(path)
    skip_or_fail(f"{path} is missing: run `sh tests/engines/{script}` (make test runs it)")
