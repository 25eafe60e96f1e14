"""Per-split summaries and fixed-bin histograms of the manifest's numeric columns.

Bins are fixed per signal (not data-dependent), so histograms of two builds can be compared bin
by bin: that is what the drift check does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["BINS", "LABELS", "SplitSummarizer", "histogram", "label", "summarize_split"]

# Edges per column; values outside are counted in the first/last bin.
BINS: dict[str, np.ndarray] = {
    "duration_s": np.concatenate([np.arange(0, 5, 0.5), np.arange(5, 41, 1.0)]),
    "rms_dbfs": np.arange(-120, 1, 5.0),
    "peak_dbfs": np.arange(-120, 1, 5.0),
    "clipping_ratio": np.array([0, 1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]),
    "silence_ratio": np.linspace(0, 1, 21),
    "snr_db": np.arange(-20, 101, 5.0),
    "chars_per_s": np.arange(0, 41, 2.0),
    "words_per_s": np.arange(0, 10.5, 0.5),
    # Model-based signals (curate.models), present only in builds with those models enabled.
    "vad_speech_ratio": np.linspace(0, 1, 21),
    "asr_wer": np.arange(0, 2.01, 0.1),
    "asr_cer": np.arange(0, 2.01, 0.1),
    "langid_confidence": np.linspace(0, 1, 21),
    "bandwidth_hz": np.arange(0, 24001, 500.0),
    "dnsmos_sig": np.arange(1, 5.01, 0.2),
    "dnsmos_bak": np.arange(1, 5.01, 0.2),
    "dnsmos_ovrl": np.arange(1, 5.01, 0.2),
    "dnsmos_p808": np.arange(1, 5.01, 0.2),
}


# What a person reads for each signal (the card, the report); a signal without one shows its name.
LABELS: dict[str, str] = {
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


def label(signal: str) -> str:
    """``signal`` as a person reads it (its own name when it has no label)."""
    return LABELS.get(signal, signal)


def histogram(column: str, values: Sequence[float] | np.ndarray) -> list[int]:
    """Counts of ``values`` in the fixed bins of ``column`` (outliers clamp to the end bins)."""
    edges = BINS[column]
    clipped = np.clip(np.asarray(values, dtype=np.float64), edges[0], edges[-1])
    counts, _ = np.histogram(clipped, bins=edges)
    return [int(c) for c in counts]


def _summary(column: str, values: np.ndarray) -> dict[str, Any]:
    if values.size == 0:
        return {"count": 0}
    q = np.quantile(values, [0.05, 0.5, 0.95])
    return {
        "count": int(values.size),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "p05": float(q[0]),
        "p50": float(q[1]),
        "p95": float(q[2]),
        "histogram": {"edges": [float(e) for e in BINS[column]], "counts": histogram(column, values)},
    }


class SplitSummarizer:
    """Builds one split's summary from its manifest a part at a time. It keeps the speakers
    and the ``BINS`` columns (8 bytes per value): exact quantiles need every value, but not the
    rest of the rows."""

    def __init__(self) -> None:
        self._examples = 0
        self._speakers: set[str] = set()
        self._values: dict[str, list[np.ndarray]] = {}

    def add(self, columns: Mapping[str, Sequence[Any]]) -> None:
        """Add rows given as columns (``key``, ``speaker`` and any ``BINS`` columns)."""
        self._examples += len(columns.get("key", []))
        self._speakers.update(s for s in columns.get("speaker", []) if s is not None)
        for name in BINS:
            if name in columns:
                self._values.setdefault(name, []).append(np.asarray(columns[name], dtype=np.float64))

    def summary(self) -> dict[str, Any]:
        """The summary; consumes what was added (one column is joined at a time)."""
        signals, seconds = {}, 0.0
        for name in list(self._values):
            values = np.concatenate(self._values.pop(name))
            signals[name] = _summary(name, values)
            if name == "duration_s":
                seconds = float(values.sum())
        return {
            "num_examples": self._examples,
            "num_speakers": len(self._speakers),
            "duration_s": seconds,
            "hours": seconds / 3600.0,
            "signals": signals,
        }


def summarize_split(columns: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Summary of one split from its manifest columns (``key``, ``speaker`` and ``BINS`` columns)."""
    summarizer = SplitSummarizer()
    summarizer.add(columns)
    return summarizer.summary()
