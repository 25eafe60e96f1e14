"""``CARD.md``: the dataset card a person reads, written from the build's own numbers.

Deterministic (no dates, no hostnames): it is part of the build and of its fingerprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_card"]

_SIGNAL_LABELS = {
    "duration_s": "duration (s)",
    "rms_dbfs": "RMS level (dBFS)",
    "peak_dbfs": "peak level (dBFS)",
    "clipping_ratio": "clipped samples (share)",
    "silence_ratio": "silent frames (share)",
    "snr_db": "SNR, WADA (dB)",
    "chars_per_s": "characters per second",
    "words_per_s": "words per second",
    "vad_speech_ratio": "speech (share, Silero VAD)",
    "asr_wer": "WER against the ASR hypothesis",
    "asr_cer": "CER against the ASR hypothesis",
    "langid_confidence": "language ID confidence",
    "bandwidth_hz": "effective bandwidth (Hz)",
    "dnsmos_sig": "DNSMOS SIG (speech)",
    "dnsmos_bak": "DNSMOS BAK (background)",
    "dnsmos_ovrl": "DNSMOS OVRL (overall quality)",
    "dnsmos_p808": "DNSMOS P.808 MOS",
}


def _bar(count: int, most: int, width: int = 24) -> str:
    return "#" * (round(width * count / most) if most else 0)


def render_card(
    *,
    name: str,
    counts: Mapping[str, int],
    rejected_by_reason: Mapping[str, int],
    stats: Mapping[str, Any],
    audio: Mapping[str, Any],
    models: Mapping[str, Any] | None,
) -> str:
    """The card's Markdown text."""
    splits = stats["splits"]
    lines = [
        f"# {name}",
        "",
        f"{counts['accepted']} examples accepted of {counts['read']} inputs read "
        f"({counts['rejected']} rejected). Audio: {audio['sample_rate_hz']} Hz, "
        f"{audio['channels']} channel(s), {audio['codec']}.",
        "",
        "| split | examples | speakers | hours |",
        "|---|---:|---:|---:|",
    ]
    for split, s in splits.items():
        lines.append(f"| {split} | {s['num_examples']} | {s['num_speakers']} | {s['hours']:.3f} |")
    if rejected_by_reason:
        lines += ["", "## Rejected inputs", "", "| reason | inputs |", "|---|---:|"]
        for reason, n in sorted(rejected_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"| `{reason}` | {n} |")
    if models:
        lines += ["", "## Signal models", ""]
        lines += [f"- {m}: `{d.get('model_id', '?')}`" for m, d in sorted(models.items())]
    lines += ["", "## Signals (all splits)", "",
              "| signal | p05 | median | p95 | mean |", "|---|---:|---:|---:|---:|"]
    merged = _merge(splits)
    for signal, summary in merged.items():
        lines.append(f"| {_SIGNAL_LABELS.get(signal, signal)} | {summary['p05']:.3g} | "
                     f"{summary['p50']:.3g} | {summary['p95']:.3g} | {summary['mean']:.3g} |")
    for signal in ("duration_s", "snr_db", "vad_speech_ratio", "bandwidth_hz", "dnsmos_ovrl",
                   "asr_wer"):
        hist = _histogram(splits, signal)
        if hist is None:
            continue
        edges, counts_ = hist
        most = max(counts_)
        lines += ["", f"### {_SIGNAL_LABELS[signal]}", "", "```"]
        for lo, hi, n in zip(edges, edges[1:], counts_):
            if n:
                lines.append(f"{lo:>7.3g} .. {hi:<7.3g} {n:>7} {_bar(n, most)}")
        lines.append("```")
    return "\n".join(lines) + "\n"


def _merge(splits: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per signal, the example-weighted mean of the splits' quantiles (an approximation that
    says so) and means; the exact per-split figures are in stats.json."""
    out: dict[str, dict[str, float]] = {}
    for s in splits.values():
        for signal, summary in s["signals"].items():
            if summary.get("count"):
                acc = out.setdefault(signal, {"n": 0, "p05": 0.0, "p50": 0.0, "p95": 0.0, "mean": 0.0})
                n = summary["count"]
                acc["n"] += n
                for k in ("p05", "p50", "p95", "mean"):
                    acc[k] += summary[k] * n
    return {sig: {k: v / acc["n"] for k, v in acc.items() if k != "n"} for sig, acc in out.items()}


def _histogram(splits: Mapping[str, Any], signal: str) -> tuple[list[float], list[int]] | None:
    edges, total = None, None
    for s in splits.values():
        h = s["signals"].get(signal, {}).get("histogram")
        if h is None:
            continue
        edges = h["edges"]
        total = h["counts"] if total is None else [a + b for a, b in zip(total, h["counts"])]
    return None if edges is None or not any(total or []) else (edges, total)  # type: ignore[return-value]
