"""Measure the memory of summarizing a split from its manifest files: the streaming summary the
build uses (a file at a time, only the columns it needs) against holding every row of the split
(what the build did before the manifest was merged in parts), side by side on the same files.

``python -m bench.measure_manifest --rows 200000 [--rows-per-part 1300] [--json out.json]``
writes ``rows`` synthetic manifest rows (LibriSpeech-like text, URIs and hashes; no audio) as
per-shard manifest files of ``rows-per-part`` rows (as the build writes them, layout 3), then
in a fresh process per method summarizes them and reports that process's peak resident memory
(``VmHWM``) above what it held after its imports, per example.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

__all__ = ["make_parts", "measure"]

_WORDS = ("the of and to a in that he was it his is with as had for you her on at by not be this "
          "but she which from have or they all one were so said him an my there would when").split()


def make_parts(directory: str, rows: int, rows_per_part: int) -> list[str]:
    import numpy as np

    from curate.build_info import manifest_schema, write_shard_manifest

    rng = np.random.default_rng(0)
    import pyarrow as pa

    fields = {f.name: f.type for f in manifest_schema()}
    paths = []
    for part, start in enumerate(range(0, rows, rows_per_part)):
        n = min(rows_per_part, rows - start)
        spk = rng.integers(0, 10_000, size=n)
        words = rng.integers(0, len(_WORDS), size=(n, 32))
        out = []
        for i in range(n):
            key = f"{spk[i]}-{spk[i] * 40 + i % 40}-{start + i:07d}"
            row = {f: f"{f}-{start + i}" if pa.types.is_string(t) else float(rng.uniform(1, 20))
                   for f, t in fields.items()}
            row.update(
                key=key, speaker=str(spk[i]), text=" ".join(_WORDS[w] for w in words[i]),
                shard=part, position=i, num_samples=16000 * 12, sample_rate_hz=16000,
                audio_sha256=f"{start + i:064x}", pcm_sha256=f"{start + i + 1:064x}",
                source_uri="s3://speech-corpora/librispeech/LibriSpeech/train-other-500",
                audio_uri=f"s3://speech-corpora/librispeech/LibriSpeech/train-other-500/{key}.flac",
            )
            out.append(row)
        written = write_shard_manifest(directory, "train", part, out)
        paths.append(os.path.join(directory, written.path))
    return paths


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _run(method: str, parts_file: str, out_dir: str) -> dict:
    """In this (fresh) process: summarize the files with ``method``; peak memory above
    baseline."""
    import pyarrow.parquet as pq

    from curate.build_info import summarize_manifest
    from curate.stats import summarize_split

    with open(parts_file) as f:
        parts = json.load(f)
    baseline = _rss_kb("VmRSS:")
    start = time.monotonic()
    if method == "stream":
        summary = summarize_manifest(parts)
    else:  # every row of the split in memory as dicts: the old WriteManifest
        rows = [r for p in parts for r in pq.read_table(p).to_pylist()]
        summary = summarize_split({name: [r[name] for r in rows] for name in rows[0]})
    return {"method": method, "rows": summary["num_examples"],
            "seconds": round(time.monotonic() - start, 2),
            "peak_above_baseline_mb": round((_rss_kb("VmHWM:") - baseline) / 1024, 1)}


def measure(rows: int, rows_per_part: int) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="curate-manifest-") as work:
        parts = make_parts(work, rows, rows_per_part)
        parts_file = os.path.join(work, "parts.json")
        with open(parts_file, "w") as f:
            json.dump(parts, f)
        results = []
        for method in ("stream", "all_rows"):
            out = subprocess.run(
                [sys.executable, "-m", "bench.measure_manifest", "--run", method, parts_file,
                 os.path.join(work, method)],
                check=True, capture_output=True, text=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["bytes_per_example"] = round(result["peak_above_baseline_mb"] * 2**20 / rows)
            results.append(result)
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rows-per-part", type=int, default=1300)
    parser.add_argument("--json", default=None)
    parser.add_argument("--run", nargs=3, metavar=("METHOD", "PARTS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(_run(*args.run)))
        return 0
    results = measure(args.rows, args.rows_per_part)
    print(f"{args.rows} rows in parts of {args.rows_per_part}:")
    print("| method | peak memory above baseline | per example | time |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['method']} | {r['peak_above_baseline_mb']} MB | {r['bytes_per_example']} B "
              f"| {r['seconds']} s |")
    stream, old = results
    print(f"ratio all_rows / stream: {old['peak_above_baseline_mb'] / max(stream['peak_above_baseline_mb'], 0.1):.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": args.rows, "rows_per_part": args.rows_per_part, "results": results}, f,
                      indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
