"""The floor: one process, a plain Python loop, no Beam.

Over the same rows the pipeline reads, it does the same per-utterance work by calling the very
function the pipeline's DoFn calls (:func:`curate.process.process_utterance`: read, decode,
resample, quantise, signals, filters, FLAC encode, serialise the Example) and writes every
accepted Example as it comes to one TFRecord file with the pipeline's own TFRecord writer
(:class:`curate.writers.TFRecordFile`: the same framing, hashed as written). What it does not
do, and the pipeline does: dedupe, split, sort by key, ArrayRecord, manifests, stats.

Run in its own process so that its start-up (interpreter, imports) is counted as the
pipeline's is::

    python -m bench.floor --manifest M --audio-root R --config C --output OUT [--profile P]
    python -m bench.floor ... --processes 2

It prints one JSON line: utterances, accepted, and where its time went. With ``--processes N``
the rows are dealt round-robin to a pool of N forked processes, each running the same loop into
its own TFRecord file: a plain process pool (what Lhotse does with ``num_jobs``), i.e. what N
processes can do on this machine with no framework at all. It is the practical ceiling for the
N-worker build, below N x the floor whenever the processes slow each other down (shared caches
and memory bandwidth, or cores taken by other jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

_T0 = time.perf_counter()  # before the heavy imports: start-up is measured from here

__all__ = ["main", "run_floor"]


def run_floor(
    subset, config_path: str, output: str, *, part: int = 0, parts: int = 1
) -> dict[str, float | int]:
    """Process every ``parts``-th row of ``subset`` from row ``part`` on into
    ``output/floor-<part>.tfrecord``; returns counts and times."""
    from curate.config import load_config
    from curate.errors import InputRejected
    from curate.process import process_utterance
    from curate.writers import TFRecordFile

    config = load_config(config_path)
    utterances = subset.read_utterances()[part::parts]
    os.makedirs(output, exist_ok=True)
    accepted = 0
    start = time.perf_counter()
    shard = TFRecordFile(os.path.join(output, f"floor-{part}.tfrecord"))
    for utt in utterances:
        try:
            done = process_utterance(utt, config.audio, config.filters)
        except InputRejected:
            continue
        shard.write(done.record)
        accepted += 1
    shard.close()
    return {
        "utterances": len(utterances),
        "accepted": accepted,
        "loop_s": time.perf_counter() - start,
    }


def _part(task: tuple) -> dict[str, float | int]:
    subset, config, output, k, n = task
    return run_floor(subset, config, output, part=k, parts=n)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the single-process floor")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--audio-root", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--profile", help="write cProfile stats of the loop here")
    parser.add_argument("--processes", type=int, default=1, help="a pool of this many")
    args = parser.parse_args(argv)

    import apache_beam  # noqa: F401  (the library's I/O goes through Beam's FileSystems)

    from bench.corpus import Subset

    subset = Subset(
        manifest=args.manifest, config=args.config, audio_root=args.audio_root,
        utterances=0, audio_s=0.0,
    )
    imported = time.perf_counter()
    if args.processes > 1:
        from concurrent.futures import ProcessPoolExecutor

        n = args.processes
        with ProcessPoolExecutor(n) as pool:
            tasks = [(subset, args.config, args.output, k, n) for k in range(n)]
            parts = list(pool.map(_part, tasks))
        result = {key: sum(p[key] for p in parts) for key in ("utterances", "accepted")}
        result["loop_s"] = max(p["loop_s"] for p in parts)
    elif args.profile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(run_floor, subset, args.config, args.output)
        profiler.dump_stats(args.profile)
    else:
        result = run_floor(subset, args.config, args.output)
    result["startup_s"] = imported - _T0
    result["in_process_s"] = time.perf_counter() - _T0
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
