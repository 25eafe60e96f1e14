"""Throughput of the signal models per CPU core, and of ``ComputeModelSignals`` on Beam.

``run(quick)`` returns a dict (the caller writes it into ``bench/results.json``);
``python -m bench.models [--quick] [--out PATH]`` prints a table and writes a JSON file itself.

What is measured, on real read speech (the LibriVox utterances of Debian's
``pocketsphinx-testdata``; espeak-ng sentences where that is missing), repeated to a corpus of
``utterances`` inputs:

* **per model** (Silero VAD, PocketSphinx ASR + scoring, lingua language ID, DNSMOS; where
  DNSMOS's time goes: ``python -m bench.dnsmos``): one thread, a plain
  loop over the corpus calling what the RunInference handler calls per input. Throughput is
  audio seconds per CPU second of this process (= per core: each model runs single-threaded),
  median over rounds, and per wall second for reference. Load time is measured once.
* **ASR on two threads** (full mode): the same corpus split over two threads sharing one loaded
  recogniser, as RunInference shares a model among a worker's threads: the speed-up over one
  thread says whether the decoder releases the GIL.
* **Beam**: all three models through ``ComputeModelSignals`` on the DirectRunner (in-memory,
  one worker) against the direct loop with all three models, wall time excluding model load.
* **Whisper** (``bench.whisper``): its decoding settings side by side on the bench corpus
  (2-15 s clips), before and after, with their WER on the real clips and a CPU profile.
* **CPU hours per 1 000 hours of audio** of every signal on the bench corpus
  (``bench.signal_costs``).

Absolute figures move with the other load on the shared machine (``background_cores``).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["run"]

_LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox"
_SENTENCES = (
    "the weather was cold and the wind blew across the empty fields all morning",
    "she opened the old wooden door and walked slowly into the quiet garden",
    "after dinner they sat by the fire and talked about the long journey ahead",
)
_CANDIDATES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "ru", "tr", "ar", "zh", "ja", "ko")


def _corpus(n: int) -> tuple[list[Any], str]:
    """``n`` ModelInputs cycling over the real speech available, and where it came from."""
    import soundfile as sf

    from curate.models.records import ModelInput

    base: list[ModelInput] = []
    if os.path.isfile(os.path.join(_LIBRIVOX, "transcription")):
        with open(os.path.join(_LIBRIVOX, "transcription"), encoding="utf-8") as f:
            for line in f:
                m = re.match(r"^<s>(.*)</s>\s*\((\S+)\)\s*$", line.strip())
                if m:
                    audio, rate = sf.read(os.path.join(_LIBRIVOX, f"{m.group(2)}.wav"),
                                          dtype="float32")
                    base.append(ModelInput.from_audio(audio, sample_rate_hz=rate,
                                                      transcript=m.group(1).strip()))
        source = "pocketsphinx-testdata LibriVox"
    elif shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as tmp:
            for i, text in enumerate(_SENTENCES):
                path = os.path.join(tmp, f"{i}.wav")
                subprocess.run(["espeak-ng", "-v", "en-us", "-w", path, text], check=True)
                audio, rate = sf.read(path, dtype="float32")
                base.append(ModelInput.from_audio(audio, sample_rate_hz=rate, transcript=text))
        source = "espeak-ng en-us"
    else:
        raise RuntimeError("no speech: install pocketsphinx-testdata or espeak-ng "
                           "(tests/curate/models/install_speech.sh)")
    return [base[i % len(base)] for i in range(n)], source


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _background_cores(cpu_s: float, wall_s: float, load_before: float) -> float:
    """Others' load while we ran: the 1-minute load average less our own busy cores."""
    load = max(load_before, os.getloadavg()[0])
    return round(max(0.0, load - cpu_s / wall_s), 2) if wall_s > 0 else 0.0


def _per_model(loaded, corpus: Sequence[Any], audio_s: float, rounds: int) -> dict[str, Any]:
    walls, cpus = [], []
    load_before = os.getloadavg()[0]
    for _ in range(rounds):
        wall, cpu = _timed(lambda: [loaded.compute(x) for x in corpus])
        walls.append(wall)
        cpus.append(cpu)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    (model,) = loaded.loaded.values()
    return {
        "model_id": model.model_id,
        "audio_s_per_cpu_s": audio_s / cpu,
        "audio_s_per_wall_s": audio_s / wall,
        "utterances_per_cpu_s": len(corpus) / cpu,
        "cpu_s": cpu,
        "wall_s": wall,
        "background_cores": _background_cores(cpu, wall, load_before),
    }


def _asr_threads(loaded, corpus: Sequence[Any], audio_s: float) -> dict[str, Any]:
    def work(part: Sequence[Any]) -> None:
        for x in part:
            loaded.compute(x)

    one, _ = _timed(lambda: work(corpus))
    threads = [threading.Thread(target=work, args=(corpus[i::2],)) for i in range(2)]

    def both() -> None:
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    two, _ = _timed(both)
    return {"one_thread_audio_s_per_s": audio_s / one, "two_threads_audio_s_per_s": audio_s / two,
            "speedup": one / two}


