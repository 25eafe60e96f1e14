"""Whisper tiny.en per CPU core: where its CPU seconds go, and decoding settings side by side.

``python -m bench.whisper [--quick] [--out PATH]`` prints the tables and writes a JSON file;
``bench.models`` runs the same measurement as its Whisper row.

* **Settings side by side**, on the bench corpus (the sample generator's 2-15 s utterances, at
  16 kHz): each setting's recogniser loaded once, then rounds that run every setting in turn
  over the same clips (the order rotating), so other jobs on the machine slow them alike; the
  figure is audio seconds per CPU second of this process (one thread), median over rounds.
  ``before`` is the earlier default (fitted windows of at least 10 s, a degenerate decode redone
  in a 30 s window, batches of 4; its token budget is today's, which CTranslate2 used to cut in
  half), ``after`` today's (no floor, the redo in the same window with a repetition guard, one
  utterance at a time).
* **Quality** of each setting: WER on the five real LibriVox clips (Whisper normaliser; corpus
  WER: errors over reference words) and how many of the 20 shuffled pairings score above
  ``max_wer`` 0.3.
* **Profile** of each setting: the CPU seconds per audio second of computing features (numpy,
  faster-whisper's ``FeatureExtractor``), CTranslate2's ``encode`` and its ``generate`` (the
  decoder) for first decodes and for redone ones, timed around each call, and how many decodes
  were degenerate.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["SETTINGS", "run", "table"]

SETTINGS: dict[str, dict[str, Any]] = {
    "before": {"min_window_s": 10, "retry": "padded", "batch_size": 4},
    "no floor, 30 s redo": {"min_window_s": 0, "retry": "padded"},
    "10 s floor, guarded redo": {"min_window_s": 10, "retry": "guarded"},
    "after": {},  # today's defaults: min_window_s 0, retry guarded
    "no redo": {"retry": "none"},
    "batches of 4": {"batch_size": 4},
}
_MAX_WER = 0.3


class _Timed:
    """A CTranslate2 Whisper model whose ``encode`` and ``generate`` add up their CPU time."""

    def __init__(self, model: Any, spent: Counter) -> None:
        self._model, self._spent = model, spent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def encode(self, features: Any, **kw: Any) -> Any:
        started = time.process_time()
        out = self._model.encode(features, **kw)
        self._spent["encode"] += time.process_time() - started
        self._spent["encoded window s"] += features.shape[0] * features.shape[2] / 100
        return out

    def generate(self, encoded: Any, prompts: Any, **kw: Any) -> Any:
        started = time.process_time()
        out = self._model.generate(encoded, prompts, **kw)
        part = "generate (guarded redo)" if kw.get("no_repeat_ngram_size") else "generate"
        self._spent[part] += time.process_time() - started
        return out


def _profile(rec: Any, clips: Sequence[Any]) -> dict[str, Any]:
    """One pass of ``rec`` over ``clips``, every part's CPU seconds counted."""
    spent: Counter = Counter()
    model, features, generate = rec._model, rec._features_for, rec._generate

    def timed_features(samples, frames):
        started = time.process_time()
        out = features(samples, frames)
        spent["features"] += time.process_time() - started
        return out

    def counted_generate(encoded, budgets, repeat_ngram=0):
        out = generate(encoded, budgets, repeat_ngram)
        if not repeat_ngram:
            spent["degenerate decodes"] += sum(bad for _, bad in out)
            spent["decodes"] += len(out)
        return out

    rec._model, rec._features_for, rec._generate = _Timed(model, spent), timed_features, \
        counted_generate
    try:
        started = time.process_time()
        rec.transcribe_batch([x.samples for x in clips])
        spent["total"] = time.process_time() - started
    finally:
        rec._model, rec._features_for, rec._generate = model, features, generate
    return dict(spent)


def _quality(rec: Any, real: dict[str, Any]) -> dict[str, Any]:
    from curate.models.config import TextNorm
    from curate.models.wer import score

    keys = sorted(real)
    hyps = rec.transcribe_batch([real[k].samples for k in keys])
    scores = [score(real[k].transcript, h, TextNorm.WHISPER) for k, h in zip(keys, hyps)]
    shuffled = [score(real[o].transcript, hyps[i], TextNorm.WHISPER).wer
                for i, k in enumerate(keys) for o in keys if o != k]
    return {"librivox_wer": sum(s.word_errors for s in scores) / sum(s.ref_words for s in scores),
            "shuffled_rejected": sum(w > _MAX_WER for w in shuffled),
            "shuffled_pairs": len(shuffled), "shuffled_min_wer": min(shuffled)}


