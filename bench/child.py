"""One build in its own process, as a user runs it: ``python -m bench.child --config C
--output D [--workers N] [--profile P] [Beam options]``. Prints one JSON line: the counts, the
time spent in ``run_build()`` and in start-up imports, and the kernel's ``ru_maxrss`` of this
process and of its
waited-for descendants (Beam's worker processes)."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence

_T0 = time.perf_counter()

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one build, measured")
    parser.add_argument("--config", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--workers", type=int, help="DirectRunner workers (no Beam options)")
    parser.add_argument("--profile", help="write cProfile stats of run_build() here (1 worker)")
    args, pipeline_args = parser.parse_known_args(argv)

    from curate.launch import run_build

    imported = time.perf_counter()
    kwargs = dict(workers=args.workers, pipeline_args=pipeline_args, overwrite=True,
                  say=lambda _: None)
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        info = profiler.runcall(run_build, args.config, args.output, **kwargs)
        profiler.dump_stats(args.profile)
    else:
        info = run_build(args.config, args.output, **kwargs)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "counts": info["counts"],
                "fingerprint": info["fingerprint"],
                "startup_s": imported - _T0,
                "run_s": done - imported,
                "in_process_s": done - _T0,
                "ru_maxrss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "ru_maxrss_children_mb": (
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                ),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
