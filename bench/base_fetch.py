"""Fetching a base version's shards into a cold registry cache, as a build on that base does
for every kept shard: ``python -m bench.base_fetch REGISTRY_URI NAME@vN [--rounds 3]``.

Side by side in one process, rounds alternating: the cache checking each download by the
sha256 the store computed while writing it (now), and by reading the file again (before).
Prints CPU seconds of each (this process; the local store copies in this process too).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _fetch_all(uri: str, ref: str, *, rehash: bool) -> tuple[float, int]:
    from registry.api import Registry
    from registry.cache import CommitCache
    from registry.uri import open_store

    cache_dir = tempfile.mkdtemp(prefix="curate-bench-fetch-")
    try:
        version = Registry(uri, cache_dir=cache_dir).open(ref)
        files = {p: f for p, f in version.info["files"].items() if p.startswith("data/")}
        store = open_store(uri)
        if rehash:  # as before: the store's hash is not used, the file is read again
            download = store.download_object

            def download_object(*args: Any, **kwargs: Any) -> None:
                download(*args, **kwargs)

            store.download_object = download_object  # type: ignore[method-assign]
        cache = CommitCache(store, repo=version.info["name"], commit_id=version.commit_id,
                            root=cache_dir)
        start = time.process_time()
        for rel, f in sorted(files.items()):
            cache.fetch(rel, sha256=f["sha256"])
        return time.process_time() - start, sum(int(f["size_bytes"]) for f in files.values())
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.base_fetch",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("registry")
    parser.add_argument("ref")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    cpu: dict[str, list[float]] = {"before": [], "now": []}
    size = 0
    for r in range(args.rounds):
        for kind in (("before", "now") if r % 2 == 0 else ("now", "before")):
            seconds, size = _fetch_all(args.registry, args.ref, rehash=kind == "before")
            cpu[kind].append(seconds)
    best = {k: min(v) for k, v in cpu.items()}
    print(json.dumps({"shard_bytes": size, "cpu_s": cpu, "best_cpu_s": best,
                      "now_vs_before": best["now"] / best["before"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
