"""What the benchmarks share: the plan (sizes per mode), child-process commands, statistics."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.corpus import Subset
from bench.proctree import Measured, run_measured

__all__ = [
    "FULL",
    "QUICK",
    "Plan",
    "build",
    "floor",
    "measure_main",
    "median",
    "ratio",
    "repo_root",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    """Sizes of one benchmark run."""

    name: str
    corpus_utterances: int  # the whole corpus; the throughput and 4N builds read all of it
    memory_n: int  # N of the memory benchmark (4N = corpus_utterances)
    rounds: int  # throughput rounds; each round runs floor, 1 worker and 2 workers once
    target_shard_mb: float
    loader_passes: int  # loader measurements of each kind (the best one is kept)
    loader_min_records: int  # a measurement reads the split until it has read this many
    random_reads: int  # ArrayRecord random reads per measurement
    training_min_records: int  # a training-loader measurement reads at least this many
    training_passes: int  # training-loader rounds, rows alternated (figures are medians)


QUICK = Plan(
    name="quick",
    corpus_utterances=120,
    memory_n=30,
    rounds=1,
    target_shard_mb=1.0,
    loader_passes=2,
    loader_min_records=1000,
    random_reads=2000,
    training_min_records=200,
    training_passes=1,
)
FULL = Plan(
    name="full",
    corpus_utterances=2000,
    memory_n=500,
    rounds=3,
    target_shard_mb=16.0,
    loader_passes=5,
    loader_min_records=3000,
    random_reads=20000,
    training_min_records=3000,
    training_passes=2,
)


def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(root: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    root = root or repo_root()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _fresh(path: str) -> str:
    if os.path.exists(path):
        shutil.rmtree(path)
    return path


def floor(
    subset: Subset, output: str, *, profile: str | None = None, processes: int = 1
) -> Measured:
    """The floor over ``subset`` in a fresh process (a pool of ``processes``)."""
    cmd = [
        sys.executable, "-m", "bench.floor",
        "--manifest", subset.manifest,
        "--audio-root", subset.audio_root,
        "--config", subset.config,
        "--output", _fresh(output),
    ]
    if profile:
        cmd += ["--profile", profile]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    return run_measured(cmd, env=_env(), cwd=repo_root())


def build(
    subset: Subset,
    output: str,
    *,
    workers: int | None = None,
    profile: str | None = None,
    pipeline_args: Sequence[str] = (),
    config: str | None = None,
    base: str | None = None,
    registry: str | None = None,
    root: str | None = None,
) -> Measured:
    """The build of ``subset`` (or of ``config``) in a fresh process: on the DirectRunner with
    ``workers`` workers, or as ``pipeline_args`` (Beam options) say; on the registered version
    ``base`` of ``registry`` when given. ``root``: another checkout of the project to run (the
    code as it was at some commit), by default this one."""
    cmd = [
        sys.executable, "-m", "bench.child",
        "--config", config or subset.config,
        "--output", _fresh(output),
    ]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    if profile:
        cmd += ["--profile", profile]
    if base:
        cmd += ["--base", base, "--registry", str(registry)]
    cmd += list(pipeline_args)
    return run_measured(cmd, env=_env(root), cwd=root or repo_root())


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def measure_main(argv: Sequence[str] | None, *, prog: str, doc: str, quick_help: str,
                 default_out: str, run: Callable[[bool], dict], table: Callable[[dict], str]) -> int:
    """The command line of a ``python -m bench.X [--quick] [--out PATH]`` module: run, print
    its table, write its JSON with the table in it (``default_out`` is a file name in ``bench/``)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      default_out))
    args = parser.parse_args(argv)
    results = run(args.quick)
    results["table"] = table(results)
    print(results["table"])
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2, sort_keys=True, default=float)  # numpy scalars too
    print(f"\nwritten: {args.out}", file=sys.stderr)
    return 0
