"""``python -m bench --quick`` (on a smaller corpus): the two benchmarks that make builds of
their own, memory (N and 4N utterances, 2 workers) and builds on a base (``incremental``), run
and write their results JSON (the others, which share the throughput benchmark's builds:
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
    assert "peak_tree_4n_vs_n" in b["memory"]["ratios"]
    assert {"incremental_cpu_vs_full_cpu", "incremental_stored_vs_new_example_bytes"} <= set(
        b["incremental"]["ratios"])
