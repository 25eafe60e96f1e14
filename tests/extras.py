"""Tests that need an optional extra (``[torch]``, ``[grain]``, ``[hf]``, ``[ray]``,
``[spark]``, ``[tf]``): ``make test`` installs them all. Where one is missing the test is
skipped saying what to install; in CI (``CI=true``, as ``.ci/run`` runs) it fails instead, so
that a missing extra never passes quietly."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """``module`` imported, else a skip (a failure in CI) naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        why = f"{module} is not installed ({e}): pip install -e '.[{extra}]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run this test, but {why}", pytrace=False)
        pytest.skip(why, allow_module_level=True)
