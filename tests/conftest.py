"""Fixtures every test package may use: headless Chromium (installed when missing), the demo
run once; and the order the test files run in (the slowest first, see :data:`SLOWEST_FIRST`)
and in which process (``tests/scheduling.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, find_chromium
from tests.ci import skip_or_fail as _skip_or_fail
from tests.demo_run import DemoRun, run_demo

_INSTALL = Path(__file__).resolve().parent / "validation" / "install_chromium.sh"

# The units of work that take longest, longest first (a unit is a file, or a group of files
# that share session fixtures, tests/scheduling.py; a group starts where its first file is;
# seconds of one clean-clone run, 2026-12-01, load average 6-9). `make test` runs the suite in
# two processes, a unit each at a time, handing out units in collection order
# (`--no-loadscope-reorder`; xdist's default hands out the files with the most tests first,
# which left these few-test, long files for the end, one process finishing them alone). Started
# first, they run while the other process works through the many short files.
SLOWEST_FIRST = (
    "tests/engines/test_flink.py",  # the engines group: 179 s + 138 s + 39 s run apart
    "tests/engines/test_prism.py",
    "tests/engines/test_portable.py",
    "tests/pipelines/test_s3.py",  # 295 s
    "tests/pipelines/test_incremental.py",  # 284 s
    "tests/test_bench_smoke.py",  # 247 s + 279 s as two halves that each built the corpus
    "tests/test_bench_smoke_builds.py",
    "tests/test_demo.py",  # the demo group: 140 s + 75 s run apart
    "tests/validation/test_sample_builds.py",
    "tests/curate/models/test_asr.py",  # the models group: 91 s + 82 s + 19 s run apart
    "tests/curate/models/test_transform.py",
    "tests/curate/models/test_langid.py",
    "tests/pipelines/test_compact.py",  # 145 s
    "tests/validation/test_s3_build.py",  # 137 s (it ran last: the other process idled 110 s)
    "tests/curate/test_sources.py",  # 134 s
    "tests/curate/models/test_build_with_models.py",  # 109 s
    "tests/pipelines/test_scale.py",  # 82 s
    "tests/registry/loaders/test_ray.py",  # 79 s
)


def pytest_configure(config: pytest.Config) -> None:
    """Each test process (and what it starts) records source fingerprints in a file of its own,
    removed at the end, not in the user's cache directory (:mod:`curate.stat_cache`): a run
    neither reads what earlier runs or builds on this machine recorded nor leaves rows behind."""
    if "CURATE_FINGERPRINT_CACHE" not in os.environ:
        folder = tempfile.mkdtemp(prefix="curate-fingerprints-")
        os.environ["CURATE_FINGERPRINT_CACHE"] = os.path.join(folder, "fingerprints.sqlite3")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile`` with the files that share session fixtures kept in one process
    (:mod:`tests.scheduling`); any other ``--dist`` is xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.scheduling import GroupedFileScheduling

    return GroupedFileScheduling(config, log)


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


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """``curate demo`` run once for the session, as a user runs it (``tests/demo_run.py``):
    ``tests/test_demo.py`` checks what it did; ``tests/validation/test_sample_builds.py``
    validates its build instead of building the sample corpus again."""
    return run_demo(str(tmp_path_factory.mktemp("demo") / "demo"))
