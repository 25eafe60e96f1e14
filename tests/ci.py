"""What a test does when a real engine, server or model it needs is not there."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["in_ci", "skip_or_fail"]


def in_ci() -> bool:
    """True under ``CI=true`` (as ``.ci/run`` runs)."""
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(why: str) -> NoReturn:
    """Skip, saying why; in CI fail instead: there the tests must run, not be skipped quietly."""
    if in_ci():
        pytest.fail(f"CI must run this test, but {why}", pytrace=False)
    pytest.skip(why)
