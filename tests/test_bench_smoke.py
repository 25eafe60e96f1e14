"""``python -m bench --quick`` (on a smaller corpus) runs and writes its results JSON: here the
benchmarks over the corpus's 1- and 2-worker builds, made once by the throughput benchmark and
read by the others (throughput, registration, loaders, training loaders) and the start-up
imports; ``test_bench_smoke_builds.py`` runs the two that make builds of their own (memory,
builds on a base) beside it. Never checks speed: timing belongs to the benchmarks, not to the
tests."""

from __future__ import annotations

import pytest

from bench.__main__ import BENCHMARKS as ALL_BENCHMARKS
from tests.bench_quick import quick_run
from tests.ci import in_ci

BENCHMARKS = ("throughput", "registration", "loaders", "training", "imports")
ELSEWHERE = ("memory", "incremental")  # tests/test_bench_smoke_builds.py

# The bench's own bound (quick_run's 900 s, which reports its stderr) speaks before pytest.ini's
# 600 s per test: on this shared machine at a load of 15-20 one half took 864 s.
pytestmark = pytest.mark.timeout(960)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    return quick_run(tmp_path_factory.mktemp("bench"), BENCHMARKS)


def test_the_two_smoke_tests_run_every_benchmark():
    assert sorted(BENCHMARKS + ELSEWHERE) == sorted(ALL_BENCHMARKS)


def test_quick_run_writes_every_benchmark_with_its_ratios(quick_results):
    results, _ = quick_results
    b = results["benchmarks"]
    kinds = {"floor", "floor_2_processes", "workers_1", "workers_2"}
    assert set(b["throughput"]["summary"]) == kinds
    assert {"workers_1_vs_floor", "workers_2_vs_floor"} <= set(b["throughput"]["ratios"])
    assert b["throughput"]["deterministic_1_vs_2_workers"] is True
    assert {"local", "lakefs_test_server"} <= set(b["registration"]["stores"])
    real = b["registration"]["lakefs_real"]  # skipped, saying why, without the lakeFS binary
    if "skipped" in real:
        assert not in_ci(), f"CI must measure the real lakeFS, but: {real['skipped']}"
    else:
        assert real["bucket_imported"]["v1"]["imported"]
        assert not real["bucket_copied"]["v1"]["imported"]
        assert set(real["ratios"]) == {"v1: through launcher, imported vs copied",
                                       "changed: through launcher, imported vs copied",
                                       "local changed: sent vs changed files"}
    assert "tf_dataset_vs_plain" in b["loaders"]["ratios"]


def test_identical_rebuild_registers_nothing(quick_results):
    results, _ = quick_results
    for store in results["benchmarks"]["registration"]["stores"].values():
        assert store["identical_rebuild"]["tag"] == store["v1"]["tag"]
        assert store["identical_rebuild"]["object_bytes_stored"] == 0


def test_quick_run_describes_the_machine_and_prints_the_table(quick_results):
    results, stdout = quick_results  # quick_run checked the machine and the table in stdout
    assert "| 1 curation: floor" in results["table"] and "| 6 start-up:" in results["table"]
