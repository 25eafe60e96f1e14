"""Benchmark 1: curation throughput of the full build against the single-process floor.

Each round runs, in fresh processes and in an order that rotates from round to round, the floor
(:mod:`bench.floor`), the same loop in a plain pool of 2 processes (the practical ceiling of 2
processes on this machine), the build with 1 worker (``in_memory``) and with 2 workers
(``multi_processing``), all over the same corpus. Throughput is audio seconds (of the source
files) per wall second, measured from outside the process, start-up included.

Start-up is measured the same way, side by side: each round also runs all three over a corpus of
one utterance. "Steady" throughput divides the audio by the wall time minus that start-up time.
Figures are medians over rounds; ratios are taken between medians of the same run. CPU seconds
of each process tree and the machine's other load (``background_cores``) are recorded too: the
machines are shared, and 2 workers can only beat the floor by 2x when nobody else holds a core.
"""

from __future__ import annotations

import os
from typing import Any

from bench.common import Plan, build, floor, median, ratio
from bench.corpus import Subset

__all__ = ["KINDS", "run"]

KINDS = ("floor", "floor_2_processes", "workers_1", "workers_2")
BUILDS = ("workers_1", "workers_2")


def _one(kind: str, subset: Subset, out: str):
    if kind == "floor":
        return floor(subset, out)
    if kind == "floor_2_processes":
        return floor(subset, out, processes=2)
    return build(subset, out, workers=int(kind.rsplit("_", 1)[1]))


def run(plan: Plan, subset: Subset, tiny: Subset, workdir: str, say) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    startup: dict[str, list[float]] = {k: [] for k in KINDS}
    startup_cpu: dict[str, list[float]] = {k: [] for k in KINDS}
    for r in range(plan.rounds):
        order = KINDS[r % len(KINDS) :] + KINDS[: r % len(KINDS)]
        for kind in order:
            m = _one(kind, tiny, os.path.join(workdir, "tiny", kind))
            startup[kind].append(m.wall_s)
            startup_cpu[kind].append(m.cpu_s)
            m = _one(kind, subset, os.path.join(workdir, kind))
            runs[kind].append(m.to_dict())
            say(
                f"  throughput round {r + 1}/{plan.rounds} {kind}: {m.wall_s:.1f} s wall, "
                f"{subset.audio_s / m.wall_s:.0f} audio s/s, start-up {startup[kind][-1]:.1f} s"
            )
    fingerprints = {k: {run["child"].get("fingerprint") for run in runs[k]} for k in BUILDS}
    result: dict[str, Any] = {
        "utterances": subset.utterances,
        "audio_s": subset.audio_s,
        "rounds": plan.rounds,
        "target_shard_mb": plan.target_shard_mb,
        "runs": runs,
        "startup_wall_s": startup,
        "startup_cpu_s": startup_cpu,
        "builds": {k: os.path.join(workdir, k) for k in BUILDS},
        "deterministic_1_vs_2_workers": len(fingerprints["workers_1"] | fingerprints["workers_2"])
        == 1,
    }
    per: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        wall = median([x["wall_s"] for x in runs[kind]])
        start = median(startup[kind])
        cpu, start_cpu = median([x["cpu_s"] for x in runs[kind]]), median(startup_cpu[kind])
        per[kind] = {
            "wall_s": wall,
            "startup_s": start,
            "audio_s_per_s": ratio(subset.audio_s, wall),
            "steady_audio_s_per_s": ratio(subset.audio_s, wall - start),
            "peak_tree_rss_mb": max(x["peak_tree_rss_mb"] for x in runs[kind]),
            "cpu_s": cpu,
            "background_cores": median([x["background_cores"] for x in runs[kind]]),
            "steal_cores": median([x["steal_cores"] for x in runs[kind]]),
            # CPU split into what a build costs whatever its size (the one-utterance build)
            # and what each further utterance adds
            "fixed_cpu_s": start_cpu,
            "cpu_ms_per_utterance": ratio(cpu - start_cpu, max(subset.utterances - 1, 1)) * 1e3,
        }
    result["summary"] = per
    floor_rate = per["floor"]["audio_s_per_s"]
    floor_steady = per["floor"]["steady_audio_s_per_s"]
    result["ratios"] = {
        "workers_1_vs_floor": ratio(per["workers_1"]["audio_s_per_s"], floor_rate),
        "workers_2_vs_floor": ratio(per["workers_2"]["audio_s_per_s"], floor_rate),
        # what 2 plain processes reach here, and how close the 2-worker build gets to that
        "floor_2_processes_vs_floor": ratio(
            per["floor_2_processes"]["audio_s_per_s"], floor_rate
        ),
        "workers_2_vs_floor_2_processes": ratio(
            per["workers_2"]["audio_s_per_s"], per["floor_2_processes"]["audio_s_per_s"]
        ),
        "workers_1_vs_floor_steady": ratio(per["workers_1"]["steady_audio_s_per_s"], floor_steady),
        "workers_2_vs_floor_steady": ratio(per["workers_2"]["steady_audio_s_per_s"], floor_steady),
        # CPU seconds the floor needs over CPU seconds the build needs: Beam's overhead in work,
        # much less sensitive than wall time to what else runs on the machine
        "cpu_floor_vs_workers_1": ratio(per["floor"]["cpu_s"], per["workers_1"]["cpu_s"]),
        "cpu_floor_vs_workers_2": ratio(per["floor"]["cpu_s"], per["workers_2"]["cpu_s"]),
        "cpu_per_utterance_floor_vs_workers_1": ratio(
            per["floor"]["cpu_ms_per_utterance"], per["workers_1"]["cpu_ms_per_utterance"]
        ),
        "cpu_per_utterance_floor_vs_workers_2": ratio(
            per["floor"]["cpu_ms_per_utterance"], per["workers_2"]["cpu_ms_per_utterance"]
        ),
        # per round, so the spread is visible
        "workers_1_vs_floor_by_round": [
            ratio(f["wall_s"], w["wall_s"]) for f, w in zip(runs["floor"], runs["workers_1"])
        ],
        "workers_2_vs_floor_by_round": [
            ratio(f["wall_s"], w["wall_s"]) for f, w in zip(runs["floor"], runs["workers_2"])
        ],
        "workers_2_vs_floor_2_processes_by_round": [
            ratio(f["wall_s"], w["wall_s"])
            for f, w in zip(runs["floor_2_processes"], runs["workers_2"])
        ],
    }
    result["targets"] = {
        "workers_2_vs_floor >= 1.7": result["ratios"]["workers_2_vs_floor"] >= 1.7,
        "workers_1_vs_floor >= 0.95": result["ratios"]["workers_1_vs_floor"] >= 0.95,
    }
    return result
