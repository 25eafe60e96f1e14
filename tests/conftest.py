"""Fixtures every test package may use: headless Chromium (installed when missing); and the
order the test files run in (the slowest first, see :data:`SLOWEST_FIRST`)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, find_chromium
from tests.ci import skip_or_fail as _skip_or_fail

_INSTALL = Path(__file__).resolve().parent / "validation" / "install_chromium.sh"

# The test files that take longest, longest first (measured with `--durations`; see
# docs/runners.md, *The whole suite*). `make test` runs the suite in two processes, a file each
# at a time, handing out files in collection order (`--no-loadscope-reorder`; xdist's default
# hands out the files with the most tests first, which left these few-test, long files for the
# end, one process finishing them alone). Started first, they run while the other process works
# through the many short files.
SLOWEST_FIRST = (
    "tests/test_bench_smoke.py",
    "tests/test_bench_smoke_registry.py",
    "tests/engines/test_flink.py",
    "tests/pipelines/test_incremental.py",
    "tests/test_demo.py",
    "tests/curate/models/test_build_with_models.py",
    "tests/engines/test_prism.py",
    "tests/test_packaging.py",
    "tests/engines/test_portable.py",
    "tests/validation/test_sample_builds.py",
    "tests/pipelines/test_s3.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the files of :data:`SLOWEST_FIRST` to the front, in that order; every other test
    keeps its place."""
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


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