def run(quick: bool, settings: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Measure every setting (see the module docstring) on the bench corpus."""
    from bench.signals import _bench_corpus
    from curate.models.whisper import WhisperRecognizer
    from tests.curate.models import speech

    settings = settings or SETTINGS
    n, rounds = (8, 1) if quick else (40, 3)
    clips = [x for _, x in _bench_corpus(200 if quick else 1000)[:n]]
    audio_s = float(sum(x.duration_s for x in clips))
    real = speech.librivox() if speech.has_librivox() else {}
    recs = {name: WhisperRecognizer(**opts) for name, opts in settings.items()}
    load_before = os.getloadavg()[0]
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    cpus: dict[str, list[float]] = {name: [] for name in settings}
    names = list(settings)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t = time.process_time()
            recs[name].transcribe_batch([x.samples for x in clips])
            cpus[name].append(time.process_time() - t)
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    out: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "corpus": {"utterances": n, "audio_s": audio_s, "rounds": rounds},
        "load_average_1min": [load_before, os.getloadavg()[0]],
        "background_cores": round(max(0.0, max(load_before, os.getloadavg()[0]) - cpu / wall), 2),
        "settings": {},
    }
    for name, rec in recs.items():
        median = statistics.median(cpus[name])
        out["settings"][name] = {
            "options": settings[name], "model_id": rec.model_id, "describe": rec.describe(),
            "cpu_s": cpus[name], "audio_s_per_cpu_s": audio_s / median,
            "cpu_hours_per_1000_audio_hours": 1000.0 * median / audio_s,
            "profile": _profile(rec, clips),
            **(_quality(rec, real) if real else {}),
        }
    first = out["settings"].get("before")
    if first:
        for m in out["settings"].values():
            m["speedup_vs_before"] = m["audio_s_per_cpu_s"] / first["audio_s_per_cpu_s"]
    return out


def table(r: dict[str, Any]) -> str:
    c = r["corpus"]
    rows = [f"Whisper tiny.en (int8, 1 thread, greedy) on {c['utterances']} bench-corpus clips, "
            f"{c['audio_s']:.0f} s of audio, median of {c['rounds']} rounds; load average "
            f"{r['load_average_1min'][0]:.1f} -> {r['load_average_1min'][1]:.1f}, others' "
            f"load {r['background_cores']} cores",
            "",
            "| setting | audio s per CPU s | vs before | LibriVox WER | shuffled rejected | "
            "CPU h per 1 000 h |",
            "|---|---|---|---|---|---|"]
    for name, m in r["settings"].items():
        rows.append(f"| {name} ({m['describe']['min_window_s']} s floor, redo "
                    f"{m['describe']['retry']}) | {m['audio_s_per_cpu_s']:.1f} | "
                    f"x{m.get('speedup_vs_before', 1.0):.2f} | "
                    f"{m.get('librivox_wer', float('nan')):.3f} | "
                    f"{m.get('shuffled_rejected', 0)} of {m.get('shuffled_pairs', 0)} | "
                    f"{m['cpu_hours_per_1000_audio_hours']:.0f} |")
    rows += ["", "| setting | features | encode | generate | generate (guarded redo) | "
             "rest (Python, tokenizer) | encoded window s per audio s | degenerate decodes |",
             "|---|---|---|---|---|---|---|---|"]
    for name, m in r["settings"].items():
        p = m["profile"]
        per = {k: 1000.0 * p.get(k, 0.0) / c["audio_s"] for k in
               ("features", "encode", "generate", "generate (guarded redo)", "total")}
        rest = per["total"] - sum(v for k, v in per.items() if k != "total")
        rows.append(f"| {name} | {per['features']:.1f} | {per['encode']:.1f} | "
                    f"{per['generate']:.1f} | {per['generate (guarded redo)']:.1f} | {rest:.1f} | "
                    f"{p.get('encoded window s', 0) / c['audio_s']:.2f} | "
                    f"{p.get('degenerate decodes', 0)} of {p.get('decodes', 0)} |")
    rows.append("\n(profile: CPU ms per audio second, one pass)")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.common import measure_main

    return measure_main(argv, prog="python -m bench.whisper", doc=__doc__, quick_help="8 clips, one round",
                        default_out="whisper_results.json", run=run, table=table)


if __name__ == "__main__":
    sys.exit(main())
