"""Benchmark 4: reading a registered version back, against plain readers of the same files.

On the version registered by the local store (its files fetched into a fresh cache first, so
no download is timed), over its largest split:

* examples/s through ``DatasetVersion.tf_dataset(split, decode_audio=False)`` against a plain
  ``tf.data.TFRecordDataset(files).map(tf.io.parse_example)`` over the same cached files, with
  the ``feature_spec`` of ``dataset_info.json`` (target: at least 0.9x), and side by side the
  batched forms: ``tf_dataset(split, decode_audio=False, batch_size=64)`` against
  ``TFRecordDataset(files).batch(64).map(parse_example)`` (target: at least 0.9x). For
  reference also ``tf_dataset`` decoding the audio.
* records/s through ``array_record_source(split)[i]`` in a shuffled order (a seeded
  permutation, as a Grain sampler would ask) against sequential reads of the TFRecord files
  (``TFRecordDataset`` iterated record by record into Python bytes), and ArrayRecord read in
  order for reference.

Every measurement reads the split over and over until it has read at least ``min_records``
records (``random_reads`` for the shuffled reads), so that a small split is not dominated by
setting up a ``tf.data`` pipeline; measurements are interleaved, and the best of ``passes`` is
kept, after one warm-up pass that brings the files into the page cache.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from bench.common import ratio

__all__ = ["run"]

_BATCH = 64


def _count(ds) -> int:
    n = 0
    for _ in ds:
        n += 1
    return n


def _best(fns: dict[str, Callable[[], int]], passes: int) -> dict[str, dict[str, float]]:
    for fn in fns.values():  # warm-up: page cache, graph tracing
        fn()
    best: dict[str, dict[str, float]] = {}
    for _ in range(passes):
        for name, fn in fns.items():
            start = time.perf_counter()
            items = fn()
            elapsed = time.perf_counter() - start
            rate = items / elapsed if elapsed else 0.0
            if name not in best or rate > best[name]["per_s"]:
                best[name] = {"items": items, "seconds": elapsed, "per_s": rate}
    return best


def run(
    registry_root: str,
    dataset: str,
    workdir: str,
    *,
    passes: int,
    min_records: int,
    random_reads: int,
    say,
) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    from registry.api import Registry
    from registry.local import LocalStore

    reg = Registry(LocalStore(registry_root), cache_dir=os.path.join(workdir, "loader-cache"))
    version = reg.open(f"{dataset}@v1")
    splits = version.info["splits"]
    split = max(splits, key=lambda s: splits[s]["num_examples"])
    files = [str(p) for p in version.files(split)]  # fetched into the cache here, not timed
    dtypes = {"string": tf.string, "int64": tf.int64, "float32": tf.float32}
    spec = {
        name: tf.io.FixedLenFeature(f.get("shape", []), dtypes[f["dtype"]])
        for name, f in version.info["feature_spec"].items()
    }

    n = int(splits[split]["num_examples"])
    times = max(1, -(-min_records // max(n, 1)))  # passes over the split per measurement

    def plain() -> int:
        ds = tf.data.TFRecordDataset(files).map(
            lambda r: tf.io.parse_example(r, spec), num_parallel_calls=tf.data.AUTOTUNE
        )
        return _count(ds.repeat(times))

    def plain_batched() -> int:
        ds = tf.data.TFRecordDataset(files).repeat(times).batch(_BATCH).map(
            lambda r: tf.io.parse_example(r, spec), num_parallel_calls=tf.data.AUTOTUNE
        )
        return sum(int(b["key"].shape[0]) for b in ds)

    def registry() -> int:
        return _count(version.tf_dataset(split, decode_audio=False).repeat(times))

    def registry_batched() -> int:
        ds = version.tf_dataset(split, decode_audio=False, batch_size=_BATCH).repeat(times)
        return sum(int(b["key"].shape[0]) for b in ds)

    def registry_decoded() -> int:
        return _count(version.tf_dataset(split, decode_audio=True))  # one pass: it is slow

    tf_rates = _best(
        {
            "plain_parse_example": plain,
            "tf_dataset": registry,
            "plain_batched_parse_example": plain_batched,
            "tf_dataset_batched": registry_batched,
            "tf_dataset_decode_audio": registry_decoded,
        },
        passes,
    )

    source = version.array_record_source(split)
    rng = np.random.default_rng(0)
    order = np.concatenate([rng.permutation(n) for _ in range(-(-random_reads // max(n, 1)))])
    order = [int(i) for i in order[:random_reads]]

    def random_access() -> int:
        for i in order:
            source[i]
        return len(order)

    def array_record_in_order() -> int:
        for _ in range(times):
            for i in range(n):
                source[i]
        return n * times

    def tfrecord_sequential() -> int:
        return _count(tf.data.TFRecordDataset(files).repeat(times).as_numpy_iterator())

    read_rates = _best(
        {
            "array_record_shuffled": random_access,
            "tfrecord_sequential": tfrecord_sequential,
            "array_record_in_order": array_record_in_order,
        },
        passes,
    )
    result: dict[str, Any] = {
        "split": split,
        "examples": n,
        "passes_per_measurement": times,
        "tfrecord_files": len(files),
        "array_record_files": len(version.files(split, "array_record")),
        "bytes": sum(os.path.getsize(f) for f in files),
        "tf_data": tf_rates,
        "reads": read_rates,
    }
    result["ratios"] = {
        "tf_dataset_vs_plain": ratio(
            tf_rates["tf_dataset"]["per_s"], tf_rates["plain_parse_example"]["per_s"]
        ),
        "tf_dataset_vs_plain_batched": ratio(
            tf_rates["tf_dataset"]["per_s"], tf_rates["plain_batched_parse_example"]["per_s"]
        ),
        "tf_dataset_batched_vs_plain_batched": ratio(
            tf_rates["tf_dataset_batched"]["per_s"],
            tf_rates["plain_batched_parse_example"]["per_s"],
        ),
        "array_record_shuffled_vs_tfrecord_sequential": ratio(
            read_rates["array_record_shuffled"]["per_s"],
            read_rates["tfrecord_sequential"]["per_s"],
        ),
    }
    result["targets"] = {
        f"{name} >= 0.9": result["ratios"][name] >= 0.9
        for name in ("tf_dataset_vs_plain", "tf_dataset_batched_vs_plain_batched")
    }
    say(
        f"  loaders ({split}, {result['examples']} examples): tf_dataset "
        f"{tf_rates['tf_dataset']['per_s']:.0f}/s vs plain "
        f"{tf_rates['plain_parse_example']['per_s']:.0f}/s; "
        f"ArrayRecord shuffled {read_rates['array_record_shuffled']['per_s']:.0f}/s vs TFRecord "
        f"sequential {read_rates['tfrecord_sequential']['per_s']:.0f}/s"
    )
    return result
