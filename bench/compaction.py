"""Benchmark: loaders on a version made of many appended shards, against the same data compacted.

``python -m bench.compaction [--utterances N] [--appends K] [--batch B] [--out PATH]
[--workdir DIR [--reuse]]``

v1 is the sample corpus (``N`` utterances plus its known bad inputs) built and registered in
the embedded local store; then ``K`` builds on the version before each add a source of ``B``
new utterances (``curate build --base``), so that every split ends in a run of small appended
shards. The last version is compacted (``curate compact``) and registered. Both versions are
then read, side by side in one run, by the same loaders over every split, from a warm cache:

* ``examples``: ``DatasetVersion.examples(split, decode_audio=False)`` (records parsed, audio
  left encoded: the part the shard layout can change) and with the audio decoded;
* ``array_record``: ``array_record_source(split)[i]`` in a seeded shuffled order;
* ``torch``: ``torch_dataset(split).loader(batch_size=8)`` in this process (if torch is
  installed) and ``grain_source(split)`` read in order (if grain is).

Each measurement reads until it has read at least ``--min-records`` examples; the kinds and
the two versions are interleaved and the best of ``--passes`` is kept, after a warm-up. Rates
are per wall second and per CPU second of this process (the machine is shared: CPU seconds are
the steadier). Target (issue 11): the appended version reads at >= 0.9x the compacted one.
Prints a Markdown table and writes ``bench/compaction.json``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.incremental import _tree_bytes

__all__ = ["main", "run"]


def _cpu_s() -> float:
    """CPU seconds of this process and its waited-for children (Beam's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _config(root: str, name: str, sources: list[str], target_mb: float) -> str:
    """The sample corpus's LibriSpeech config over ``sources``, with shards of ``target_mb``."""
    import yaml

    with open(os.path.join(root, "base", "configs", "librispeech.yaml"), encoding="utf-8") as f:
        config = yaml.safe_load(f)
    config["sources"] = [{"kind": "librispeech", "path": p} for p in sources]
    config["shards"]["target_size_mb"] = target_mb
    path = os.path.join(root, f"{name}.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f)
    return path


def _build_versions(work: str, *, utterances: int, appends: int, batch: int,
                    target_mb: float) -> dict[str, Any]:
    from curate.launch import run_build
    from curate.samples import make_corpus
    from registry.api import Registry

    make_corpus(os.path.join(work, "base"), utterances=utterances, seed=0, with_bad_inputs=True)
    reg_dir = os.path.join(work, "registry")
    reg = Registry(f"file://{reg_dir}", cache_dir=os.path.join(work, "cache"))
    sources = [os.path.join(work, "base", "librispeech")]
    version, build_cpu = None, 0.0
    for i in range(1 + appends):
        if i:
            make_corpus(os.path.join(work, f"batch{i}"), utterances=batch, seed=100 + i)
            sources.append(os.path.join(work, f"batch{i}", "librispeech"))
        out = os.path.join(work, f"b{i + 1}")
        cpu = _cpu_s()
        info = run_build(_config(work, f"v{i + 1}", sources, target_mb), out, say=lambda _: None,
                         base=None if version is None else reg.open(version.ref), report=False,
                         quiet=True)
        build_cpu += _cpu_s() - cpu
        version = reg.register(out, dataset=info["name"], allow_unvalidated=True)
    return {"reg": reg, "reg_dir": reg_dir, "appended": version, "info": info,
            "build_cpu_s": build_cpu}


def _reopen(work: str, appends: int) -> dict[str, Any]:
    """The versions a previous run with this ``--workdir`` registered (``--reuse``)."""
    from registry.api import Registry

    reg_dir = os.path.join(work, "registry")
    reg = Registry(f"file://{reg_dir}", cache_dir=os.path.join(work, "cache"))
    (name,) = reg.datasets()
    appended = reg.show(f"{name}@v{1 + appends}")
    return {"reg": reg, "reg_dir": reg_dir, "appended": appended,
            "info": reg.open(appended.ref).info, "build_cpu_s": None,
            "compacted": reg.show(f"{name}@v{2 + appends}")}


def _compact(work: str, built: dict[str, Any]) -> dict[str, Any]:
    from curate.compact import compact

    reg, appended = built["reg"], built["appended"]
    out = os.path.join(work, "compacted")
    if os.path.exists(out):
        shutil.rmtree(out)
    wall, cpu = time.perf_counter(), _cpu_s()
    info = compact(reg.open(appended.ref), out, say=lambda _: None, report=False)
    wall, cpu = time.perf_counter() - wall, _cpu_s() - cpu
    if info is None:
        raise SystemExit("nothing to compact: use more --appends or a smaller --batch")
    before = _tree_bytes(built["reg_dir"])
    compacted = built.get("compacted") or reg.register(out, dataset=info["name"],
                                                       allow_unvalidated=True)
    if compacted.fingerprint != info["fingerprint"]:
        raise SystemExit(f"{compacted.ref} is not this compaction of {appended.ref}")
    rewritten = sum(f["size_bytes"] for p, f in info["files"].items()
                    if p.startswith("data/") and not f.get("base"))
    return {"version": compacted, "info": info, "wall_s": wall, "cpu_s": cpu,
            "small_shard_bytes": sum(r["size_bytes"] for r in info["compaction"]["runs"]),
            "rewritten_shard_bytes": rewritten, "bytes_new": compacted.bytes_new,
            "bytes_reused": compacted.bytes_reused,
            "newly_stored_bytes": None if "compacted" in built
            else _tree_bytes(built["reg_dir"]) - before}


def _shards(info: dict[str, Any]) -> dict[str, int]:
    return {split: len(s["shards"]["tfrecord"]) for split, s in info["splits"].items()}


def _readers(ds: Any, min_records: int) -> dict[str, Callable[[], int]]:
    """name -> a function that reads the version's splits until ``min_records`` examples."""
    import importlib.util

    import numpy as np

    splits = [s for s in ds.splits if ds.info["splits"][s]["num_examples"]]

    def repeat(read_split: Callable[[str], int]) -> Callable[[], int]:
        def read() -> int:
            n = 0
            while n < min_records:
                for split in splits:
                    n += read_split(split)
            return n
        return read

    def examples(decode: bool) -> Callable[[str], int]:
        return lambda split: sum(1 for _ in ds.examples(split, decode_audio=decode))

    sources = {split: ds.array_record_source(split) for split in splits}
    orders = {split: np.random.default_rng(0).permutation(len(src))
              for split, src in sources.items()}

    def shuffled(split: str) -> int:
        src = sources[split]
        for i in orders[split]:
            src[int(i)]
        return len(orders[split])

    out = {"examples (audio encoded)": repeat(examples(False)),
           "examples (audio decoded)": repeat(examples(True)),
           "array_record shuffled": repeat(shuffled)}
    if importlib.util.find_spec("torch") is not None:
        def torch(split: str) -> int:
            return sum(len(b["key"]) for b in ds.torch_dataset(split).loader(batch_size=8))
        out["torch loader"] = repeat(torch)
    if importlib.util.find_spec("grain") is not None:
        def grain(split: str) -> int:
            src = ds.grain_source(split, decode_audio=False)
            for i in range(len(src)):
                src[i]
            return len(src)
        out["grain source"] = repeat(grain)
    return out


def _measure(versions: dict[str, Any], min_records: int, passes: int
             ) -> dict[str, dict[str, dict[str, float]]]:
    """kind -> version label -> best rates, the versions and kinds interleaved."""
    readers = {label: _readers(ds, min_records) for label, ds in versions.items()}
    kinds = list(next(iter(readers.values())))
    best: dict[str, dict[str, dict[str, float]]] = {k: {} for k in kinds}
    for label in readers:  # warm-up: page cache, imports
        for kind in kinds:
            readers[label][kind]()
    for _ in range(passes):
        for kind in kinds:
            for label in readers:
                wall, cpu = time.perf_counter(), time.process_time()
                n = readers[label][kind]()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                rate = {"examples": n, "wall_s": wall, "cpu_s": cpu,
                        "per_wall_s": n / wall if wall else 0.0,
                        "per_cpu_s": n / cpu if cpu else 0.0}
                kept = best[kind].setdefault(label, rate)
                for key in ("per_cpu_s", "per_wall_s"):  # the best of each, apart
                    kept[key] = max(kept[key], rate[key])
    return best


def run(work: str, *, utterances: int, appends: int, batch: int, target_mb: float,
        min_records: int, passes: int, reuse: bool = False) -> dict[str, Any]:
    from curate.cli.main import silence_dependency_notices

    silence_dependency_notices()
    if reuse and os.path.isdir(os.path.join(work, "registry")):
        built = _reopen(work, appends)
    else:
        built = _build_versions(work, utterances=utterances, appends=appends, batch=batch,
                                target_mb=target_mb)
    compacted = _compact(work, built)
    reg = built["reg"]
    versions = {"appended": reg.open(built["appended"].ref),
                "compacted": reg.open(compacted["version"].ref)}
    for ds in versions.values():  # into the cache before anything is timed
        for split in ds.splits:
            ds.files(split, "tfrecord"), ds.files(split, "array_record")
    rates = _measure(versions, min_records, passes)
    return {
        "utterances": utterances, "appends": appends, "batch": batch, "target_shard_mb": target_mb,
        "examples": built["info"]["counts"]["accepted"],
        "builds_cpu_s": built["build_cpu_s"],
        "shards": {"appended": _shards(built["info"]), "compacted": _shards(compacted["info"])},
        "compaction": {k: v for k, v in compacted.items() if k not in ("version", "info")},
        "runs": compacted["info"]["compaction"]["runs"],
        "rates": rates,
        "ratios": {kind: {
            "appended_vs_compacted_per_cpu_s": r["appended"]["per_cpu_s"]
            / r["compacted"]["per_cpu_s"],
            "appended_vs_compacted_per_wall_s": r["appended"]["per_wall_s"]
            / r["compacted"]["per_wall_s"]} for kind, r in rates.items()},
    }


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def table(r: dict[str, Any]) -> str:
    shards = r["shards"]
    c = r["compaction"]
    lines = [
        f"{r['examples']} examples: v1 of {r['utterances']} utterances + {r['appends']} appended "
        f"batches of {r['batch']}; shards per split (tfrecord) appended {shards['appended']}, "
        f"compacted {shards['compacted']}",
        f"compaction: {_mb(c['small_shard_bytes'])} of small shards (TFRecord) rewritten as "
        f"{_mb(c['rewritten_shard_bytes'])} of shard files (both formats) in {c['wall_s']:.2f} s "
        f"wall, {c['cpu_s']:.2f} CPU s; registered: {_mb(c['bytes_new'])} new, "
        f"{_mb(c['bytes_reused'])} reused"
        + ("" if c["newly_stored_bytes"] is None
           else f", {_mb(c['newly_stored_bytes'])} newly stored"),
        "",
        "| loader | appended ex/CPU s | compacted ex/CPU s | appended / compacted (CPU) "
        "| appended / compacted (wall) |",
        "|---|---|---|---|---|",
    ]
    for kind, rates in r["rates"].items():
        q = r["ratios"][kind]
        lines.append(f"| {kind} | {rates['appended']['per_cpu_s']:.0f} | "
                     f"{rates['compacted']['per_cpu_s']:.0f} | "
                     f"{q['appended_vs_compacted_per_cpu_s']:.2f}x | "
                     f"{q['appended_vs_compacted_per_wall_s']:.2f}x |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compaction",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=60)
    parser.add_argument("--appends", type=int, default=8)
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--target-mb", type=float, default=2.0,
                        help="shards.target_size_mb (the sample config's is 2)")
    parser.add_argument("--min-records", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__),
                                                      "compaction.json"))
    parser.add_argument("--workdir", help="keep the corpus, builds and stores here")
    parser.add_argument("--reuse", action="store_true",
                        help="with --workdir: read the versions an earlier run registered there")
    args = parser.parse_args(argv)
    from bench.machine import describe, load_average, write_json

    work = args.workdir or tempfile.mkdtemp(prefix="curate-bench-compaction-")
    load_before = load_average()
    try:
        result = run(work, utterances=args.utterances, appends=args.appends, batch=args.batch,
                     target_mb=args.target_mb, min_records=args.min_records,
                     passes=args.passes, reuse=args.reuse)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    result["load_average"] = {"before": load_before, "after": load_average()}
    result["machine"] = describe(os.path.dirname(os.path.dirname(__file__)))
    write_json(args.out, result)
    print(table(result))
    print(f"load average before {load_before}, after {result['load_average']['after']}")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
