"""Where the engines that ``tests/engines/prism.sh`` and ``tests/engines/flink.sh`` build are.

Both build at the release of the installed Beam SDK (which ``setup.py`` pins) into the engines
cache: ``.engines/`` in the repository (gitignored), or ``$CURATE_ENGINES_DIR``. The engine
tests (:mod:`tests.engines`) and the engine benchmark (:mod:`bench.engines`) find them here.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

__all__ = [
    "FLINK_VERSION",
    "REPO_ROOT",
    "beam_version",
    "engines_dir",
    "flink_job_server_jar",
    "prism_binary",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
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
