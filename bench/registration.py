"""Benchmark 3: what registering a build costs, in time and in bytes stored.

Three registrations, on the embedded local store and on the in-process lakeFS test server
(``tests/registry/lakefs_server.py``, the REST API the lakeFS store speaks); on a real lakeFS,
``bench.registration_lakefs`` measures the bytes that pass through the launcher, copying
against importing a build that is in the bucket:

1. ``v1``: a build (the 1-worker build of the throughput benchmark).
2. an identical rebuild (the 2-worker build of the same corpus): target no new version and
   zero bytes stored.
3. a build in which one split's shards changed and the others did not (the same corpus with
   every transcript of the smallest split edited): target at most 1.1x the changed files' size
   newly stored.

Bytes stored: for the local store, the growth of its ``objects/`` directory (and of the whole
store, refs and commits included); for the lakeFS server, the growth of the blobs it holds
(and the request bytes it received). "Changed" files are those whose path or sha256 differs
from v1's, plus ``dataset_info.json`` (which names the new fingerprint, so always changes).
Builds are registered with ``allow_unvalidated=True``: validating a build (``curate validate``)
is a step of its own, with its own cost, and is not timed here.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import build, ratio
from bench.corpus import Subset

__all__ = ["changed_files", "make_changed_build", "run"]

DATASET = "bench-asr"
_SUFFIX = " AMEN"


def _tree_bytes(path: str) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                pass
    return total


def _info(build_dir: str) -> dict[str, Any]:
    with open(os.path.join(build_dir, "dataset_info.json"), encoding="utf-8") as f:
        return json.load(f)


def make_changed_build(subset: Subset, v1_dir: str, out: str) -> tuple[str, str]:
    """Build ``subset`` with every transcript of v1's smallest non-empty split edited; returns
    (the build dir, the split). Splits follow speakers, so no example moves between splits."""
    from curate.build_info import read_manifest

    info = _info(v1_dir)
    splits = info["splits"]
    split = min(
        (s for s in splits if splits[s]["num_examples"]), key=lambda s: splits[s]["num_examples"]
    )
    keys = set(read_manifest(info, split, lambda rel: os.path.join(v1_dir, rel),
                             columns=["key"]).column("key").to_pylist())

    def edit(row: dict[str, Any]) -> dict[str, Any]:
        stem = os.path.splitext(os.path.basename(row["audio_filepath"]))[0]
        return {**row, "text": row["text"] + _SUFFIX} if stem in keys else row

    changed = subset.edited(f"{os.path.basename(subset.manifest)[:-6]}-{split}-edited", edit)
    build(changed, out, workers=2)
    return out, split


def changed_files(v1_dir: str, v2_dir: str) -> dict[str, Any]:
    old = _info(v1_dir)["files"]
    new = _info(v2_dir)["files"]
    changed = {p: f for p, f in new.items() if old.get(p, {}).get("sha256") != f["sha256"]}
    info_size = os.path.getsize(os.path.join(v2_dir, "dataset_info.json"))
    shards = {p: f for p, f in changed.items() if p.startswith("data/")}
    return {
        "files": sorted(changed) + ["dataset_info.json"],
        "bytes": sum(f["size_bytes"] for f in changed.values()) + info_size,
        "shard_files": len(shards),
        "shard_bytes": sum(f["size_bytes"] for f in shards.values()),
        "unchanged_shard_files": sum(1 for p in new if p.startswith("data/") and p not in changed),
        "build_bytes": sum(f["size_bytes"] for f in new.values()) + info_size,
    }


@contextmanager
def _local(workdir: str) -> Iterator[tuple[Any, Callable[[], dict[str, int]]]]:
    from registry.local import LocalStore

    root = os.path.join(workdir, "local-store")
    shutil.rmtree(root, ignore_errors=True)
    store = LocalStore(root)

    def stored() -> dict[str, int]:
        return {"objects": _tree_bytes(os.path.join(root, "objects")), "total": _tree_bytes(root)}

    yield store, stored


@contextmanager
def _lakefs(workdir: str) -> Iterator[tuple[Any, Callable[[], dict[str, int]]]]:
    from registry.lakefs_store import LakeFSStore
    from tests.registry.lakefs_server import lakefs_test_server

    with lakefs_test_server() as server:
        store = LakeFSStore(
            endpoint_url=server.endpoint_url,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key,
            storage_namespace_root=server.storage_namespace_root,
        )

        def stored() -> dict[str, int]:
            return {
                "objects": sum(len(b) for b in list(server.model.blobs.values())),
                "total": sum(r.body_bytes for r in list(server.requests)),  # bytes received
            }

        yield store, stored


_STORES = {"local": _local, "lakefs_test_server": _lakefs}


def _register_all(store, stored, builds: dict[str, str], workdir: str) -> dict[str, Any]:
    from registry.api import Registry

    reg = Registry(store, cache_dir=os.path.join(workdir, "cache"))
    out: dict[str, Any] = {}
    for step, build_dir in builds.items():
        before = stored()
        start = time.perf_counter()
        # validation (`curate validate`) is its own step with its own cost; not timed here
        version = reg.register(build_dir, dataset=DATASET, allow_unvalidated=True)
        elapsed = time.perf_counter() - start
        after = stored()
        out[step] = {
            "seconds": elapsed,
            "tag": version.tag,
            "commit_id": version.commit_id,
            "versions_after": len(reg.versions(DATASET)),
            "object_bytes_stored": after["objects"] - before["objects"],
            "store_bytes_grown": after["total"] - before["total"],
        }
    return out


def run(
    subset: Subset, v1_dir: str, rebuild_dir: str, workdir: str, say, *, lakefs: bool = True
) -> dict[str, Any]:
    os.makedirs(workdir, exist_ok=True)
    changed_dir, split = make_changed_build(subset, v1_dir, os.path.join(workdir, "changed"))
    builds = {"v1": v1_dir, "identical_rebuild": rebuild_dir, "one_split_changed": changed_dir}
    changed = changed_files(v1_dir, changed_dir)
    result: dict[str, Any] = {
        "changed_split": split,
        "changed": changed,
        "identical_fingerprints": _info(v1_dir)["fingerprint"] == _info(rebuild_dir)["fingerprint"],
        "stores": {},
    }
    for name, opener in _STORES.items():
        if name != "local" and not lakefs:
            continue
        with opener(workdir) as (store, stored):
            steps = _register_all(store, stored, builds, os.path.join(workdir, name))
        ident, chg, v1 = steps["identical_rebuild"], steps["one_split_changed"], steps["v1"]
        steps["ratios"] = {
            "identical_bytes_stored": ident["object_bytes_stored"],
            "identical_new_version": ident["tag"] != v1["tag"],
            "changed_stored_vs_changed_files": ratio(chg["object_bytes_stored"], changed["bytes"]),
            "changed_stored_vs_build": ratio(chg["object_bytes_stored"], changed["build_bytes"]),
            "identical_seconds_vs_v1": ratio(ident["seconds"], v1["seconds"]),
            "changed_seconds_vs_v1": ratio(chg["seconds"], v1["seconds"]),
        }
        steps["targets"] = {
            "identical: no new version, 0 bytes": (
                not steps["ratios"]["identical_new_version"] and ident["object_bytes_stored"] == 0
            ),
            "changed: stored <= 1.1x changed files": (
                steps["ratios"]["changed_stored_vs_changed_files"] <= 1.1
            ),
        }
        result["stores"][name] = steps
        say(
            f"  registration {name}: v1 {v1['seconds']:.2f} s "
            f"({v1['object_bytes_stored'] / 1e6:.1f} MB), identical {ident['seconds']:.2f} s "
            f"({ident['object_bytes_stored']} B, {ident['tag']}), "
            f"changed {chg['seconds']:.2f} s ({chg['object_bytes_stored'] / 1e6:.2f} MB stored "
            f"for {changed['bytes'] / 1e6:.2f} MB changed, {chg['tag']})"
        )
    if lakefs:
        from bench import registration_lakefs

        result["lakefs_real"] = registration_lakefs.run(v1_dir, changed_dir, changed, workdir, say)
    return result
