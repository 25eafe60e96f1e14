"""Fixtures every test package may use: headless Chromium (installed when missing)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, find_chromium

_INSTALL = Path(__file__).resolve().parent / "validation" / "install_chromium.sh"


def _skip_or_fail(why: str) -> None:
    """Skip, saying why; in CI (``CI=true``, as .ci/run runs) fail instead: the browser tests
    must run there, not be skipped quietly."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the browser tests, but {why}", pytrace=False)
    pytest.skip(why)


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
