"""Fixtures for the validation tests: fixture builds, a registry on a local store, Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.validation.build_fixture import FixtureSpec, Rows, write_build

HERE = Path(__file__).resolve().parent
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


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


def _find_chromium() -> str | None:
    return next((p for p in map(shutil.which, _CHROMIUM_NAMES) if p), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """A headless Chromium binary, installed with ``install_chromium.sh`` when missing; the
    tests that need it are skipped, saying why, only when it cannot be installed."""
    found = _find_chromium()
    if found:
        return found
    script = HERE / "install_chromium.sh"
    try:
        proc = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"Chromium is not installed and {script.name} could not run: {e}")
    found = _find_chromium()
    if proc.returncode != 0 or not found:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"Chromium is not installed and cannot be installed here: {detail[0]}")
    return found


def dump_dom(chromium: str, path: str, profile_dir: Path) -> str:
    """The DOM of ``path`` after Chromium has run its scripts. Every host name fails to resolve,
    as on an air-gapped runner: GX's CDN scripts never load, so what shows is what the page
    holds itself (and the run takes a second instead of waiting on the network)."""
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-background-networking",
         "--no-first-run", "--disable-extensions", f"--user-data-dir={profile_dir}",
         "--dump-dom", Path(path).resolve().as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(profile_dir)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout
