"""Prism against the DirectRunner: the whole build on each, side by side in one run.

``python -m bench.engines [--utterances N] [--rounds R] [--prism PATH] [--out PATH]`` builds one
subset of the benchmark corpus (:mod:`bench.corpus`, a NeMo JSONL manifest) three ways, each in
a fresh process timed from outside (start-up included), the order rotating from round to round:

* ``direct_1``: the DirectRunner, 1 worker (``in_memory``), as ``curate build`` runs by default;
* ``direct_2``: the DirectRunner, 2 workers (``multi_processing``);
* ``prism``: ``--runner PrismRunner --prism_location PATH`` (the binary ``tests/engines/prism.sh``
  builds). Prism 2.62 asks each environment for one SDK worker, so there is no 2-worker Prism:
  its one Python harness (``LOOPBACK``, in the driver's process) runs the bundles Prism hands it.

A one-utterance build of each, in the same rounds, measures start-up. Figures are medians over
rounds; ratios are between medians of the same run. The three builds must have one fingerprint.
Prints a table and writes JSON (default ``bench/engines_results.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from bench.common import build, median, ratio, repo_root
from bench.corpus import Subset, ensure_corpus
from bench.machine import describe

__all__ = ["KINDS", "run"]

KINDS = ("direct_1", "direct_2", "prism")


def _one(kind: str, subset: Subset, out: str, prism: str):
    if kind == "prism":
        return build(subset, out, pipeline_args=["--runner=PrismRunner", f"--prism_location={prism}"])
    return build(subset, out, workers=int(kind.rsplit("_", 1)[1]))


def run(subset: Subset, tiny: Subset, prism: str, rounds: int, workdir: str, say) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    startup: dict[str, list[float]] = {k: [] for k in KINDS}
    for r in range(rounds):
        for kind in KINDS[r % len(KINDS) :] + KINDS[: r % len(KINDS)]:
            startup[kind].append(_one(kind, tiny, os.path.join(workdir, "tiny", kind), prism).wall_s)
            m = _one(kind, subset, os.path.join(workdir, kind), prism)
            runs[kind].append(m.to_dict())
            say(f"  engines round {r + 1}/{rounds} {kind}: {m.wall_s:.1f} s wall, "
                f"{subset.audio_s / m.wall_s:.0f} audio s/s, start-up {startup[kind][-1]:.1f} s")
    summary = {}
    for kind in KINDS:
        wall, start = median([x["wall_s"] for x in runs[kind]]), median(startup[kind])
        summary[kind] = {
            "wall_s": wall,
            "startup_s": start,
            "audio_s_per_s": ratio(subset.audio_s, wall),
            "steady_audio_s_per_s": ratio(subset.audio_s, wall - start),
            "cpu_s": median([x["cpu_s"] for x in runs[kind]]),
            "peak_tree_rss_mb": max(x["peak_tree_rss_mb"] for x in runs[kind]),
            "background_cores": median([x["background_cores"] for x in runs[kind]]),
        }
    speed = {k: summary[k]["audio_s_per_s"] for k in KINDS}
    steady = {k: summary[k]["steady_audio_s_per_s"] for k in KINDS}
    fingerprints = {run["child"].get("fingerprint") for k in KINDS for run in runs[k]}
    return {
        "utterances": subset.utterances,
        "audio_s": subset.audio_s,
        "rounds": rounds,
        "prism": prism,
        "runs": runs,
        "startup_wall_s": startup,
        "summary": summary,
        "ratios": {
            "prism_vs_direct_1": ratio(speed["prism"], speed["direct_1"]),
            "prism_vs_direct_2": ratio(speed["prism"], speed["direct_2"]),
            "direct_2_vs_direct_1": ratio(speed["direct_2"], speed["direct_1"]),
            "prism_vs_direct_1_steady": ratio(steady["prism"], steady["direct_1"]),
            "prism_vs_direct_2_steady": ratio(steady["prism"], steady["direct_2"]),
        },
        "same_fingerprint": len(fingerprints) == 1,
    }


def table(result: dict[str, Any]) -> str:
    s, r = result["summary"], result["ratios"]
    label = {
        "direct_1": "DirectRunner, 1 worker",
        "direct_2": "DirectRunner, 2 workers",
        "prism": "Prism (1 SDK worker)",
    }
    vs = {
        "direct_1": "1.00",
        "direct_2": f"{r['direct_2_vs_direct_1']:.2f}",
        "prism": f"{r['prism_vs_direct_1']:.2f}",
    }
    lines = [
        f"{result['utterances']} utterances, {result['audio_s'] / 3600:.2f} h, "
        f"{result['rounds']} rounds; same fingerprint: {result['same_fingerprint']}",
        "| engine | wall s | audio s/s | start-up s | CPU s | vs DirectRunner 1 worker |",
        "|---|---|---|---|---|---|",
    ]
    for k in KINDS:
        x = s[k]
        lines.append(f"| {label[k]} | {x['wall_s']:.1f} | {x['audio_s_per_s']:.0f} | "
                     f"{x['startup_s']:.1f} | {x['cpu_s']:.1f} | {vs[k]} |")
    lines.append(f"Prism vs DirectRunner 2 workers: {r['prism_vs_direct_2']:.2f} "
                 f"(start-up excluded: {r['prism_vs_direct_1_steady']:.2f} vs 1 worker, "
                 f"{r['prism_vs_direct_2_steady']:.2f} vs 2 workers)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engines", description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--target-shard-mb", type=float, default=16.0)
    parser.add_argument("--prism", help="the Prism binary (default: what tests/engines/prism.sh built)")
    parser.add_argument("--out", default=os.path.join(repo_root(), "bench", "engines_results.json"))
    args = parser.parse_args(argv)
    if args.prism is None:
        from tools.engines import prism_binary

        args.prism = str(prism_binary())
    if not os.path.isfile(args.prism):
        raise SystemExit(f"no Prism binary at {args.prism}: run sh tests/engines/prism.sh")
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    corpus, _ = ensure_corpus(args.utterances)
    subset = corpus.subset(args.utterances, target_shard_mb=args.target_shard_mb)
    tiny = corpus.subset(1, target_shard_mb=args.target_shard_mb)
    with tempfile.TemporaryDirectory(prefix="curate-bench-engines-") as workdir:
        result = run(subset, tiny, args.prism, args.rounds, workdir, say)
    result["machine"] = describe(repo_root())
    result["table"] = table(result)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
    print(result["table"])
    print(f"results in {args.out}")
    return 0 if result["same_fingerprint"] else 1


if __name__ == "__main__":
    sys.exit(main())
