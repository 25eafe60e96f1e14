"""The fresh full build by two codes and the floor, alternated in one run: whether a change to
the fresh path costs or saves CPU, and how far the build is from the floor.

``python -m bench.fresh_ab --before COMMIT [--after COMMIT] [--utterances N] [--runs R]
[--no-floor] [--out F.json]`` builds ``N`` utterances of the benchmark corpus (cached,
:mod:`bench.corpus`, 2 MB shards as ``bench.incremental``'s v1) from scratch ``R`` times with
each code (``--before``, a ``git archive`` of that commit; ``--after``, this checkout unless
given) and runs the floor (:mod:`bench.floor`, this checkout) as often, A B F, then F B A, …,
each in a fresh process (``python -m bench.child``, one worker, start-up included). The same
over one utterance (the fixed cost) follows each round. Figures: CPU seconds of each process
tree (median of ``R``), per utterance ``(cpu(N) - cpu(1)) / (N - 1)`` from the medians, and
their ratios; every build of one code must give one fingerprint. The machine's record of
source fingerprints (:mod:`curate.stat_cache`, codes that have it) is off: every build hashes
its files, as the first build of a corpus on a machine does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main", "run"]


def _checkout(commit: str, dest: str) -> str:
    """``commit``'s code under ``dest``, measured by this checkout's ``bench/child.py`` (the same
    measuring child for both codes: older ones did not end with ``os._exit``, so their
    interpreter's teardown was counted, and sometimes aborted)."""
    from bench.common import repo_root
    from bench.incremental import _before_checkout

    _before_checkout(commit, dest)
    shutil.copy(os.path.join(repo_root(), "bench", "child.py"),
                os.path.join(dest, "bench", "child.py"))
    return dest


def run(work: str, *, before: str, after: str | None, utterances: int, runs: int,
        target_mb: float, corpus_size: int, say: Callable[[str], None],
        with_floor: bool = True) -> dict[str, Any]:
    from bench.common import build, floor, median
    from bench.corpus import ensure_corpus
    from bench.incremental import _measured
    from bench.machine import load_average

    corpus, _ = ensure_corpus(max(corpus_size, utterances))
    sizes = {"n": corpus.subset(utterances, target_shard_mb=target_mb,
                                name=f"fresh{utterances}"),
             "1": corpus.subset(1, target_shard_mb=target_mb, name="fresh1")}
    roots: dict[str, str | None] = {"before": _checkout(before, os.path.join(work, "a"))}
    roots["after"] = _checkout(after, os.path.join(work, "b")) if after else None
    codes = ("before", "after", "floor") if with_floor else ("before", "after")
    out: dict[str, Any] = {"before": before, "after": after or "this checkout",
                           "utterances": utterances, "target_shard_mb": target_mb,
                           "runs": {f"{k}-{s}": [] for k in codes for s in sizes}}
    for i in range(runs):
        for size, subset in sizes.items():
            # A B F, then F B A: a code measured first or last in every round would carry
            # whatever the position costs (a cache warmed by the run before, a burst of load)
            for name in codes if i % 2 == 0 else codes[::-1]:
                dest = os.path.join(work, f"{name}-{size}")
                if name == "floor":
                    m = floor(subset, dest)
                    rec = {"wall_s": m.wall_s, "cpu_s": m.cpu_s,
                           "background_cores": m.background_cores,
                           "accepted": m.report.get("accepted")}
                else:
                    rec = _measured(build(subset, dest, workers=1, root=roots[name]))
                out["runs"][f"{name}-{size}"].append(rec)
                shutil.rmtree(dest, ignore_errors=True)
                say(f"round {i} {name} {size}: {rec['cpu_s']:.2f} CPU s, wall "
                    f"{rec['wall_s']:.1f} s, others' load {rec['background_cores']:.2f} cores"
                    + (f", fingerprint {rec['fingerprint'][:12]}" if rec.get("fingerprint")
                       else ""))
    cpu = {k: median([r["cpu_s"] for r in v]) for k, v in out["runs"].items()}
    per = {k: 1000 * (cpu[f"{k}-n"] - cpu[f"{k}-1"]) / (utterances - 1) for k in codes}
    out["median_cpu_s"] = cpu
    out["cpu_ms_per_utterance"] = per
    out["ratios"] = {
        "after_vs_before_cpu": cpu["after-n"] / cpu["before-n"],
        "after_vs_before_per_utterance": per["after"] / per["before"],
    }
    if with_floor:
        out["ratios"]["after_vs_floor_per_utterance"] = per["after"] / per["floor"]
        out["ratios"]["before_vs_floor_per_utterance"] = per["before"] / per["floor"]
    out["same_fingerprint"] = {
        k: len({r["fingerprint"] for r in out["runs"][f"{k}-{s}"]}) == 1
        for k in ("before", "after") for s in sizes}
    out["others_load_cores"] = [min(r["background_cores"] for v in out["runs"].values()
                                    for r in v),
                                max(r["background_cores"] for v in out["runs"].values()
                                    for r in v)]
    out["load_average"] = load_average()
    return out


def table(r: dict[str, Any]) -> str:
    cpu, per, ratio = r["median_cpu_s"], r["cpu_ms_per_utterance"], r["ratios"]
    lines = [f"fresh build of {r['utterances']} utterances, median of "
             f"{len(r['runs']['after-n'])} alternated runs (others' load "
             f"{r['others_load_cores'][0]:.2f}-{r['others_load_cores'][1]:.2f} cores)",
             "| code | CPU s (N) | CPU s (1) | ms per utterance | / floor |",
             "|---|---|---|---|---|"]
    for k, label in (("before", r["before"]), ("after", r["after"]), ("floor", "floor")):
        if k in per:
            floor = f"{per[k] / per['floor']:.2f}" if "floor" in per else ""
            lines.append(f"| {label} | {cpu[f'{k}-n']:.2f} | {cpu[f'{k}-1']:.2f} | "
                         f"{per[k]:.2f} | {floor} |")
    lines.append(f"after / before: CPU {ratio['after_vs_before_cpu']:.3f}, per utterance "
                 f"{ratio['after_vs_before_per_utterance']:.3f}; same fingerprint per code: "
                 f"{r['same_fingerprint']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fresh_ab",
                                description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="the commit whose code is A")
    p.add_argument("--after", help="the commit whose code is B (default: this checkout)")
    p.add_argument("--utterances", type=int, default=1000)
    p.add_argument("--corpus", type=int, default=2000, help="the cached corpus to cut from")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--target-mb", type=float, default=2.0)
    p.add_argument("--no-floor", action="store_true", help="the two codes only")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "fresh_ab.json"))
    args = p.parse_args(argv)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    os.environ["CURATE_FINGERPRINT_CACHE"] = "off"  # (curate.stat_cache; the builds inherit it)
    work = tempfile.mkdtemp(prefix="curate-bench-fresh-ab-")
    try:
        r = run(work, before=args.before, after=args.after, utterances=args.utterances,
                runs=args.runs, target_mb=args.target_mb, corpus_size=args.corpus, say=say,
                with_floor=not args.no_floor)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from bench.machine import describe, write_json

    result = {"run": r, "machine": describe(os.path.dirname(os.path.dirname(__file__)))}
    write_json(args.out, result)
    print(table(r))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
