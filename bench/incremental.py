"""Benchmark: a version that changes a little, built on its base or rebuilt in full.

``python -m bench.incremental [--utterances N] [--new-percent P] [--removed-percent R]
[--before COMMIT] [--out PATH]`` (also run by ``python -m bench``).

v1 is ``N`` utterances of the benchmark corpus (:mod:`bench.corpus`, cached), built and
registered in the embedded local store. Every build runs in a fresh process
(``python -m bench.child``, as ``curate build [--base]`` runs, start-up included), one worker;
its CPU seconds are those of its whole process tree. Side by side in one run:

* **v2 = v1 + P %**: a second source of new utterances (the sample generator, another seed),
  built as a fresh full build and as a build on v1 (``--base``), each registered into its own
  copy of the v1 store: CPU seconds, audio decodes (the ``audio.decoded`` counter), shard files
  new, bytes newly stored (the growth of the store's directory: objects, commits, refs) against
  the new examples' bytes (v2's shard files that v1 does not hold, every format). Each version
  also stores its ``report.html`` (a few hundred kB whatever its size), shown apart.
* **v3 = v2 - R %**: R % of v1's examples (chosen with a fixed seed) dropped from the source,
  built on v2: the shards rewritten against the shards that held the removed examples.
* **a filter tightened on v1**: ``max_duration_s`` lowered under the longest R % of v1's
  examples, built on v1: audio decodes (target 0), shards rewritten against the shards that
  held the examples it now rejects, bytes stored against the rewritten shards' bytes.
* **the fresh build against the floor and against the code before the incremental work**
  (unless ``--no-floor``): the floor (:mod:`bench.floor`) and the full build of v1 over ``N``
  utterances and over one (the fixed cost), CPU per utterance; with ``--before COMMIT``, the
  full build of the same config by that commit's code (a ``git archive`` of it), same figures.

Prints a Markdown table and writes the figures to ``bench/incremental.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["BEFORE_INCREMENTAL", "main", "run", "rows", "table"]

# main just before the incremental builds landed (the second parent of 173a2b3: issues 14 and
# 17 in, issues 11 and 16 not).
BEFORE_INCREMENTAL = "7c90f4e"
DATASET = "bench"


def _tree_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def _write_config(base_config: str, path: str, edit: Callable[[dict[str, Any]], None]) -> str:
    import yaml

    with open(base_config, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    edit(config)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    return path


def _jsonl(path: str, rows: Sequence[Mapping[str, Any]]) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return path


def _key(row: Mapping[str, Any]) -> str:
    return os.path.splitext(os.path.basename(row["audio_filepath"]))[0]


def _info(build_dir: str) -> dict[str, Any]:
    with open(os.path.join(build_dir, "dataset_info.json"), encoding="utf-8") as f:
        return json.load(f)


def _shard_files(info: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {p: f for p, f in info["files"].items() if p.startswith("data/")}


def _shard_of(path: str) -> tuple[str, int]:
    """``data/<split>/<name>-<index>-of-<n>`` or ``…-<index>`` -> (split, index)."""
    split, name = path.split("/")[1], path.rsplit("/", 1)[1]
    parts = name.split("-")
    index = parts[-3] if len(parts) >= 3 and parts[-2] == "of" else parts[-1]
    return split, int(index)


def _manifest(build_dir: str, info: Mapping[str, Any], split: str, columns: list[str]) -> Any:
    from curate.build_info import read_manifest

    return read_manifest(info, split, lambda rel: os.path.join(build_dir, rel), columns=columns)


def _manifest_shards(build_dir: str, info: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
    """key -> (split, shard index) over every split's manifest."""
    out = {}
    for split in info["splits"]:
        table = _manifest(build_dir, info, split, ["key", "shard"])
        for key, shard in zip(table["key"].to_pylist(), table["shard"].to_pylist()):
            out[key] = (split, int(shard))
    return out


