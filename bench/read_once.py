"""The fresh build with each source file read once against read twice, alternated in one
process: ``python -m bench.read_once [--utterances N] [--rounds R] [--out F.json]``.

A fresh build takes each input's source fingerprint (sha256 of the file) and decodes it. Read
once (:meth:`curate.inputs.SourceFingerprints.read`): the bytes hashed are the bytes decoded.
Read twice (what the build did before): the fingerprint reads the file, then the decoder reads
it again; measured by patching ``SourceFingerprints.read`` back to that for half the builds.
Both are whole 1-worker ``in_memory`` builds (:func:`curate.launch.run_build`) of ``N``
utterances of the benchmark corpus in this process, after one warm-up build, in the order
A B, B A, … (``R`` rounds); figures: CPU seconds of the process (``time.process_time``) per
build, their medians and the paired differences. One process and a warm state make this finer
than fresh processes (``bench.fresh_ab``), whose run-to-run noise on a shared machine exceeds
the change; every build must give one fingerprint. The machine's record of source fingerprints
(:mod:`curate.stat_cache`) is off: every build hashes its files, as the first one does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "run"]


def run(work: str, *, utterances: int, rounds: int, target_mb: float) -> dict[str, Any]:
    from bench.common import median
    from bench.corpus import ensure_corpus
    from bench.machine import load_average
    from curate import inputs
    from curate.launch import run_build
    from curate.stat_cache import ENV_FINGERPRINT_CACHE

    os.environ[ENV_FINGERPRINT_CACHE] = "off"  # every build hashes its files, as a first one

    corpus, _ = ensure_corpus(max(2000, utterances))
    config = corpus.subset(utterances, target_shard_mb=target_mb,
                           name=f"fresh{utterances}").config
    once = inputs.SourceFingerprints.read

    def twice(self: inputs.SourceFingerprints, utt: Any) -> tuple[Any, None]:
        return self.fingerprinted(utt), None  # the decoder opens and reads the file itself

    out_dir = os.path.join(work, "build")
    fingerprints = set()

    def build() -> float:
        start = time.process_time()
        info = run_build(config, out_dir, workers=1, overwrite=True, say=lambda _: None)
        fingerprints.add(info["fingerprint"])
        return time.process_time() - start

    build()  # warm-up: imports, the corpus in the page cache
    cpu: dict[str, list[float]] = {"read_once": [], "read_twice": []}
    try:
        for i in range(rounds):
            for name in ("read_twice", "read_once")[:: 1 if i % 2 == 0 else -1]:
                inputs.SourceFingerprints.read = once if name == "read_once" else twice
                cpu[name].append(build())
                print(f"round {i} {name}: {cpu[name][-1]:.2f} CPU s", file=sys.stderr,
                      flush=True)
    finally:
        inputs.SourceFingerprints.read = once
    med = {k: median(v) for k, v in cpu.items()}
    paired = [a - b for a, b in zip(cpu["read_once"], cpu["read_twice"])]
    return {"utterances": utterances, "rounds": rounds, "target_shard_mb": target_mb,
            "cpu_s": cpu, "median_cpu_s": med,
            "read_once_vs_twice_cpu": med["read_once"] / med["read_twice"],
            "paired_difference_s": paired,
            "median_difference_ms_per_utterance": 1000 * median(paired) / utterances,
            "same_fingerprint": len(fingerprints) == 1, "load_average": load_average()}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.read_once",
                                description=__doc__.splitlines()[0])
    p.add_argument("--utterances", type=int, default=500)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--target-mb", type=float, default=2.0)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "read_once.json"))
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="curate-bench-read-once-")
    try:
        r = run(work, utterances=args.utterances, rounds=args.rounds, target_mb=args.target_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(args.out, "w") as f:
        json.dump(r, f, indent=2, sort_keys=True)
        f.write("\n")
    m = r["median_cpu_s"]
    print(f"{r['utterances']} utterances, {r['rounds']} rounds: read once {m['read_once']:.2f} "
          f"vs read twice {m['read_twice']:.2f} CPU s ({r['read_once_vs_twice_cpu']:.3f}x); "
          f"paired differences {[round(d, 2) for d in r['paired_difference_s']]} s, median "
          f"{r['median_difference_ms_per_utterance']:.2f} ms per utterance; same output: "
          f"{r['same_fingerprint']}; load average {r['load_average']}")
    sys.stdout.flush()
    os._exit(0)  # (a dependency's native thread may abort the interpreter's teardown)


if __name__ == "__main__":
    sys.exit(main())
