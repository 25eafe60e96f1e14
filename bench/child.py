"""One build in its own process, as a user runs it: ``python -m bench.child --config C
--output D [--workers N] [--profile P] [--base NAME@vN --registry URI] [Beam options]``.
Prints one JSON line: the counts, the pipeline's ``curate`` counters (``audio.decoded``), the
time spent in ``run_build()`` and in start-up imports, and the kernel's ``ru_maxrss`` of this
process and of its waited-for descendants (Beam's worker processes). With ``--base``, the
build is on that registered version (as ``curate build --base``); opening it is timed too."""

from __future__ import annotations

import argparse
import inspect
import json
import os
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
    parser.add_argument("--base", help="build on this registered version (NAME@vN)")
    parser.add_argument("--registry", help="the registry holding --base (a URI)")
    args, pipeline_args = parser.parse_known_args(argv)

    from curate.launch import run_build

    imported = time.perf_counter()
    counters: dict[str, int] = {}
    kwargs = dict(workers=args.workers, pipeline_args=pipeline_args, overwrite=True,
                  say=lambda _: None)
    if "counters" in inspect.signature(run_build).parameters:  # (older codes: bench.fresh_ab)
        kwargs["counters"] = counters
    if args.base:
        from registry.api import Registry

        cache = os.path.join(os.path.dirname(os.path.abspath(args.output)), "registry-cache")
        kwargs["base"] = Registry(args.registry, cache_dir=cache).open(args.base)
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU: others' jobs inflate wall time
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
                "counters": counters,
                "startup_s": imported - _T0,
                "run_s": done - imported,
                "in_process_s": done - _T0,
                "ru_maxrss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "ru_maxrss_children_mb": (
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                ),
            }
        ),
        flush=True,
    )
    # The figures are out: end now. The interpreter's teardown sometimes aborts in a native
    # thread of a dependency ("terminate called without an active exception", exit -6) after
    # the build is complete; that is not the build's doing, and must not fail a measurement.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