def _durations(build_dir: str, info: Mapping[str, Any]) -> dict[str, tuple[tuple[str, int], float]]:
    out = {}
    for split in info["splits"]:
        t = _manifest(build_dir, info, split, ["key", "shard", "duration_s"]).to_pylist()
        out.update({r["key"]: ((split, int(r["shard"])), float(r["duration_s"])) for r in t})
    return out


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Shard files of ``new`` that ``old`` does not hold, and ``old``'s shards (split, index)
    rewritten or gone in ``new``."""
    a, b = _shard_files(old), _shard_files(new)
    added = {p: f for p, f in b.items() if a.get(p, {}).get("sha256") != f["sha256"]}
    rewritten = sorted({_shard_of(p) for p, f in a.items()
                        if b.get(p, {}).get("sha256") != f["sha256"]})
    return {
        "new_shard_files": len(added),
        "new_shard_bytes": sum(f["size_bytes"] for f in added.values()),
        "rewritten": rewritten,
        "kept_shard_files": sum(1 for p, f in b.items() if a.get(p, {}).get("sha256")
                                == f["sha256"]),
        "shard_files": len(b),
    }


def _report_bytes(build_dir: str) -> int:
    path = os.path.join(build_dir, "report.html")
    return os.path.getsize(path) if os.path.exists(path) else 0


def _measured(m: Any) -> dict[str, Any]:
    child = m.report
    return {"wall_s": m.wall_s, "cpu_s": m.cpu_s, "background_cores": m.background_cores,
            "decoded": (child["counters"].get("audio.decoded", 0) if "counters" in child
                        else None),
            "counts": child.get("counts"), "fingerprint": child.get("fingerprint")}


class _Store:
    """A copy of a local registry directory, registered into in this process."""

    def __init__(self, path: str, cache: str, copy_of: str | None = None) -> None:
        if copy_of:
            shutil.copytree(copy_of, path)
        self.path, self.uri, self._cache = path, f"file://{path}", cache

    def register(self, build_dir: str) -> dict[str, Any]:
        from registry.api import Registry

        before = _tree_bytes(self.path) if os.path.isdir(self.path) else 0
        v = Registry(self.uri, cache_dir=self._cache).register(
            build_dir, dataset=DATASET, allow_unvalidated=True)
        return {"ref": v.ref, "stored_bytes": _tree_bytes(self.path) - before,
                "bytes_new": v.bytes_new, "bytes_reused": v.bytes_reused}


def _before_checkout(commit: str, dest: str) -> str:
    """The project at ``commit`` (``git archive``, no worktree), under ``dest``."""
    from bench.common import repo_root

    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", repo_root(), "archive", commit],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


def fixed_cost(work: str, tiny: Any, tiny_build: str, new_source: Mapping[str, Any],
               new_rows: Sequence[Mapping[str, Any]], cache: str) -> dict[str, Any]:
    """The fixed cost of a build on a base: a one-utterance base (``tiny_build``, the build of
    the subset ``tiny``), registered, and a build on it that adds one new utterance."""
    from bench.common import build

    store = _Store(os.path.join(work, "registry-fixed"), cache)
    ref = store.register(tiny_build)["ref"]
    manifest = _jsonl(os.path.join(work, "sources", "fixed-new.jsonl"), new_rows)
    config = _write_config(tiny.config, os.path.join(work, "fixed.yaml"), lambda c: c[
        "sources"].append({**new_source, "path": manifest}))
    return _measured(build(tiny, os.path.join(work, "fixed"), workers=1, config=config,
                           base=ref, registry=store.uri))


def run(work: str, *, utterances: int, new_percent: float, removed_percent: float,
        target_mb: float, before: str | None, floor: bool,
        say: Callable[[str], None]) -> dict[str, Any]:
    from bench.common import build
    from bench.common import floor as run_floor
    from bench.corpus import ensure_corpus
    from curate.samples import make_corpus

    # the machine's record of source fingerprints (curate/stat_cache.py) starts empty: the
    # v1 build fills it, as the first build of a corpus on a machine does
    os.environ["CURATE_FINGERPRINT_CACHE"] = os.path.join(work, "source-fingerprints.sqlite3")
    corpus, _ = ensure_corpus(utterances)
    base = corpus.subset(utterances, target_shard_mb=target_mb, name=f"incremental{utterances}")
    with open(base.manifest, encoding="utf-8") as f:
        base_rows = [json.loads(line) for line in f]
    base_keys = {_key(r) for r in base_rows}
    n_new = max(1, round(utterances * new_percent / 100))
    new_root = os.path.join(work, "new")
    make_corpus(new_root, utterances=n_new + 8, seed=5, min_duration_s=2.0, max_duration_s=15.0)
    with open(os.path.join(new_root, "manifest.jsonl"), encoding="utf-8") as f:
        new_rows = [r for r in map(json.loads, f) if _key(r) not in base_keys][:n_new]
    sources = os.path.join(work, "sources")  # (a build's output may not lie in a source's dir)
    os.makedirs(sources)
    new_manifest = _jsonl(os.path.join(sources, "new.jsonl"), new_rows)
    new_source = {"kind": "jsonl", "path": new_manifest, "audio_root": new_root}
    v2_config = _write_config(base.config, os.path.join(work, "v2.yaml"),
                              lambda c: c["sources"].append(dict(new_source)))
    cache = os.path.join(work, "cache")
    out: dict[str, Any] = {"utterances": utterances, "new_utterances": len(new_rows),
                           "target_shard_mb": target_mb, "audio_s": base.audio_s}

    say(f"incremental: v1, full build of {utterances} utterances ...")
    b1 = os.path.join(work, "b1")
    v1_build = _measured(build(base, b1, workers=1))
    store1 = _Store(os.path.join(work, "registry-v1"), cache)
    out["v1"] = {**v1_build, **store1.register(b1)}
    info1 = _info(b1)
    out["v1"]["shard_files"] = len(_shard_files(info1))
    v1_ref = out["v1"]["ref"]

    if before:
        say(f"incremental: the same full build by the code of {before} ...")
        old = _before_checkout(before, os.path.join(work, "before"))
        out["v1_before"] = _measured(build(base, os.path.join(work, "b1-before"), workers=1,
                                           root=old))
        out["v1_before"]["commit"] = before

    results: dict[str, Any] = {}
    for mode in ("full", "incremental"):
        say(f"incremental: v2 = v1 + {len(new_rows)}, {mode} build ...")
        store = _Store(os.path.join(work, f"registry-v2-{mode}"), cache, copy_of=store1.path)
        b2 = os.path.join(work, f"b2-{mode}")
        on_base = mode == "incremental"
        built = _measured(build(base, b2, workers=1, config=v2_config,
                                base=v1_ref if on_base else None,
                                registry=store.uri if on_base else None))
        results[mode] = {**built, **store.register(b2), **_changed(info1, _info(b2)),
                         "report_bytes": _report_bytes(b2)}
        results[mode]["rewritten"] = len(results[mode]["rewritten"])
        if on_base:
            store2, b2_inc = store, b2
    out["v2"] = results
    inc, full = results["incremental"], results["full"]
    new_bytes = inc["new_shard_bytes"]
    out["v2"]["ratios"] = {
        "incremental_cpu_vs_full_cpu": inc["cpu_s"] / full["cpu_s"],
        "incremental_wall_vs_full_wall": inc["wall_s"] / full["wall_s"],
        "incremental_stored_vs_new_example_bytes": inc["stored_bytes"] / max(1, new_bytes),
        "incremental_stored_without_report_vs_new_example_bytes":
            (inc["stored_bytes"] - inc["report_bytes"]) / max(1, new_bytes),
        "full_stored_vs_new_example_bytes": full["stored_bytes"] / max(1, new_bytes),
    }

    # v3: v2 with removed_percent of v1's examples removed, built on v2
    info2 = _info(b2_inc)
    where2 = _manifest_shards(b2_inc, info2)
    n_removed = max(1, round(len(base_rows) * removed_percent / 100))
    removed = set(random.Random(0).sample(sorted(k for k in base_keys if k in where2), n_removed))
    kept_manifest = _jsonl(os.path.join(sources, "v3-base.jsonl"),
                           [r for r in base_rows if _key(r) not in removed])

    def v3_sources(c: dict[str, Any]) -> None:
        c["sources"][0]["path"] = kept_manifest
        c["sources"].append(dict(new_source))

    v3_config = _write_config(base.config, os.path.join(work, "v3.yaml"), v3_sources)
    say(f"incremental: v3 = v2 - {n_removed} examples, on v2 ...")
    b3 = os.path.join(work, "b3")
    v3_build = _measured(build(base, b3, workers=1, config=v3_config, base=out["v2"]
                               ["incremental"]["ref"], registry=store2.uri))
    store3 = _Store(os.path.join(work, "registry-v3"), cache, copy_of=store2.path)
    changed3 = _changed(info2, _info(b3))
    held = sorted({where2[k] for k in removed})
    out["v3"] = {**v3_build, **store3.register(b3), **changed3, "removed": n_removed,
                 "shards_holding_removed": len(held),
                 "only_those_rewritten": changed3["rewritten"] == held,
                 "rewritten": len(changed3["rewritten"]),
                 "report_bytes": _report_bytes(b3)}
    out["v3"]["ratios"] = {"stored_vs_new_shard_bytes":
                           out["v3"]["stored_bytes"] / max(1, changed3["new_shard_bytes"])}

    # a filter tightened on v1: max_duration_s under the longest removed_percent of v1
    durations = _durations(b1, info1)
    by_length = sorted(durations.values(), key=lambda sd: -sd[1])
    n_longest = max(1, round(len(by_length) * removed_percent / 100))
    bound = (by_length[n_longest - 1][1] + by_length[n_longest][1]) / 2
    failing = sorted({sd[0] for sd in by_length[:n_longest]})

    def tighten(c: dict[str, Any]) -> None:
        c.setdefault("filters", {})["max_duration_s"] = round(bound, 3)

    tight_config = _write_config(base.config, os.path.join(work, "tight.yaml"), tighten)
    say(f"incremental: max_duration_s {bound:.3f} on v1 ({n_longest} examples fail) ...")
    bt = os.path.join(work, "b-tight")
    store_t = _Store(os.path.join(work, "registry-tight"), cache, copy_of=store1.path)
    tight_build = _measured(build(base, bt, workers=1, config=tight_config, base=v1_ref,
                                  registry=store_t.uri))
    changed_t = _changed(info1, _info(bt))
    out["tightened"] = {**tight_build, **store_t.register(bt), **changed_t,
                        "max_duration_s": round(bound, 3), "now_rejected": n_longest,
                        "shards_holding_them": len(failing),
                        "only_those_rewritten": changed_t["rewritten"] == failing,
                        "rewritten": len(changed_t["rewritten"]),
                        "report_bytes": _report_bytes(bt)}
    t = out["tightened"]
    t["ratios"] = {
        "stored_vs_rewritten_shard_bytes": t["stored_bytes"] / max(1, t["new_shard_bytes"]),
        "stored_without_report_vs_rewritten_shard_bytes":
            (t["stored_bytes"] - t["report_bytes"]) / max(1, t["new_shard_bytes"]),
    }

    if floor:
        say("incremental: the floor and one-utterance builds (fixed costs) ...")
        tiny = corpus.subset(1, target_shard_mb=target_mb, name="incremental1")
        fl = run_floor(base, os.path.join(work, "floor"))
        fl1 = run_floor(tiny, os.path.join(work, "floor1"))
        b_1 = build(tiny, os.path.join(work, "tiny"), workers=1)
        fresh = {"floor": {"cpu_s": fl.cpu_s, "fixed_cpu_s": fl1.cpu_s},
                 "build": {"cpu_s": out["v1"]["cpu_s"], "fixed_cpu_s": b_1.cpu_s}}
        out["incremental_fixed"] = fixed_cost(work, tiny, os.path.join(work, "tiny"),
                                              new_source, new_rows[:1], cache)
        if before:
            b_1_old = build(tiny, os.path.join(work, "tiny-before"), workers=1, root=old)
            fresh["build_before"] = {"cpu_s": out["v1_before"]["cpu_s"],
                                     "fixed_cpu_s": b_1_old.cpu_s}
        for f in fresh.values():
            f["cpu_ms_per_utterance"] = 1000 * (f["cpu_s"] - f["fixed_cpu_s"]) / (utterances - 1)
        per = {k: f["cpu_ms_per_utterance"] for k, f in fresh.items()}
        fresh["ratios"] = {"build_vs_floor_per_utterance": per["build"] / per["floor"]}
        if before:
            fresh["ratios"]["build_vs_before_cpu"] = (out["v1"]["cpu_s"]
                                                      / out["v1_before"]["cpu_s"])
            fresh["ratios"]["build_vs_before_per_utterance"] = (per["build"]
                                                                / per["build_before"])
            fresh["ratios"]["before_vs_floor_per_utterance"] = (per["build_before"]
                                                                / per["floor"])
        out["fresh"] = fresh
    return out


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def _ok(flag: bool) -> str:
    return "yes" if flag else "**no**"


def rows(r: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(benchmark, measured, ratio, target, met) rows of one run."""
    n, new = r["utterances"], r["new_utterances"]
    v2, q = r["v2"], r["v2"]["ratios"]
    inc, full = v2["incremental"], v2["full"]
    label = f"7 incremental: v2 = v1 ({n}) + {new}"
    out = [
        (f"{label}, full rebuild", f"{full['cpu_s']:.1f} CPU s, {full['decoded']} decodes, "
         f"{full['new_shard_files']} / {full['shard_files']} shard files new, "
         f"{_mb(full['stored_bytes'])} stored", f"{q['full_stored_vs_new_example_bytes']:.2f}",
         "", ""),
        (f"{label}, on v1: bytes stored / new example bytes",
         f"{_mb(inc['stored_bytes'])} stored (report.html {_mb(inc['report_bytes'])}) for "
         f"{_mb(inc['new_shard_bytes'])} of new shards; {inc['new_shard_files']} / "
         f"{inc['shard_files']} shard files new, {inc['decoded']} decodes",
         f"{q['incremental_stored_vs_new_example_bytes']:.2f} "
         f"({q['incremental_stored_without_report_vs_new_example_bytes']:.2f} without "
         f"report.html)", "<= 1.1", _ok(q["incremental_stored_vs_new_example_bytes"] <= 1.1)),
        (f"{label}, on v1: CPU s / full rebuild's (fresh processes, start-up included)",
         f"{inc['cpu_s']:.1f} vs {full['cpu_s']:.1f} CPU s (wall {inc['wall_s']:.1f} vs "
         f"{full['wall_s']:.1f} s, others' load {inc['background_cores']:.2f} / "
         f"{full['background_cores']:.2f} cores)", f"{q['incremental_cpu_vs_full_cpu']:.2f}",
         "<= 0.15", _ok(q["incremental_cpu_vs_full_cpu"] <= 0.15)),
    ]
    v3 = r["v3"]
    out.append((f"7 incremental: v3 = v2 - {v3['removed']} examples, on v2: shards rewritten / "
                "shards that held them",
                f"{v3['rewritten']} / {v3['shards_holding_removed']} ({v3['kept_shard_files']} "
                f"of {v3['shard_files']} shard files kept), {_mb(v3['stored_bytes'])} stored for "
                f"{_mb(v3['new_shard_bytes'])} rewritten, {v3['decoded']} decodes, "
                f"{v3['cpu_s']:.1f} CPU s", f"{v3['ratios']['stored_vs_new_shard_bytes']:.2f}",
                "only those", _ok(v3["only_those_rewritten"])))
    t = r["tightened"]
    out += [
        (f"7 incremental: max_duration_s tightened on v1 ({t['now_rejected']} now too long): "
         "audio decodes", f"{t['decoded']} decodes, {t['cpu_s']:.1f} CPU s; "
         f"{t['rewritten']} shards rewritten of the {t['shards_holding_them']} that held them",
         str(t["decoded"]), "0", _ok(t["decoded"] == 0 and t["only_those_rewritten"])),
        ("7 incremental: tightened filter: bytes stored / rewritten shards' bytes",
         f"{_mb(t['stored_bytes'])} stored (report.html {_mb(t['report_bytes'])}) for "
         f"{_mb(t['new_shard_bytes'])}",
         f"{t['ratios']['stored_vs_rewritten_shard_bytes']:.2f} "
         f"({t['ratios']['stored_without_report_vs_rewritten_shard_bytes']:.2f} without "
         "report.html)", "<= 1.1", _ok(t["ratios"]["stored_vs_rewritten_shard_bytes"] <= 1.1)),
    ]
    fresh = r.get("fresh")
    if fresh:
        fr = fresh["ratios"]

        def cost(k: str) -> str:
            return f"{fresh[k]['fixed_cpu_s']:.1f} s + {fresh[k]['cpu_ms_per_utterance']:.2f} ms"

        out.append((f"7 incremental: fresh full build ({n}), CPU per utterance / the floor's",
                    f"fixed + per utterance: build {cost('build')}, floor {cost('floor')}",
                    f"{fr['build_vs_floor_per_utterance']:.2f}", "<= 1.10",
                    _ok(fr["build_vs_floor_per_utterance"] <= 1.10)))
        fixed = r.get("incremental_fixed")
        if fixed:
            per_carried = (inc["cpu_s"] - fixed["cpu_s"]
                           - (new - 1) * fresh["build"]["cpu_ms_per_utterance"] / 1000) / n
            out.append(("7 incremental: fixed cost of a build on a base (1-utterance base + 1 "
                        "new) / of a fresh 1-utterance build, CPU s",
                        f"{fixed['cpu_s']:.1f} vs {fresh['build']['fixed_cpu_s']:.1f} CPU s; the "
                        f"build on v1 beyond it: {1000 * per_carried:.2f} ms per carried "
                        f"example (processing one: "
                        f"{fresh['build']['cpu_ms_per_utterance']:.2f} ms)",
                        f"{fixed['cpu_s'] / fresh['build']['fixed_cpu_s']:.2f}", "", ""))
        if "build_before" in fresh:
            commit = r["v1_before"]["commit"]
            out.append((f"7 incremental: fresh full build ({n}) / the same by {commit} "
                        "(before the incremental work), CPU s",
                        f"{r['v1']['cpu_s']:.1f} vs {r['v1_before']['cpu_s']:.1f} CPU s; per "
                        f"utterance {cost('build')} vs {cost('build_before')} (before / floor "
                        f"{fr['before_vs_floor_per_utterance']:.2f})",
                        f"{fr['build_vs_before_cpu']:.2f}", "<= 1 (noise)",
                        _ok(fr["build_vs_before_cpu"] <= 1.05)))
    return out


