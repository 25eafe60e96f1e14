"""Fixtures every test package may use: headless Chromium (installed when missing)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, find_chromium
from tests.ci import skip_or_fail as _skip_or_fail

_INSTALL = Path(__file__).resolve().parent / "validation" / "install_chromium.sh"


@pytest.fixture(scope="session")
def chromium() -> str:
    """A headless Chromium binary, installed with ``install_chromium.sh`` when missing; the
    tests that need it are skipped, saying why, only when it cannot be installed (and fail
    instead in CI)."""
    found = find_chromium()
    if found:
        return found
    try:
        proc = subprocess.run(["sh", str(_INSTALL)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        _skip_or_fail(f"Chromium is not installed and {_INSTALL.name} could not run: {e}")
    found = find_chromium()
    if proc.returncode != 0 or not found:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        _skip_or_fail(f"Chromium is not installed and cannot be installed here: {detail[0]}")
    return found


@pytest.fixture(scope="session")
def browser(chromium: str, tmp_path_factory) -> Iterator[Browser]:
    """One headless Chromium for the session, driven through the DevTools protocol; every page
    it opens is offline (see ``tests/browser.py``)."""
    with Browser(chromium, tmp_path_factory.mktemp("chromium")) as b:
        yield b
