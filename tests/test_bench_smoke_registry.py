"""``python -m bench --quick`` (on a smaller corpus): the registration, loader and incremental
(builds on a base) benchmarks run and write their results JSON (the other benchmarks:
``test_bench_smoke.py``, beside this in the other test process). Never checks speed: timing
belongs to the benchmarks, not to the tests."""

from __future__ import annotations

import pytest

from tests.bench_quick import quick_run
from tests.test_bench_smoke import ELSEWHERE as BENCHMARKS

# The bench's own bound (quick_run's 900 s, which reports its stderr) speaks before pytest.ini's
# 600 s per test: on this shared machine at a load of 15-20 one half took 864 s.
pytestmark = pytest.mark.timeout(960)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    return quick_run(tmp_path_factory.mktemp("bench"), BENCHMARKS)


def test_quick_run_writes_every_benchmark_with_its_ratios(quick_results):
    results, _ = quick_results
    b = results["benchmarks"]
    assert {"local", "lakefs_test_server"} <= set(b["registration"]["stores"])
    real = b["registration"]["lakefs_real"]  # skipped, saying why, without the lakeFS binary
    if "skipped" not in real:
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
