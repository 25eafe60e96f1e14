"""Measure what a build moves and holds: bytes through shuffles and side inputs, staged bytes,
output bytes, and peak memory per worker process.

``python -m bench.measure --utterances 200 --json out.json`` makes a sample corpus, builds it
twice (once in-process for the byte counts, once with ``--workers N`` in a subprocess for the
memory), prints a table and writes the figures as JSON. ``tests/pipelines/test_scale.py`` uses
:func:`shuffle_profile` to check that no audio crosses a shuffle.

**Shuffle bytes** come from Beam's own counters: for every PCollection the runner reports an
element count and a sampled distribution of encoded element sizes (the
``beam:metric:sampled_byte_size:v1`` monitoring info, measured with the PCollection's coder,
i.e. the bytes a runner would write to its shuffle). The estimated bytes of a PCollection are its
element count times its mean sampled size. The pipeline graph (``Pipeline.to_runner_api()``)
says which PCollections feed a ``GroupByKey`` (every ``GroupByKey``, ``CoGroupByKey``,
``Reshuffle``) and which are side inputs of a ``ParDo``; those two sums are the shuffle bytes
and the side-input bytes. The inputs of combines are reported apart: they are counted before
combiner lifting (a runner only shuffles partial results), so they are an upper bound.

**Staged bytes** are the serialised examples written once to ``<output>/.staging`` and read
once by the shard writers: the TFRecord payload bytes (file size minus 16 framing bytes per
record).

**Peak memory** is each process's ``VmHWM`` (peak resident set) from ``/proc``, polled every
0.1 s over the build's process tree (the driver and its worker processes; a worker that
grows and exits between two polls could be missed by up to 0.1 s of growth), cross-checked with
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the largest finished descendant).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

__all__ = ["memory_profile", "shuffle_profile"]

_GBK_URN = "beam:transform:group_by_key:v1"
_PARDO_URN = "beam:transform:pardo:v1"
_COMBINE_URNS = ("beam:transform:combine_per_key:v1", "beam:transform:combine_globally:v1")


def _pcollection_bytes(result) -> tuple[dict[str, int], dict[str, float]]:
    """(element count, estimated total encoded bytes) per PCollection id."""
    from apache_beam.metrics import monitoring_infos as mi

    counts: dict[str, int] = defaultdict(int)
    sampled: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # [sampled count, sampled sum]
    for info in result.monitoring_infos():
        pcoll = info.labels.get(mi.PCOLLECTION_LABEL)
        if pcoll is None:
            continue
        if info.urn == mi.ELEMENT_COUNT_URN:
            counts[pcoll] += mi.extract_counter_value(info)
        elif info.urn == mi.SAMPLED_BYTE_SIZE_URN:
            n, total, _, _ = mi.extract_distribution(info)
            sampled[pcoll][0] += n
            sampled[pcoll][1] += total
    size = {p: (s[1] / s[0]) * counts.get(p, s[0]) for p, s in sampled.items() if s[0]}
    return dict(counts), size


def _shuffled_and_side_inputs(proto) -> list[tuple[str, str, str]]:
    """``(kind, step, PCollection id)`` for every GroupByKey input and every ParDo side input.

    kind is ``shuffle``, ``combine`` (a GroupByKey inside a combine: runners lift the combiner so
    only partial results cross; the figure is an upper bound) or ``side_input``, named
    ``consumer <- producer``.
    """
    from apache_beam.portability.api import beam_runner_api_pb2

    transforms = proto.components.transforms
    in_combine: set[str] = set()
    todo = [tid for tid, t in transforms.items() if t.spec.urn in _COMBINE_URNS]
    while todo:
        tid = todo.pop()
        in_combine.add(tid)
        todo += transforms[tid].subtransforms
    producer = {pcoll: t.unique_name for t in transforms.values() if not t.subtransforms
                for pcoll in t.outputs.values()}
    found = []
    for tid, t in transforms.items():
        if t.spec.urn == _GBK_URN:
            kind = "combine" if tid in in_combine else "shuffle"
            found += [(kind, t.unique_name, pcoll) for pcoll in t.inputs.values()]
        elif t.spec.urn == _PARDO_URN:
            payload = beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload)
            found += [("side_input", f"{t.unique_name} <- {producer.get(t.inputs[tag], tag)}",
                       t.inputs[tag]) for tag in payload.side_inputs]
    return found


def _output_bytes(output_dir: str, info: dict[str, Any]) -> dict[str, int]:
    files = sum(m["size_bytes"] for m in info["files"].values())
    files += os.path.getsize(os.path.join(output_dir, "dataset_info.json"))
    records = tfrecord_payload = 0
    for split in info["splits"].values():
        for shard in split["shards"].get("tfrecord", []):
            records += shard["num_examples"]
            tfrecord_payload += shard["size_bytes"] - 16 * shard["num_examples"]
    return {"output_bytes": files, "staged_bytes": tfrecord_payload, "examples": records}


def shuffle_profile(config_path: str, output_dir: str) -> dict[str, Any]:
    """Build ``config_path`` into ``output_dir`` in-process (DirectRunner, one worker) and
    return the bytes that crossed shuffles and side inputs, per step and in total."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from curate.build import BuildDataset, prepare_output, read_info
    from curate.config import load_config

    config = load_config(config_path)
    prepare_output(output_dir, overwrite=True)
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"]))
    _ = pipeline | "Build" >> BuildDataset(config, output_dir)
    result = pipeline.run()
    result.wait_until_finish()
    counts, sizes = _pcollection_bytes(result)
    edges = _shuffled_and_side_inputs(pipeline.to_runner_api())
    missing = [p for _, _, p in edges if p not in sizes and counts.get(p)]
    if missing:
        raise RuntimeError(f"no byte counts for PCollections {missing}: graph ids did not match")
    steps: dict[str, dict[str, dict[str, int]]] = {"shuffle": {}, "combine": {}, "side_input": {}}
    for kind, name, pcoll in edges:
        steps[kind][name] = {"elements": counts.get(pcoll, 0),
                             "bytes": round(sizes.get(pcoll, 0.0))}
    info = read_info(output_dir)
    out = _output_bytes(output_dir, info)
    total = {kind: sum(s["bytes"] for s in table.values()) for kind, table in steps.items()}
    shuffle_total, side_total = total["shuffle"], total["side_input"]
    return {
        **out,
        "read": info["counts"]["read"],
        "shuffle_bytes": shuffle_total,
        "side_input_bytes": side_total,
        "combine_input_bytes": total["combine"],
        "shuffle_per_output_byte": shuffle_total / out["output_bytes"],
        "side_input_per_output_byte": side_total / out["output_bytes"],
        "staged_per_output_byte": out["staged_bytes"] / out["output_bytes"],
        "steps": steps,
    }


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _hwm_kb(pid: int) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]), cmd
    return None


