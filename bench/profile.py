"""Where the time of a build goes: ``python -m bench.profile [--quick] [--out PATH]``.

Runs, under cProfile and each in a fresh process, the floor's loop and a whole 1-worker
(``in_memory``) build over the benchmark corpus; in ``in_memory`` mode Beam's runner and its SDK
worker share one process and one thread, so the profile sees everything. Prints the cumulative
time of each stage (the library's functions and Beam's own), as a share of the whole, and writes
the figures as JSON with ``--out``. cProfile slows Python-heavy code more than C-heavy code
(decoding, resampling), so read the shares, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from bench.common import FULL, QUICK, build, floor
from bench.corpus import ensure_corpus

__all__ = ["BUILD_STAGES", "FLOOR_STAGES", "main", "stage_times"]

# (label, path suffix of the file, function name); times are cumulative, stages may nest
FLOOR_STAGES: tuple[tuple[str, str, str], ...] = (
    ("whole loop", "bench/floor.py", "run_floor"),
    ("process_utterance", "curate/process.py", "process_utterance"),
    ("  read bytes (FileSystems)", "curate/audio.py", "read_bytes"),
    ("  decode (soundfile)", "curate/audio.py", "decode"),
    ("  normalise", "curate/audio.py", "normalise"),
    ("    resample (soxr)", "curate/audio.py", "resample"),
    ("    downmix", "curate/audio.py", "downmix"),
    ("  to_pcm16", "curate/audio.py", "to_pcm16"),
    ("  signals", "curate/signals.py", "compute_signals"),
    ("    wada_snr", "curate/signals.py", "wada_snr"),
    ("    wada_table (once per process)", "curate/signals.py", "wada_table"),
    ("    silence_ratio", "curate/signals.py", "_silence_ratio"),
    ("  filters", "curate/filters.py", "check_signals"),
    ("  encode FLAC (soundfile)", "curate/audio.py", "encode"),
    ("  serialise Example", "curate/features.py", "serialize_example"),
    ("TFRecord writer (framing + sha256)", "curate/writers.py", "write"),
)
BUILD_STAGES: tuple[tuple[str, str, str], ...] = (
    ("whole run_build()", "curate/launch.py", "run_build"),
    ("construct the pipeline (expand)", "apache_beam/pipeline.py", "apply"),
    ("run the pipeline", "apache_beam/pipeline.py", "run"),
    ("  translate + optimise (to_runner_api)", "apache_beam/pipeline.py", "to_runner_api"),
    ("  run the stages", "fn_api_runner/fn_runner.py", "run_stages"),
    ("    bundles in the SDK worker", "apache_beam/runners/worker/bundle_processor.py",
     "process_bundle"),
    ("      process DoFn (stage + count)", "curate/process.py", "process"),
    ("        process_utterance", "curate/process.py", "process_utterance"),
    ("          decode", "curate/audio.py", "decode"),
    ("          normalise", "curate/audio.py", "normalise"),
    ("          signals", "curate/signals.py", "compute_signals"),
    ("          encode FLAC", "curate/audio.py", "encode"),
    ("          serialise Example", "curate/features.py", "serialize_example"),
    ("      write shards", "curate/shard_writer.py", "process"),
    ("        write both formats (reads the staged records)", "curate/writers.py",
     "write_shards"),
    ("          read a staged record", "curate/shard_writer.py", "__iter__"),
    ("          hash the ArrayRecord file", "curate/writers.py", "_sha256_of_local"),
    ("      write shard manifests", "curate/build_info.py", "write_shard_manifest"),
    ("      summarize splits", "curate/build_info.py", "summarize_manifest"),
    ("      finalize (info, stats, rejected)", "curate/build.py", "_finalize"),
)


def stage_times(
    profile_path: str, stages: Sequence[tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """Cumulative seconds and calls of each stage's function (summed over same-named ones)."""
    stats = pstats.Stats(profile_path).stats  # type: ignore[attr-defined]
    out = []
    for label, suffix, name in stages:
        seconds, calls = 0.0, 0
        for (filename, _, func), (_, ncalls, _, cumulative, _) in stats.items():
            if func == name and filename.replace(os.sep, "/").endswith(suffix):
                seconds += cumulative
                calls += ncalls
        out.append({"stage": label, "seconds": seconds, "calls": calls})
    return out


def _with_rest(rows: list[dict[str, Any]], parent: str, children: Sequence[str]) -> None:
    """Append "the rest of ``parent``": its time outside the listed children."""
    by = {r["stage"].strip(): r for r in rows}
    rest = by[parent]["seconds"] - sum(by[c]["seconds"] for c in children)
    rows.append({"stage": "      rest of the bundles (Beam's own work, sources, dedupe, ...)",
                 "seconds": rest, "calls": 0})


def _print(title: str, rows: list[dict[str, Any]]) -> None:
    total = rows[0]["seconds"] or 1.0
    print(f"\n{title}\n| stage | cumulative s | share | calls |\n|---|---|---|---|")
    for row in rows:
        label = row["stage"].replace("  ", "&nbsp;&nbsp;")
        print(f"| {label} | {row['seconds']:.2f} | {row['seconds'] / total:.0%} | {row['calls']} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--utterances", type=int)
    parser.add_argument("--out", help="write the stage figures here as JSON")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    corpus, _ = ensure_corpus(plan.corpus_utterances)
    subset = corpus.subset(
        args.utterances or plan.corpus_utterances, target_shard_mb=plan.target_shard_mb
    )
    with tempfile.TemporaryDirectory(prefix="curate-profile-") as work:
        floor_prof = os.path.join(work, "floor.prof")
        build_prof = os.path.join(work, "build.prof")
        floor(subset, os.path.join(work, "floor"), profile=floor_prof)
        build(subset, os.path.join(work, "build"), workers=1, profile=build_prof)
        result = {
            "utterances": subset.utterances,
            "audio_s": subset.audio_s,
            "floor": stage_times(floor_prof, FLOOR_STAGES),
            "build_1_worker": stage_times(build_prof, BUILD_STAGES),
        }
        _with_rest(
            result["build_1_worker"],
            "bundles in the SDK worker",
            ("process DoFn (stage + count)", "write shards", "write manifest parts",
             "merge manifests", "finalize (info, stats, rejected)"),
        )
    _print(f"floor, {subset.utterances} utterances, under cProfile", result["floor"])
    _print("build, 1 worker (in_memory), under cProfile", result["build_1_worker"])
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
