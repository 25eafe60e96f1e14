"""``python -m bench.audio_read [--quick] [--out PATH]``: reading audio whole vs lazily.

The decode stage used to read every file whole into memory and decode all of it before the
duration filter (issue 16: a 691 MB file rejected as too long peaked at 1.6 GB). It now opens
the file with ``curate.audio.open_audio`` (in memory up to ``WHOLE_READ_BYTES``, lazily above),
checks the header's duration against ``max_duration_s``, and decodes only the wanted range.
Measured side by side in one run ("before": ``read_bytes`` then a whole decode, as it was):

1. throughput over the same short files (what a normal corpus costs), in alternating rounds;
2. the peak memory (VmHWM of a fresh child process, above what its imports take) of rejecting
   one long file as too long;
3. the time of decoding a few short segments of that long recording (Kaldi ``segments``, NeMo
   ``offset``): before, every segment read the whole file.

Prints a table and writes ``bench/audio_read.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

from bench.common import repo_root

_CHILD = """
import sys
import soundfile, soxr  # every way loads these and Beam's filesystems (a pipeline has them)
import curate.fsio
from curate import audio
uri, way = sys.argv[1], sys.argv[2]
try:
    if way == "import only":
        pass
    elif way == "whole":
        decoded = audio.decode(audio.read_bytes(uri), uri=uri)
        assert decoded.duration_s > 30.0  # then the filter would reject it as too long
    else:
        with audio.open_audio(uri) as f:
            audio.decode(f, uri=uri, max_duration_s=30.0)
except audio.InputRejected as e:
    assert e.reason.value == "too_long", e
with open("/proc/self/status") as f:  # VmHWM: this process's peak (ru_maxrss keeps the parent's)
    print(next(line.split()[1] for line in f if line.startswith("VmHWM:")))
"""


def _speech(seconds: float, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    env = np.clip(np.sin(2 * np.pi * 3 * t), 0.05, None)
    return (0.3 * env * rng.standard_normal(t.size)).astype(np.float32)


def _whole(uri: str) -> int:
    from curate import audio

    return audio.decode(audio.read_bytes(uri), uri=uri).frames


def _lazy(uri: str) -> int:
    from curate import audio

    with audio.open_audio(uri) as f:
        return audio.decode(f, uri=uri, max_duration_s=30.0).frames


def throughput(files: list[str], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"whole": [], "lazy": []}
    ways = [("whole", _whole), ("lazy", _lazy)]
    for i in range(rounds):
        for way, fn in ways if i % 2 == 0 else ways[::-1]:  # alternate who goes first
            start = time.perf_counter()
            for uri in files:
                fn(uri)
            times[way].append(time.perf_counter() - start)
    best = {way: min(t) for way, t in times.items()}
    return {
        "files": len(files),
        "whole_files_per_s": len(files) / best["whole"],
        "lazy_files_per_s": len(files) / best["lazy"],
        "lazy_over_whole": best["whole"] / best["lazy"],
        "rounds": rounds,
        "whole_s_median": statistics.median(times["whole"]),
        "lazy_s_median": statistics.median(times["lazy"]),
    }


def segments(uri: str, count: int) -> dict[str, float]:
    from curate import audio

    spans = [(60.0 * i + 1.0, 60.0 * i + 6.0) for i in range(count)]
    out = {}
    for way in ("whole", "lazy"):
        start = time.perf_counter()
        for s, e in spans:
            if way == "whole":
                audio.decode(audio.read_bytes(uri), uri=uri, start_s=s, end_s=e)
            else:
                with audio.open_audio(uri) as f:
                    audio.decode(f, uri=uri, start_s=s, end_s=e, max_duration_s=30.0)
        out[f"{way}_s"] = time.perf_counter() - start
    out["segments"] = count
    out["lazy_over_whole"] = out["lazy_s"] / out["whole_s"]
    return out


def peak_rss(uri: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": repo_root()}
    out = {}
    for way in ("import only", "whole", "lazy"):
        proc = subprocess.run([sys.executable, "-c", _CHILD, uri, way], capture_output=True,
                              text=True, check=True, env=env)
        out[f"{way.replace(' ', '_')}_peak_mb"] = int(proc.stdout.split()[-1]) / 1024  # kB
    out["file_mb"] = os.path.getsize(uri) / 1e6
    base = out["import_only_peak_mb"]
    out["whole_above_imports_mb"] = out["whole_peak_mb"] - base
    out["lazy_above_imports_mb"] = out["lazy_peak_mb"] - base
    out["lazy_over_whole"] = out["lazy_above_imports_mb"] / out["whole_above_imports_mb"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audio_read")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=os.path.join(repo_root(), "bench", "audio_read.json"))
    args = parser.parse_args(argv)
    n, rounds, long_min = (20, 2, 2.0) if args.quick else (200, 6, 20.0)
    with tempfile.TemporaryDirectory(prefix="curate-bench-read-") as tmp:
        files = []
        for i in range(n):  # 8 s at 44.1 kHz, as LibriSpeech-like corpora are often re-encoded
            path = os.path.join(tmp, f"u{i:04d}.flac")
            sf.write(path, _speech(8.0, 44100, i), 44100, subtype="PCM_16")
            files.append(path)
        long = os.path.join(tmp, "long.wav")  # 48 kHz stereo 16-bit: 11.5 MB a minute
        with sf.SoundFile(long, "w", 48000, 2, subtype="PCM_16") as out:
            for minute in range(int(long_min)):
                out.write(np.repeat(_speech(60.0, 48000, minute)[:, None], 2, axis=1))
        results = {"throughput": throughput(files, rounds), "too_long_file": peak_rss(long),
                   "segments": segments(long, 2 if args.quick else 10),
                   "quick": args.quick}
    t, m, g = results["throughput"], results["too_long_file"], results["segments"]
    print("| measure | whole file (before) | lazy reader (now) | ratio now/before |")
    print("|---|---|---|---|")
    print(f"| decode {t['files']} files of 8 s (best of {t['rounds']}) | "
          f"{t['whole_files_per_s']:.1f} files/s | {t['lazy_files_per_s']:.1f} files/s | "
          f"{t['lazy_over_whole']:.2f} |")
    print(f"| peak RSS rejecting a {m['file_mb']:.0f} MB file as too long, above the "
          f"{m['import_only_peak_mb']:.0f} MB of the imports | {m['whole_above_imports_mb']:.0f} MB"
          f" | {m['lazy_above_imports_mb']:.1f} MB | {m['lazy_over_whole']:.3f} |")
    print(f"| decode {g['segments']} segments of 5 s from that file | {g['whole_s']:.2f} s | "
          f"{g['lazy_s']:.3f} s | {g['lazy_over_whole']:.3f} |")
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