def memory_profile(config_path: str, output_dir: str, *, workers: int,
                   timeout_s: float = 900) -> dict[str, Any]:
    """Run ``python -m pipelines.asr_dataset`` with ``--workers`` and record peak RSS per
    process. Returns MB figures for the driver and the largest worker."""
    cmd = [sys.executable, "-m", "pipelines.asr_dataset", "--config", config_path,
           "--output", output_dir, "--workers", str(workers), "--overwrite"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peaks: dict[int, tuple[int, str]] = {}
    try:
        while proc.poll() is None:
            if time.monotonic() - start > timeout_s:
                raise TimeoutError(f"build did not finish within {timeout_s} s")
            for pid in _tree(proc.pid):
                got = _hwm_kb(pid)
                if got and got[0] >= peaks.get(pid, (0, ""))[0]:
                    peaks[pid] = got
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} exited with {proc.returncode}")
    worker_kb = [kb for kb, cmd in peaks.values()
                 if "sdk_worker_main" in cmd and not cmd.startswith("/bin/sh")]
    driver_kb = peaks.get(proc.pid, (0, ""))[0]
    return {
        "workers": workers,
        "wall_s": round(time.monotonic() - start, 1),
        "driver_peak_mb": round(driver_kb / 1024, 1),
        "worker_peak_mb": round(max(worker_kb, default=0) / 1024, 1),
        "worker_processes_seen": len(worker_kb),
        "rusage_children_max_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--target-shard-mb", type=float, default=None,
                        help="override the sample config's shards.target_size_mb")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args(argv)

    import tempfile

    from curate.samples import make_corpus

    work = args.workdir or tempfile.mkdtemp(prefix="curate-measure-")
    corpus = os.path.join(work, "corpus")
    if not os.path.exists(corpus):
        make_corpus(corpus, utterances=args.utterances, seed=args.seed)
    config = os.path.join(corpus, "configs", "librispeech.yaml")
    if args.target_shard_mb is not None:
        import yaml

        data = yaml.safe_load(open(config))
        data["shards"]["target_size_mb"] = args.target_shard_mb
        config = os.path.join(work, f"librispeech-{args.target_shard_mb:g}mb.yaml")
        data["sources"][0]["path"] = os.path.join(corpus, "librispeech")
        yaml.safe_dump(data, open(config, "w"))
    shuffle = shuffle_profile(config, os.path.join(work, "build-shuffle"))
    memory = memory_profile(config, os.path.join(work, "build-memory"), workers=args.workers)
    mb = lambda b: f"{b / 1e6:.2f} MB"
    print(_table([
        ("utterances read / written", f"{shuffle['read']} / {shuffle['examples']}"),
        ("output (all files)", mb(shuffle["output_bytes"])),
        ("staged examples (written + read once)", mb(shuffle["staged_bytes"])),
        ("shuffle (GroupByKey inputs)", mb(shuffle["shuffle_bytes"])),
        ("combine inputs (upper bound, before lifting)", mb(shuffle["combine_input_bytes"])),
        ("side inputs", mb(shuffle["side_input_bytes"])),
        ("shuffle per output byte", f"{shuffle['shuffle_per_output_byte']:.4f}"),
        ("side input per output byte", f"{shuffle['side_input_per_output_byte']:.4f}"),
        ("staged per output byte", f"{shuffle['staged_per_output_byte']:.4f}"),
        ("shuffle bytes per example", f"{shuffle['shuffle_bytes'] / shuffle['examples']:.0f}"),
        (f"peak RSS, largest of {memory['worker_processes_seen']} workers",
         f"{memory['worker_peak_mb']} MB"),
        ("peak RSS, driver", f"{memory['driver_peak_mb']} MB"),
        (f"wall time, --workers {args.workers}", f"{memory['wall_s']} s"),
    ]))
    print()
    for kind in ("shuffle", "combine", "side_input"):
        for name, s in sorted(shuffle["steps"][kind].items(), key=lambda kv: -kv[1]["bytes"]):
            print(f"  {kind:<10} {s['bytes']:>12,d} B {s['elements']:>8,d} el  {name}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"utterances": args.utterances, "target_shard_mb": args.target_shard_mb,
                       "shuffle": shuffle, "memory": memory}, f,
                      indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
