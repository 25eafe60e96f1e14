"""The floor: one process, a plain Python loop, no Beam.

Over the same rows the pipeline reads, it does the same per-utterance work by calling the very
function the pipeline's DoFn calls (:func:`curate.process.process_utterance`: read, decode,
resample, quantise, signals, filters, FLAC encode, serialise the Example) and writes every
accepted Example as it comes to one TFRecord file with the library's framing. What it does not
do, and the pipeline does: dedupe, split, sort by key, ArrayRecord, manifests, stats.

Run in its own process so that its start-up (interpreter, imports) is counted as the
pipeline's is::

    python -m bench.floor --manifest M --audio-root R --config C --output OUT [--profile P]

It prints one JSON line: utterances, accepted, audio seconds and where its time went.
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


def run_floor(subset, config_path: str, output: str) -> dict[str, float | int]:
    """Process every row of ``subset`` into ``output/floor.tfrecord``; returns counts/times."""
    from curate.config import load_config
    from curate.errors import InputRejected
    from curate.process import process_utterance
    from curate.writers import tfrecord_frame

    config = load_config(config_path)
    utterances = subset.read_utterances()
    os.makedirs(output, exist_ok=True)
    accepted = 0
    start = time.perf_counter()
    with open(os.path.join(output, "floor.tfrecord"), "wb") as f:
        for utt in utterances:
            try:
                done = process_utterance(utt, config.audio, config.filters)
            except InputRejected:
                continue
            f.write(tfrecord_frame(done.record))
            accepted += 1
    return {
        "utterances": len(utterances),
        "accepted": accepted,
        "loop_s": time.perf_counter() - start,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the single-process floor")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--audio-root", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--profile", help="write cProfile stats of the loop here")
    args = parser.parse_args(argv)

    import apache_beam  # noqa: F401  (the library's I/O goes through Beam's FileSystems)

    from bench.corpus import Subset

    subset = Subset(
        manifest=args.manifest, config=args.config, audio_root=args.audio_root,
        utterances=0, audio_s=0.0,
    )
    imported = time.perf_counter()
    if args.profile:
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
