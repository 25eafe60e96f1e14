"""A description of the machine and the software a benchmark ran on."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from typing import Any

__all__ = ["describe", "load_average", "write_json"]

_PACKAGES = (
    "apache-beam",
    "tensorflow-cpu",
    "tensorflow",
    "array-record",
    "numpy",
    "soundfile",
    "soxr",
    "pyarrow",
    "lakefs",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _git(root: str, *args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def describe(repo_root: str) -> dict[str, Any]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        import soundfile

        versions["libsndfile"] = soundfile.__libsndfile_version__
    except (ImportError, AttributeError):
        pass
    dirty = _git(
        repo_root, "status", "--porcelain", "--", "curate", "bench", "registry", "pipelines"
    )
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": _memory_gb(),
        "load_average_at_start": load_average(),
        "git_commit": _git(repo_root, "rev-parse", "HEAD"),
        "git_dirty": bool(dirty),
        "packages": versions,
        "note": "shared machine: other developers' jobs run at the same time; see each run's "
        "background_cores",
    }


def write_json(path: str, result: Any) -> None:
    """A benchmark's figures at ``path``: indented, keys sorted, one trailing newline."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
