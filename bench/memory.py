"""Benchmark 2: peak resident memory of the build at N and at 4N utterances.

Both builds run with 2 workers (``multi_processing``) in fresh processes, with the shard size
of the default config (``ShardConfig.target_size_mb``, 256 MB), so that a shard writer holding a
whole shard in memory would show. The peak is measured from outside by sampling the resident
set of every process in the build's tree (see :mod:`bench.proctree`); the kernel's
``ru_maxrss`` of the runner and of its largest worker are recorded as a cross-check.
Target: the 4N peak at most 1.25x the N peak.
"""

from __future__ import annotations

import os
from typing import Any

from bench.common import build, ratio
from bench.corpus import Corpus

__all__ = ["run"]

WORKERS = 2


def run(corpus: Corpus, n: int, workdir: str, say) -> dict[str, Any]:
    from curate.config import ShardConfig

    target = ShardConfig().target_size_mb
    sizes = {"n": n, "4n": 4 * n}
    result: dict[str, Any] = {"workers": WORKERS, "target_shard_mb": target, "runs": {}}
    for label, utterances in sizes.items():
        subset = corpus.subset(utterances, target_shard_mb=target, name=f"memory{utterances}")
        m = build(subset, os.path.join(workdir, label), workers=WORKERS)
        child = m.report
        result["runs"][label] = {
            "utterances": utterances,
            "audio_s": subset.audio_s,
            **m.to_dict(),
        }
        say(
            f"  memory {label} ({utterances} utterances): peak tree RSS "
            f"{m.peak_tree_rss_mb:.0f} MB, largest process {m.peak_process_rss_mb:.0f} MB, "
            f"ru_maxrss runner {child.get('ru_maxrss_self_mb', 0):.0f} MB / "
            f"worker {child.get('ru_maxrss_children_mb', 0):.0f} MB"
        )
    runs = result["runs"]
    result["ratios"] = {
        "peak_tree_4n_vs_n": ratio(runs["4n"]["peak_tree_rss_mb"], runs["n"]["peak_tree_rss_mb"]),
        "peak_process_4n_vs_n": ratio(
            runs["4n"]["peak_process_rss_mb"], runs["n"]["peak_process_rss_mb"]
        ),
        "ru_maxrss_worker_4n_vs_n": ratio(
            runs["4n"]["child"].get("ru_maxrss_children_mb", 0.0),
            runs["n"]["child"].get("ru_maxrss_children_mb", 0.0),
        ),
    }
    result["targets"] = {"peak_tree_4n_vs_n <= 1.25": result["ratios"]["peak_tree_4n_vs_n"] <= 1.25}
    return result
