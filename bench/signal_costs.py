"""CPU hours per 1 000 hours of audio for every signal, on the bench corpus, one core each.

Each signal runs alone over the same bench-corpus clips (the sample generator's 2-15 s
utterances, at 16 kHz), calling what its RunInference handler or DoFn calls per input, on one
thread; its cost is this process's CPU seconds over the clips' audio seconds. Language ID reads
the transcripts, not the audio: its cost is still per second of the audio they belong to.
PocketSphinx runs on fewer clips (it is about ten times slower than the rest put together).
Whisper's figure comes from ``bench.whisper`` (settings side by side), passed in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["run", "table"]

_CANDIDATES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "ru", "tr", "ar", "zh", "ja", "ko")


def _cost(clips: Sequence[Any], each: Callable[[Any], Any]) -> dict[str, Any]:
    audio_s = float(sum(x.duration_s for x in clips))
    started = time.process_time()
    for x in clips:
        each(x)
    cpu = time.process_time() - started
    return {"utterances": len(clips), "audio_s": audio_s, "cpu_s": cpu,
            "audio_s_per_cpu_s": audio_s / cpu,
            "cpu_hours_per_1000_audio_hours": 1000.0 * cpu / audio_s}


def run(quick: bool, whisper: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every signal's cost (see the module docstring); ``whisper``: ``bench.whisper.run``'s."""
    from bench.signals import _bench_corpus
    from curate.bandwidth import effective_bandwidth_hz
    from curate.fingerprint import fingerprint
    from curate.models.asr import PocketSphinxRecognizer
    from curate.models.config import LangIdConfig, VadConfig
    from curate.models.dnsmos import Dnsmos
    from curate.models.langid import LanguageIdentifier
    from curate.models.records import MODEL_RATE_HZ
    from curate.models.vad import SileroVad

    n, n_sphinx = (8, 3) if quick else (40, 10)
    clips = [x for _, x in _bench_corpus(200 if quick else 1000)[:n]]
    load_before = os.getloadavg()[0]
    vad = SileroVad.load(VadConfig(enabled=True))
    sphinx = PocketSphinxRecognizer()
    dnsmos = Dnsmos.load()
    langid = LanguageIdentifier.load(LangIdConfig(enabled=True, candidates=list(_CANDIDATES)))
    out: dict[str, Any] = {
        "Silero VAD": _cost(clips, lambda x: vad.detect(x.samples)),
        "PocketSphinx en-US (ASR)": _cost(clips[:n_sphinx],
                                          lambda x: sphinx.transcribe(x.samples)),
        "DNSMOS P.835 + P.808": _cost(clips, lambda x: dnsmos.score(x.samples)),
        "effective bandwidth": _cost(clips, lambda x: effective_bandwidth_hz(x.samples,
                                                                             MODEL_RATE_HZ)),
        "near-duplicate fingerprint": _cost(clips, lambda x: fingerprint(x.samples)),
        "language ID (lingua, transcript)": _cost(clips, lambda x: langid.identify(x.transcript)),
    }
    for name, m in (whisper or {}).get("settings", {}).items():
        if name in ("before", "after"):
            out[f"Whisper tiny.en (ASR), {name}"] = {
                "utterances": whisper["corpus"]["utterances"], "audio_s": whisper["corpus"][
                    "audio_s"], "audio_s_per_cpu_s": m["audio_s_per_cpu_s"],
                "cpu_hours_per_1000_audio_hours": m["cpu_hours_per_1000_audio_hours"]}
    return {"signals": out, "load_average_1min": [load_before, os.getloadavg()[0]]}


def table(r: dict[str, Any]) -> str:
    rows = ["| signal | clips | audio s per CPU s | CPU hours per 1 000 h of audio |",
            "|---|---|---|---|"]
    for name, m in r["signals"].items():
        rows.append(f"| {name} | {m['utterances']} | {m['audio_s_per_cpu_s']:.1f} | "
                    f"{m['cpu_hours_per_1000_audio_hours']:.1f} |")
    load = r["load_average_1min"]
    return "\n".join(rows) + f"\n\n(load average {load[0]:.1f} -> {load[1]:.1f})"