def table(r: Mapping[str, Any]) -> str:
    head = ("benchmark", "measured", "ratio", "target", "met")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(r)]
    return "\n".join(lines)


def bench(work: str, *, utterances: int, quick: bool,
          say: Callable[[str], None]) -> dict[str, Any]:
    """What ``python -m bench`` runs: 2 % new, 2 % removed; the floor and the code before the
    incremental work in a full run only."""
    from bench.machine import load_average

    result = run(work, utterances=utterances, new_percent=2.0, removed_percent=2.0,
                 target_mb=2.0, before=None if quick else BEFORE_INCREMENTAL,
                 floor=not quick, say=say)
    result["load_average"] = load_average()
    result["ratios"] = result["v2"]["ratios"]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.incremental",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=2000)
    parser.add_argument("--new-percent", type=float, default=2.0)
    parser.add_argument("--removed-percent", type=float, default=2.0)
    parser.add_argument("--target-mb", type=float, default=2.0,
                        help="shards.target_size_mb (the sample config's is 2)")
    parser.add_argument("--before", default=BEFORE_INCREMENTAL,
                        help="also build v1 with the code of this commit ('' to skip)")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor's rows")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__),
                                                      "incremental.json"))
    parser.add_argument("--workdir", help="keep the builds and stores here")
    args = parser.parse_args(argv)
    from bench.machine import describe, load_average, write_json

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    work = args.workdir or tempfile.mkdtemp(prefix="curate-bench-incremental-")
    if args.workdir:
        os.makedirs(work)
    try:
        r = run(work, utterances=args.utterances, new_percent=args.new_percent,
                removed_percent=args.removed_percent, target_mb=args.target_mb,
                before=args.before or None, floor=not args.no_floor, say=say)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    r["load_average"] = load_average()
    result = {"run": r, "machine": describe(os.path.dirname(os.path.dirname(__file__)))}
    write_json(args.out, result)
    print(table(r))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
