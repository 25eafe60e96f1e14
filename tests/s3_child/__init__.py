"""A directory put first on the ``PYTHONPATH`` of processes that the tests start and that reach
S3 through Beam's filesystem many times (``tests/s3_server.py``, ``tests/bench_quick.py``): its
``sitecustomize.py`` makes each such process share one botocore data loader."""

from __future__ import annotations

import os

__all__ = ["DIR", "env_with"]

DIR = os.path.dirname(os.path.abspath(__file__))


def env_with(pythonpath: str | None) -> str:
    """``PYTHONPATH`` with this directory first."""
    return os.pathsep.join(p for p in (DIR, pythonpath) if p)
