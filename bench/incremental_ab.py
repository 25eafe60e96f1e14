"""The build on v1 of ``python -m bench.incremental``, by this checkout and by the code of
another commit, alternated in one run: the CPU seconds a change to the carry-over saves.

``python -m bench.incremental_ab --workdir W --before COMMIT [--runs 2] [--cold]
[--out F.json]`` takes a ``bench.incremental --workdir W`` left behind (its v1 store, its
``v2.yaml``), and builds v2 on v1 ``--runs`` times with each code, A B A B…, each in a fresh
process (``python -m bench.child``, start-up included, one worker). The registry cache holds
v1's files from the first build on, for both; with ``--cold`` each build starts with an empty
one (as the build on v1 of ``bench.incremental`` does). Both codes must read the same layout
(the one of v1).
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Sequence
from typing import Any

__all__ = ["run"]


def run(work: str, before: str, runs: int, cold: bool = False) -> dict[str, Any]:
    from bench.common import build, median
    from bench.incremental import DATASET, _before_checkout, _measured

    ref = f"{DATASET}@v1"  # the workdir's registry-v1 holds v1 only
    registry = f"file://{os.path.join(work, 'registry-v1')}"
    old = os.path.join(work, f"ab-{before}")
    if not os.path.isdir(old):
        _before_checkout(before, old)
    out: dict[str, Any] = {"before": before, "ref": ref, "cold_cache": cold,
                           "runs": {"before": [], "after": []}}
    for i in range(runs):
        for name, root in (("before", old), ("after", None)):
            # the child's cache is beside its output: one of its own per build when cold
            output = (os.path.join(work, f"ab-cold-{name}-{i}", "out") if cold
                      else os.path.join(work, f"ab-{name}-{i}"))
            if cold:
                shutil.rmtree(os.path.dirname(output), ignore_errors=True)
                os.makedirs(os.path.dirname(output))
            m = _measured(build(None,  # type: ignore[arg-type]  (config given: no subset)
                                output, workers=1,
                                config=os.path.join(work, "v2.yaml"), base=ref,
                                registry=registry, root=root))
            out["runs"][name].append(m)
            print(f"{name} {i}: {m['cpu_s']:.2f} CPU s, wall {m['wall_s']:.1f} s, "
                  f"others' load {m['background_cores']:.2f} cores, fingerprint "
                  f"{m['fingerprint'][:12]}", flush=True)
    cpu = {k: median([m["cpu_s"] for m in v]) for k, v in out["runs"].items()}
    out["median_cpu_s"] = cpu
    out["after_vs_before_cpu"] = cpu["after"] / cpu["before"]
    same = {m["fingerprint"] for v in out["runs"].values() for m in v}
    out["same_fingerprint"] = len(same) == 1
    print(f"median CPU s: before {cpu['before']:.2f}, after {cpu['after']:.2f}: "
          f"{out['after_vs_before_cpu']:.2f}x; same output: {out['same_fingerprint']}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.incremental_ab", description=__doc__)
    p.add_argument("--workdir", required=True)
    p.add_argument("--before", required=True)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--cold", action="store_true", help="an empty registry cache per build")
    p.add_argument("--out", default="bench/incremental_ab.json")
    args = p.parse_args(argv)
    from bench.machine import write_json

    result = run(args.workdir, args.before, args.runs, args.cold)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
