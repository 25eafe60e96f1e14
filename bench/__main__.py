"""``python -m bench [--quick] [--out PATH] [--only NAME ...]``: run the benchmarks.

Makes (or reuses) the sample corpus, runs curation throughput, memory, registration and loader
benchmarks, prints a Markdown table and writes every raw figure, ratio and a description of the
machine to ``bench/results.json`` (or ``--out``). ``--quick`` uses a small corpus and one round
and finishes in under two minutes; it is what the smoke test runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from typing import Any

from bench.common import FULL, QUICK, repo_root

BENCHMARKS = ("throughput", "memory", "registration", "loaders", "training", "imports",
              "incremental")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpus, one round (< 2 min)")
    parser.add_argument(
        "--out",
        default=os.path.join(repo_root(), "bench", "results.json"),
        help="where to write the results JSON (default: bench/results.json)",
    )
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--rounds", type=int, help="throughput rounds (default: by mode)")
    parser.add_argument("--utterances", type=int, help="corpus size (default: by mode)")
    parser.add_argument(
        "--records", type=int,
        help="each loader and training-loader measurement reads at least this many records, "
             "and as many random reads (default: by mode; the smoke tests' few)",
    )
    parser.add_argument("--workdir", help="keep builds and stores here (default: a temp dir)")
    parser.add_argument("--no-lakefs", action="store_true", help="skip the lakeFS test server")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    from dataclasses import replace

    from bench import imports, incremental, loaders, memory, registration, throughput
    from bench import training_loaders
    from bench.corpus import ensure_corpus
    from bench.machine import describe, load_average
    from bench.report import table

    plan = QUICK if args.quick else FULL
    if args.utterances:
        plan = replace(plan, corpus_utterances=args.utterances,
                       memory_n=max(1, args.utterances // 4))
    if args.rounds:
        plan = replace(plan, rounds=args.rounds)
    if args.records:
        plan = replace(plan, loader_min_records=args.records, random_reads=args.records,
                       training_min_records=args.records)
    wanted = set(args.only or BENCHMARKS)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "mode": plan.name,
        "plan": {f: getattr(plan, f) for f in plan.__slots__},
        "machine": describe(repo_root()),
        "benchmarks": {},
    }
    workdir = args.workdir or tempfile.mkdtemp(prefix="curate-bench-")
    os.makedirs(workdir, exist_ok=True)
    try:
        _say(f"bench ({plan.name}): corpus of {plan.corpus_utterances} utterances ...")
        t0 = time.perf_counter()
        corpus, made = ensure_corpus(plan.corpus_utterances)
        results["corpus"] = {
            "root": corpus.root,
            "utterances": corpus.utterances,
            "seed": corpus.seed,
            "made_now": made,
            "seconds": time.perf_counter() - t0,
        }
        subset = corpus.subset(plan.corpus_utterances, target_shard_mb=plan.target_shard_mb)
        tiny = corpus.subset(1, target_shard_mb=plan.target_shard_mb)
        results["corpus"]["audio_s"] = subset.audio_s
        bench = results["benchmarks"]

        def attempt(name: str, fn) -> None:
            if name not in wanted:
                return
            t = time.perf_counter()
            try:
                bench[name] = fn()
            except Exception as e:  # one failing benchmark must not hide the others
                traceback.print_exc()
                bench[name] = {"error": f"{type(e).__name__}: {e}"}
            bench[name]["bench_seconds"] = time.perf_counter() - t

        attempt("throughput", lambda: throughput.run(
            plan, subset, tiny, os.path.join(workdir, "throughput"), _say))
        attempt("memory", lambda: memory.run(
            corpus, plan.memory_n, os.path.join(workdir, "memory"), _say))
        builds = bench.get("throughput", {}).get("builds")
        if not builds and wanted & {"registration", "loaders", "training"}:  # they need builds
            builds = {}
            # registration registers both (the 2-worker one as an identical rebuild); the
            # loaders and the training loaders read the 1-worker build
            kinds = (("workers_1", 1), ("workers_2", 2))[: 2 if "registration" in wanted else 1]
            for kind, workers in kinds:
                from bench.common import build

                builds[kind] = os.path.join(workdir, "throughput", kind)
                build(subset, builds[kind], workers=workers)
        attempt("registration", lambda: registration.run(
            subset, builds["workers_1"], builds["workers_2"],
            os.path.join(workdir, "registration"), _say, lakefs=not args.no_lakefs))
        store = os.path.join(workdir, "registration", "local-store")

        def run_loaders() -> dict[str, Any]:
            if not os.path.isdir(store):  # registration was not run: register v1 here
                from registry.api import Registry

                Registry(store, cache_dir=os.path.join(workdir, "cache")).register(
                    builds["workers_1"], dataset=registration.DATASET, allow_unvalidated=True
                )
            return loaders.run(
                store, registration.DATASET, os.path.join(workdir, "loaders"),
                passes=plan.loader_passes, min_records=plan.loader_min_records,
                random_reads=plan.random_reads, say=_say,
            )

        attempt("loaders", run_loaders)
        attempt("imports", lambda: imports.run(rounds=plan.rounds, say=_say))
        attempt("training", lambda: training_loaders.run(
            builds["workers_1"], os.path.join(workdir, "training"), passes=plan.training_passes,
            min_records=plan.training_min_records, say=_say, clusters=plan.name != "quick"))
        attempt("incremental", lambda: incremental.bench(
            os.path.join(workdir, "incremental"), utterances=plan.corpus_utterances,
            quick=plan.name == "quick", say=_say))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["machine"]["load_average_at_end"] = load_average()
    results["seconds"] = time.perf_counter() - started
    results["table"] = table(results)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2, sort_keys=True, default=str)
    print(results["table"])
    print(f"\n{plan.name} run: {results['seconds']:.0f} s; results in {args.out}")
    return 1 if any("error" in b for b in results["benchmarks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
