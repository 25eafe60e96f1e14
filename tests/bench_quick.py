"""``python -m bench --quick --only ...`` in a subprocess, for the bench smoke tests
(``tests/test_bench_smoke.py``, ``tests/test_bench_smoke_builds.py``). The benchmarks are split
between those two files so that the two test processes of ``make test`` run them side by side,
those that read the throughput benchmark's builds in the first (so the corpus is built once);
together they run every benchmark once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.s3_child import env_with

__all__ = ["ROOT", "quick_run"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def quick_run(tmp: Path, only: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """``(results JSON, stdout)`` of the quick benchmarks ``only``, run in a fresh process with
    its own corpus cache under ``tmp``."""
    out = tmp / "results.json"
    # Each process of the run shares one botocore data loader (tests/s3_child): registering
    # the builds in the bucket of the real lakeFS (bench.registration_lakefs) took 8-10 s each
    # here, mostly Beam's S3 filesystem parsing botocore's S3 model again for every operation;
    # 2.5 s with it shared. The bytes through the launcher, what that benchmark measures, are
    # the same; its seconds are not a user's (a smoke run's seconds never are).
    env = dict(os.environ, CURATE_BENCH_CACHE=str(tmp / "cache"), TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=env_with(os.environ.get("PYTHONPATH")))
    proc = subprocess.run(
        # 24 utterances (quick mode's 120 cost minutes here): the smallest corpus whose every
        # split still has examples, so that each benchmark still runs and reports its ratios.
        # 16 records a loader measurement (quick mode's 200-2 000 read the 11-example split
        # 19-182 times over, a minute here): every loader still reads past the end of the split,
        # in more than one batch, and the random reads cross into a second shuffled order.
        [sys.executable, "-m", "bench", "--quick", "--utterances", "24", "--records", "16",
         "--out", str(out), "--only", *only],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(out, encoding="utf-8") as f:
        results = json.load(f)
    assert results["mode"] == "quick"
    assert set(results["benchmarks"]) == set(only)  # each one ran (or said why it failed)
    for name in only:
        assert "error" not in results["benchmarks"][name], results["benchmarks"][name]
        assert "ratios" in results["benchmarks"][name] or name == "registration"
    machine = results["machine"]
    assert machine["cpus"] >= 1 and machine["python"] and "apache-beam" in machine["packages"]
    assert results["table"].startswith("| benchmark |")
    assert results["table"] in proc.stdout
    return results, proc.stdout
