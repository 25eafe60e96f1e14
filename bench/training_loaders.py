"""Benchmark 5: the training-stack loaders against raw reads of the same files, side by side.

Over the largest split of a build (every file verified once before anything is timed):

* the raw baselines, in this process: ArrayRecord reads + the project's decoder (audio decoded
  with soundfile), the same over TFRecord, and ArrayRecord reads + the decoder without audio
  decoding (for the loaders that hand out encoded bytes);
* PyTorch: ``ResumableDataLoader`` over ``ExampleDataset`` (map-style) and ``ExampleStream``
  (iterable), ``num_workers`` 0 and 2, batches of 16 padded by ``pad_collate``;
* Grain: ``grain.DataLoader`` over ``GrainSource``, ``worker_count`` 0 and 2, batches of 16;
* Hugging Face: ``to_hf_dataset`` (building its Arrow file) and iterating it in batches of 64
  (audio bytes: decoding is torchcodec's business), against raw reads without audio decoding;
* Ray Data: ``ray_dataset`` iterated in batches on a local Ray with 2 CPUs (start-up not
  timed; the split repeated as one dataset) against the decoded baseline;
* PySpark: ``spark_dataframe`` on ``local[2]`` summing the audio bytes' lengths in the
  executors (start-up not timed; the split repeated as one job) against raw reads without
  audio decoding.

Every measurement reads at least ``min_records`` records (the split repeated), worker start-up
included; measurements are interleaved and the best of ``passes`` is kept, after one warm-up
pass over the split each. The
targets: each loader >= 0.9x its baseline, 2 workers >= 1.5x 0 workers (Grain, PyTorch).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.common import ratio

__all__ = ["run"]

_BATCH = 16


def _best(fns: dict[str, Callable[[int], int]], passes: int, times: int,
          say) -> dict[str, dict[str, float]]:
    """Each ``fn(times)`` reads the split ``times`` over and returns how many examples it read;
    after one warm-up pass each (page cache, imports, lazy set-ups), the best of ``passes``."""
    for fn in fns.values():
        fn(1)
    best: dict[str, dict[str, float]] = {}
    for _ in range(passes):
        for name, fn in fns.items():
            cpu = _cpu_seconds()
            start = time.perf_counter()
            items = fn(times)
            elapsed = time.perf_counter() - start
            cpu = _cpu_seconds() - cpu
            rate = items / elapsed if elapsed else 0.0
            if name not in best or rate > best[name]["per_s"]:
                best[name] = {"items": items, "seconds": elapsed, "per_s": rate,
                              "cpu_ms_per_item": 1000 * cpu / max(items, 1)}
    for name, b in best.items():
        say(f"    {name}: {b['per_s']:.0f}/s ({b['items']} in {b['seconds']:.2f} s, "
            f"{b['cpu_ms_per_item']:.2f} CPU ms each)")
    return best


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (DataLoader and Grain
    workers; not Ray's or Spark's, whose processes are not ours)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _raw(files) -> dict[str, Callable[[int], int]]:
    from curate.writers import iter_tfrecords
    from registry.loaders.records import ArrayRecordShards, Decoder

    decoded, undecoded = Decoder(files), Decoder(files, decode_audio=False)
    shards = ArrayRecordShards(files.array_record, ref=files.ref)
    n = files.num_examples

    def array_record(times: int, decode=decoded) -> int:
        for _ in range(times):
            for i in range(n):
                decode(shards[i])
        return n * times

    def tfrecord(times: int) -> int:
        count = 0
        for _ in range(times):
            for f in files.tfrecord:
                with open(f.path, "rb") as fh:
                    for record in iter_tfrecords(fh):
                        decoded(record)
                        count += 1
        return count

    return {"raw_array_record": array_record, "raw_tfrecord": tfrecord,
            "raw_array_record_bytes": lambda times: array_record(times, undecoded)}


def _torch(files) -> dict[str, Callable[[int], int]]:
    import torch  # noqa: F401 (the import is not timed)

    from registry.loaders.torch_data import ExampleDataset, ExampleStream, ResumableDataLoader

    n = files.num_examples

    def map_style(workers: int, times: int) -> int:
        ds = ExampleDataset(files)
        loader = ResumableDataLoader(ds, batch_size=_BATCH, num_workers=workers,
                                     sampler=list(range(n)) * times)
        return sum(len(b["key"]) for b in loader)

    def stream(workers: int, times: int) -> int:
        count = 0
        for epoch in range(times):
            ds = ExampleStream(files)
            ds.set_epoch(epoch)
            count += sum(len(b["key"]) for b in ResumableDataLoader(
                ds, batch_size=_BATCH, num_workers=workers))
        return count

    return {"torch_map_0": lambda t: map_style(0, t), "torch_map_2": lambda t: map_style(2, t),
            "torch_stream_0": lambda t: stream(0, t), "torch_stream_2": lambda t: stream(2, t)}


def _grain(files) -> dict[str, Callable[[int], int]]:
    import grain

    from registry.loaders.grain_data import GrainSource, pad_batch

    source = GrainSource(files)

    def loader(workers: int, times: int) -> int:
        sampler = grain.samplers.IndexSampler(len(source), shuffle=False, num_epochs=times)
        dl = grain.DataLoader(data_source=source, sampler=sampler, worker_count=workers,
                              operations=[grain.transforms.Batch(_BATCH, batch_fn=pad_batch)])
        return sum(len(b["key"]) for b in dl)

    return {"grain_0": lambda t: loader(0, t), "grain_2": lambda t: loader(2, t)}


def _hf(files, workdir: str) -> dict[str, Callable[[int], int]]:
    import shutil

    from registry.loaders.hf_data import to_hf_dataset

    def build_and_iterate(times: int) -> int:
        shutil.rmtree(os.path.join(workdir, "hf"), ignore_errors=True)
        ds = to_hf_dataset(files, cache_file=os.path.join(workdir, "hf", "split.arrow"),
                           decode_audio=False)
        count = 0
        for _ in range(times):
            for batch in ds.iter(batch_size=64):
                count += len(batch["audio"])
        return count

    return {"hf_build_and_iterate": build_and_iterate}


def _ray(files) -> tuple[dict[str, Callable[[int], int]], Callable[[], None], float]:
    t = time.perf_counter()
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    startup = time.perf_counter() - t
    from registry.loaders.ray_data import ray_dataset

    def iterate(times: int) -> int:  # one execution over the split repeated: no per-run set-up
        ds = ray_dataset(files)
        ds = ds.union(*[ray_dataset(files) for _ in range(times - 1)]) if times > 1 else ds
        return sum(len(b["key"]) for b in ds.iter_batches(batch_size=64, batch_format="numpy"))

    return {"ray_iter_batches": iterate}, ray.shutdown, startup


def _spark(files) -> tuple[dict[str, Callable[[int], int]], Callable[[], None], float]:
    t = time.perf_counter()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (SparkSession.builder.master("local[2]").appName("curate-bench")
             .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
    startup = time.perf_counter() - t
    from registry.loaders.spark_data import spark_dataframe

    def scan(times: int) -> int:  # one job over the split repeated: no per-job set-up
        df = spark_dataframe(spark, files)
        for _ in range(times - 1):
            df = df.unionAll(spark_dataframe(spark, files))
        return df.agg(F.count("key").alias("n"), F.sum(F.length("audio")).alias("b")).first()["n"]

    return {"spark_scan": scan}, spark.stop, startup


def run(build_dir: str, workdir: str, *, passes: int, min_records: int, say,
        clusters: bool = True) -> dict[str, Any]:
    """``clusters=False`` leaves out Ray and Spark (a minute of start-up: the quick mode)."""
    import json

    from curate.layout import INFO_FILE
    from registry.loaders.split import SplitFiles

    with open(os.path.join(build_dir, INFO_FILE), encoding="utf-8") as f:
        splits = json.load(f)["splits"]
    split = max(splits, key=lambda s: splits[s]["num_examples"])
    files = SplitFiles.from_build(build_dir, split)  # every file hashed once, not timed
    n = files.num_examples
    times = max(1, -(-min_records // max(n, 1)))
    os.makedirs(workdir, exist_ok=True)
    say(f"  training loaders ({split}, {n} examples, {times} passes per measurement)")
    fns = {**_raw(files), **_torch(files), **_grain(files), **_hf(files, workdir)}
    rates = _best(fns, passes, times, say)
    startup: dict[str, float] = {}
    for name, make in (("ray", _ray), ("spark", _spark)) if clusters else ():
        more, stop, startup[name] = make(files)
        try:  # each against the baselines measured again beside it
            base = {k: fns[k] for k in ("raw_array_record", "raw_array_record_bytes")}
            again = _best({**more, **base}, passes, times, say)
        finally:
            stop()
        rates.update({k: again[k] for k in more})
        rates[f"raw_array_record@{name}"] = again["raw_array_record"]
        rates[f"raw_array_record_bytes@{name}"] = again["raw_array_record_bytes"]

    def r(a: str, b: str) -> float:
        return ratio(rates[a]["per_s"], rates[b]["per_s"])

    ratios = {
        "torch_map_vs_raw_array_record": r("torch_map_0", "raw_array_record"),
        "torch_stream_vs_raw_tfrecord": r("torch_stream_0", "raw_tfrecord"),
        "torch_map_2_vs_0_workers": r("torch_map_2", "torch_map_0"),
        "torch_stream_2_vs_0_workers": r("torch_stream_2", "torch_stream_0"),
        "grain_vs_raw_array_record": r("grain_0", "raw_array_record"),
        "grain_2_vs_0_workers": r("grain_2", "grain_0"),
        "hf_vs_raw_array_record_bytes": r("hf_build_and_iterate", "raw_array_record_bytes"),
    }
    if clusters:
        ratios["ray_vs_raw_array_record"] = r("ray_iter_batches", "raw_array_record@ray")
        ratios["spark_vs_raw_array_record_bytes"] = r("spark_scan", "raw_array_record_bytes@spark")
    targets = {f"{k} >= {0.9 if '_vs_raw' in k else 1.5}": v >= (0.9 if "_vs_raw" in k else 1.5)
               for k, v in ratios.items()}
    # CPU per example, raw over loader: what the loader costs beyond the raw reads, whatever
    # else the machine runs (wall-clock ratios are not, on shared cores).
    cpu_ratios = {k: ratio(rates[b]["cpu_ms_per_item"], rates[a]["cpu_ms_per_item"])
                  for k, (a, b) in {
                      "torch_map": ("torch_map_0", "raw_array_record"),
                      "torch_stream": ("torch_stream_0", "raw_tfrecord"),
                      "grain": ("grain_0", "raw_array_record"),
                      "hf": ("hf_build_and_iterate", "raw_array_record_bytes")}.items()}
    return {"split": split, "examples": n, "passes_per_measurement": times,
            "cpus": os.cpu_count(), "rates": rates, "startup_s": startup,
            "ratios": ratios, "cpu_efficiency": cpu_ratios, "targets": targets,
            "load_average": os.getloadavg()}
