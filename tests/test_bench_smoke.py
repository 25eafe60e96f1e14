"""``python -m bench --quick`` (on a smaller corpus) runs and writes its results JSON. It never
checks speed: timing belongs to the benchmarks, not to the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = ("throughput", "memory", "registration", "loaders", "training", "imports",
              "incremental")


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "results.json"
    env = dict(os.environ, CURATE_BENCH_CACHE=str(tmp / "cache"), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        # 24 utterances (quick mode's 120 cost minutes here): the smallest corpus whose every
        # split still has examples, so that each benchmark still runs and reports its ratios.
        [sys.executable, "-m", "bench", "--quick", "--utterances", "24", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(out, encoding="utf-8") as f:
        return json.load(f), proc.stdout


def test_quick_run_writes_every_benchmark_with_its_ratios(quick_results):
    results, _ = quick_results
    assert results["mode"] == "quick"
    assert set(BENCHMARKS) <= set(results["benchmarks"])
    for name in BENCHMARKS:
        assert "error" not in results["benchmarks"][name], results["benchmarks"][name]
        assert "ratios" in results["benchmarks"][name] or name == "registration"
    b = results["benchmarks"]
    kinds = {"floor", "floor_2_processes", "workers_1", "workers_2"}
    assert set(b["throughput"]["summary"]) == kinds
    assert {"workers_1_vs_floor", "workers_2_vs_floor"} <= set(b["throughput"]["ratios"])
    assert b["throughput"]["deterministic_1_vs_2_workers"] is True
    assert "peak_tree_4n_vs_n" in b["memory"]["ratios"]
    assert {"local", "lakefs_test_server"} <= set(b["registration"]["stores"])
    real = b["registration"]["lakefs_real"]  # skipped, saying why, without the lakeFS binary
    if "skipped" not in real:
        assert real["bucket_imported"]["v1"]["imported"]
        assert not real["bucket_copied"]["v1"]["imported"]
        assert set(real["ratios"]) == {"v1: through launcher, imported vs copied",
                                       "changed: through launcher, imported vs copied",
                                       "local changed: sent vs changed files"}
    assert "tf_dataset_vs_plain" in b["loaders"]["ratios"]


def test_quick_run_describes_the_machine_and_prints_the_table(quick_results):
    results, stdout = quick_results
    machine = results["machine"]
    assert machine["cpus"] >= 1 and machine["python"] and "apache-beam" in machine["packages"]
    assert results["table"].startswith("| benchmark |")
    assert results["table"] in stdout


def test_identical_rebuild_registers_nothing(quick_results):
    results, _ = quick_results
    for store in results["benchmarks"]["registration"]["stores"].values():
        assert store["identical_rebuild"]["tag"] == store["v1"]["tag"]
        assert store["identical_rebuild"]["object_bytes_stored"] == 0
