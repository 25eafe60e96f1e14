"""The whole build with every signal model on against the same build without them.

``python -m bench.signals_build [--copies K] [--rounds R] [--out PATH]`` writes a NeMo manifest
corpus of real read speech (the LibriVox utterances of Debian's ``pocketsphinx-testdata``, each
repeated ``K`` times at slightly different gains so dedupe keeps them all), builds it on the
DirectRunner (1 worker, in memory) with and without a ``signals:`` section (VAD + ASR agreement +
language ID), alternating the two in each round, and reports audio seconds per wall second of
each and their ratio, model loading included. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from typing import Any

import soundfile as sf
import yaml

_LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox"
_SIGNALS = {
    "vad": {"enabled": True},
    # measure only: every input is kept; PocketSphinx, as the README's figures were measured
    "asr": {"enabled": True, "recognizer": "pocketsphinx", "max_wer": None},
    "langid": {"enabled": True, "languages": ["en"]},
}


def _corpus(root: str, copies: int) -> float:
    """Write the corpus and the two configs under ``root``; returns its audio seconds."""
    rows, total_s = [], 0.0
    with open(os.path.join(_LIBRIVOX, "transcription"), encoding="utf-8") as f:
        entries = [m.groups() for line in f if (m := re.match(r"^<s>(.*)</s>\s*\((\S+)\)", line))]
    for text, key in entries:
        audio, rate = sf.read(os.path.join(_LIBRIVOX, f"{key}.wav"), dtype="float32")
        for copy in range(copies):
            name = f"{key}-{copy:03d}"
            sf.write(os.path.join(root, f"{name}.wav"), audio * (1.0 - 0.003 * copy), rate,
                     subtype="PCM_16")
            rows.append({"audio_filepath": f"{name}.wav", "text": text.strip(), "speaker": name})
            total_s += len(audio) / rate
    with open(os.path.join(root, "manifest.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    base = {"name": "signals-bench", "sources": [{"kind": "jsonl", "path": "manifest.jsonl"}],
            "filters": {"max_silence_ratio": 1.0}, "splits": {"by": "key", "ratios": {"train": 1.0}}}
    for name, extra in (("off", {}), ("on", {"signals": _SIGNALS})):
        with open(os.path.join(root, f"{name}.yaml"), "w") as f:
            yaml.safe_dump({**base, **extra}, f)
    return total_s


def run(*, copies: int = 8, rounds: int = 2) -> dict[str, Any]:
    from curate.launch import run_build as build

    if not os.path.isfile(os.path.join(_LIBRIVOX, "transcription")):
        raise SystemExit("needs Debian's pocketsphinx-testdata (tests/curate/models/install_speech.sh)")
    with tempfile.TemporaryDirectory(prefix="curate-signals-bench-") as root:
        audio_s = _corpus(root, copies)
        walls: dict[str, list[float]] = {"off": [], "on": []}
        for r in range(rounds):
            for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
                out = os.path.join(root, f"out-{mode}-{r}")
                start = time.perf_counter()
                info = build(os.path.join(root, f"{mode}.yaml"), out, workers=1, say=lambda _: None)
                walls[mode].append(time.perf_counter() - start)
                assert info["counts"]["accepted"] == info["counts"]["read"]
    speed = {m: audio_s / statistics.median(w) for m, w in walls.items()}
    return {
        "utterances": copies * 5,
        "audio_s": round(audio_s, 2),
        "wall_s": walls,
        "audio_s_per_wall_s": {m: round(v, 2) for m, v in speed.items()},
        "ratio_on_vs_off": round(speed["on"] / speed["off"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "signals_results.json"))
    args = parser.parse_args()
    result = run(copies=args.copies, rounds=args.rounds)
    print(f"{'build':<22} {'audio s / wall s':>17}")
    for mode, label in (("off", "cheap signals only"), ("on", "+ VAD, ASR, language ID")):
        print(f"{label:<22} {result['audio_s_per_wall_s'][mode]:>17.2f}")
    print(f"ratio on/off: {result['ratio_on_vs_off']:.3f}  "
          f"({result['utterances']} utterances, {result['audio_s']:.0f} s of read speech)")
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
