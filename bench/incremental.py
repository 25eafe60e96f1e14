"""Benchmark: a version that grows a little, built on its base or rebuilt in full.

``python -m bench.incremental [--utterances N ...] [--new-percent P] [--out PATH]``

v1 is the sample corpus (``N`` utterances plus its known bad inputs) built and registered in
the embedded local store. A second source of ``P`` % new utterances is added and v2 is built
twice, side by side in one run, from the same sources and config:

* **full**: a fresh build (no base), registered into a copy of the v1 registry;
* **incremental**: ``--base v1``, registered into another copy.

For each: wall and CPU seconds of the build (this process and its children; one worker, so
the pipeline runs in this process), the number of audio decodes (the ``audio.decoded``
counter), the shard files written vs kept, and the bytes newly stored by registering it (the
growth of the store's directory: objects, commits and refs). "New example bytes" are the
shard files of v2 that v1 does not hold (in every configured format); the bytes stored include
each version's ``report.html`` (the build's report page, a few hundred kB whatever its size),
shown apart. Each corpus size given
is a run of its own; prints a Markdown table per run and writes the figures to
``bench/incremental.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "run"]

DATASET_CONFIG = "librispeech"


def _tree_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _config(root: str, name: str, sources: list[str], target_mb: float) -> str:
    import yaml

    with open(os.path.join(root, "base", "configs", f"{DATASET_CONFIG}.yaml")) as f:
        config = yaml.safe_load(f)
    config["sources"] = [{"kind": "librispeech", "path": p} for p in sources]
    config["shards"]["target_size_mb"] = target_mb
    path = os.path.join(root, f"{name}.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return path


def _timed_build(config: str, out: str, base: Any = None) -> dict[str, Any]:
    from curate.launch import run_build

    counters: dict[str, int] = {}
    wall, cpu = time.perf_counter(), _cpu_s()
    info = run_build(config, out, base=base, counters=counters, say=lambda _: None)
    return {"info": info, "wall_s": time.perf_counter() - wall, "cpu_s": _cpu_s() - cpu,
            "decoded": counters.get("audio.decoded", 0)}


def _register(reg_dir: str, cache: str, build: str, name: str) -> int:
    """Register ``build`` into the local store at ``reg_dir``; the bytes newly stored."""
    from registry.api import Registry

    before = _tree_bytes(reg_dir)
    Registry(f"file://{reg_dir}", cache_dir=cache).register(build, dataset=name,
                                                           allow_unvalidated=True)
    return _tree_bytes(reg_dir) - before


def _report_bytes(build_dir: str) -> int:
    """report.html (curate's report page of the build): new in every version, not data."""
    path = os.path.join(build_dir, "report.html")
    return os.path.getsize(path) if os.path.exists(path) else 0


def run(work: str, *, utterances: int, new_percent: float, target_mb: float) -> dict[str, Any]:
    from curate.samples import make_corpus
    from registry.api import Registry

    new = max(1, round(utterances * new_percent / 100))
    make_corpus(os.path.join(work, "base"), utterances=utterances, seed=0, with_bad_inputs=True)
    make_corpus(os.path.join(work, "new"), utterances=new, seed=5)
    base_src, new_src = (os.path.join(work, d, "librispeech") for d in ("base", "new"))
    v1_config = _config(work, "v1", [base_src], target_mb)
    v2_config = _config(work, "v2", [base_src, new_src], target_mb)
    reg1, cache = os.path.join(work, "registry-v1"), os.path.join(work, "cache")

    v1 = _timed_build(v1_config, os.path.join(work, "b1"))
    name = v1["info"]["name"]
    stored_v1 = _register(reg1, cache, os.path.join(work, "b1"), name)
    base = Registry(f"file://{reg1}", cache_dir=cache).open(f"{name}@v1")
    _ = base.info

    results: dict[str, Any] = {}
    for mode in ("full", "incremental"):
        reg = os.path.join(work, f"registry-{mode}")
        shutil.copytree(reg1, reg)
        out = os.path.join(work, f"b2-{mode}")
        built = _timed_build(v2_config, out, base=base if mode == "incremental" else None)
        stored = _register(reg, cache, out, name)
        info = built.pop("info")
        old = v1["info"]["files"]
        shards = {p: f for p, f in info["files"].items() if p.startswith("data/")}
        new_shards = {p: f for p, f in shards.items()
                      if old.get(p, {}).get("sha256") != f["sha256"]}
        results[mode] = {
            **built,
            "fingerprint": info["fingerprint"],
            "counts": info["counts"],
            "shard_files": len(shards),
            "shard_files_new": len(new_shards),
            "new_shard_bytes": sum(f["size_bytes"] for f in new_shards.values()),
            "newly_stored_bytes": stored,
            "report_bytes": _report_bytes(out),
        }
    inc, full = results["incremental"], results["full"]
    return {
        "utterances": utterances,
        "new_utterances": new,
        "target_shard_mb": target_mb,
        "v1": {"wall_s": v1["wall_s"], "cpu_s": v1["cpu_s"], "stored_bytes": stored_v1,
               "shard_files": sum(1 for p in v1["info"]["files"] if p.startswith("data/"))},
        **results,
        "ratios": {
            "incremental_stored_vs_its_new_shard_bytes":
                inc["newly_stored_bytes"] / max(1, inc["new_shard_bytes"]),
            "full_stored_vs_incremental_new_shard_bytes":
                full["newly_stored_bytes"] / max(1, inc["new_shard_bytes"]),
            "incremental_cpu_vs_full_cpu": inc["cpu_s"] / full["cpu_s"],
            "incremental_wall_vs_full_wall": inc["wall_s"] / full["wall_s"],
        },
    }


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def table(r: dict[str, Any]) -> str:
    lines = [
        f"v1: {r['utterances']} utterances (+ the bad inputs), {r['v1']['shard_files']} shard "
        f"files, {_mb(r['v1']['stored_bytes'])} stored; v2 adds {r['new_utterances']} new "
        f"utterances",
        "",
        "| v2 built | wall s | CPU s | audio decodes | shard files new / all | new example "
        "bytes | newly stored (of it report.html) | stored / new example bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    new_bytes = r["incremental"]["new_shard_bytes"]
    for mode in ("full", "incremental"):
        m = r[mode]
        lines.append(
            f"| {mode} | {m['wall_s']:.1f} | {m['cpu_s']:.1f} | {m['decoded']} | "
            f"{m['shard_files_new']} / {m['shard_files']} | {_mb(new_bytes)} | "
            f"{_mb(m['newly_stored_bytes'])} ({_mb(m['report_bytes'])}) | "
            f"{m['newly_stored_bytes'] / max(1, new_bytes):.2f}x |"
        )
    q = r["ratios"]
    lines.append("")
    lines.append(f"incremental / full: CPU {q['incremental_cpu_vs_full_cpu']:.2f}x, wall "
                 f"{q['incremental_wall_vs_full_wall']:.2f}x; stored "
                 f"{q['incremental_stored_vs_its_new_shard_bytes']:.2f}x the new example bytes "
                 f"(full rebuild: {q['full_stored_vs_incremental_new_shard_bytes']:.1f}x)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.incremental",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, nargs="+", default=[150, 600])
    parser.add_argument("--new-percent", type=float, default=4.0)
    parser.add_argument("--target-mb", type=float, default=2.0,
                        help="shards.target_size_mb (the sample config's is 2)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__),
                                                      "incremental.json"))
    parser.add_argument("--workdir", help="keep the corpus, builds and stores here")
    args = parser.parse_args(argv)
    from curate.cli.main import silence_dependency_notices

    silence_dependency_notices()
    from bench.machine import describe, load_average

    runs = []
    for n in args.utterances:
        work = (os.path.join(args.workdir, str(n)) if args.workdir
                else tempfile.mkdtemp(prefix="curate-bench-incremental-"))
        try:
            runs.append(run(work, utterances=n, new_percent=args.new_percent,
                            target_mb=args.target_mb))
        finally:
            if not args.workdir:
                shutil.rmtree(work, ignore_errors=True)
        runs[-1]["load_average"] = load_average()
    result = {"runs": runs, "machine": describe(os.path.dirname(os.path.dirname(__file__)))}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    print("\n\n".join(table(r) for r in runs))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
