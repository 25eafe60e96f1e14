"""Fixtures for the validation tests: fixture builds, a registry on a local store (Chromium
is in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.validation.build_fixture import FixtureSpec, Rows, write_build


@pytest.fixture
def make_build(tmp_path: Path) -> Callable[..., str]:
    """``make_build(name, spec=None, mutate=None)`` writes a fixture build under
    ``tmp_path`` and returns its directory."""

    def make(name: str = "build", spec: FixtureSpec | None = None,
             mutate: Callable[[str, Rows], None] | None = None) -> str:
        out = str(tmp_path / name)
        write_build(out, spec or FixtureSpec(), mutate=mutate)
        return out

    return make


@pytest.fixture
def registry_uri(tmp_path: Path) -> str:
    """A fresh local-store registry."""
    return (tmp_path / "registry").as_uri()