def _beam(cfg, corpus: Sequence[Any], audio_s: float, direct_wall_s: float) -> dict[str, Any]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from curate.models.transform import SIGNALS, ComputeModelSignals, LoadedModels

    load_s, _ = _timed(lambda: LoadedModels(cfg))  # what each worker pays once, before data
    options = PipelineOptions(runner="DirectRunner", direct_running_mode="in_memory",
                              direct_num_workers=1)
    inputs = [(f"u{i:06d}", x) for i, x in enumerate(corpus)]

    def pipeline() -> None:
        with beam.Pipeline(options=options) as p:
            out = p | beam.Create(inputs, reshuffle=False) | ComputeModelSignals(cfg)
            _ = out[SIGNALS] | beam.combiners.Count.Globally()

    wall, cpu = _timed(pipeline)
    steady = max(wall - load_s, 1e-9)
    return {
        "wall_s": wall,
        "model_load_s": load_s,
        "audio_s_per_s_excluding_load": audio_s / steady,
        "direct_audio_s_per_s": audio_s / direct_wall_s,
        "beam_vs_direct": direct_wall_s / steady,
        "cpu_s": cpu,
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure; return every figure (see the module docstring). Raises ``RuntimeError`` when the
    ``signals`` extra or any speech to measure on is missing."""
    from curate.models.config import ModelSignalsConfig
    from curate.models.transform import LoadedModels

    utterances, rounds = (2, 1) if quick else (20, 3)
    corpus, source = _corpus(utterances)
    audio_s = sum(x.duration_s for x in corpus)
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "corpus": {"source": source, "utterances": len(corpus), "audio_s": audio_s},
        "models": {},
    }
    cfg = ModelSignalsConfig.model_validate({
        # PocketSphinx, as the figures in README were measured; Whisper: python -m bench.signals
        "vad": {"enabled": True}, "asr": {"enabled": True, "recognizer": "pocketsphinx"},
        "langid": {"enabled": True, "candidates": list(_CANDIDATES)},
    })
    alone = {name: getattr(cfg, name).model_dump() for name in cfg.enabled}
    alone["dnsmos"] = {"enabled": True}  # its own row; not in the three-model Beam run below
    for name, model_cfg in alone.items():  # each model alone: a config with only it enabled
        only = ModelSignalsConfig.model_validate({name: model_cfg})
        started = time.perf_counter()
        loaded = LoadedModels(only)
        load_s = time.perf_counter() - started
        results["models"][name] = {"load_s": load_s, **_per_model(loaded, corpus, audio_s, rounds)}
        if name == "asr" and not quick:
            results["models"][name]["threads"] = _asr_threads(loaded, corpus, audio_s)
    direct = LoadedModels(cfg)
    direct_wall, _ = _timed(lambda: [direct.compute(x) for x in corpus])
    results["beam"] = _beam(cfg, corpus, audio_s, direct_wall)
    from bench import signal_costs, whisper

    results["whisper"] = whisper.run(quick)
    results["signal_costs"] = signal_costs.run(quick, results["whisper"])
    return results


def table(results: dict[str, Any]) -> str:
    rows = ["| model | audio s per CPU s (1 core) | audio s per wall s | load s | others' load |",
            "|---|---|---|---|---|"]
    for name, m in results["models"].items():
        rows.append(f"| {name}: {m['model_id']} | {m['audio_s_per_cpu_s']:.1f} | "
                    f"{m['audio_s_per_wall_s']:.1f} | {m['load_s']:.2f} | "
                    f"{m['background_cores']:.2f} |")
    b = results["beam"]
    rows.append(f"| all three, direct loop | | {b['direct_audio_s_per_s']:.1f} | | |")
    rows.append(f"| all three, ComputeModelSignals (DirectRunner, 1 worker) | | "
                f"{b['audio_s_per_s_excluding_load']:.1f} (x{b['beam_vs_direct']:.2f} of direct) | "
                f"{b['model_load_s']:.2f} | |")
    threads = results["models"].get("asr", {}).get("threads")
    if threads:
        rows.append(f"| asr on 2 threads, one shared recogniser | | "
                    f"{threads['two_threads_audio_s_per_s']:.1f} (x{threads['speedup']:.2f} of "
                    "1 thread) | | |")
    from bench import signal_costs, whisper

    c = results["corpus"]
    return f"{c['utterances']} utterances, {c['audio_s']:.1f} s of audio ({c['source']})\n\n" + \
        "\n".join(rows) + "\n\n" + whisper.table(results["whisper"]) + "\n\n" + \
        signal_costs.table(results["signal_costs"])


def main(argv: Sequence[str] | None = None) -> int:
    from bench.common import measure_main

    return measure_main(argv, prog="python -m bench.models", doc=__doc__, quick_help="2 utterances, one round",
                        default_out="models_results.json", run=run, table=table)


if __name__ == "__main__":
    sys.exit(main())
