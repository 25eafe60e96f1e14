"""Filter rules: reject an utterance with a reason code and a detail giving value and bound.

``check_text`` runs before any audio is read. ``check_signals`` applies the signal rules in this
fixed order, and the first rule that fails decides the reason:

1. ``TOO_SHORT``      duration_s < min_duration_s
2. ``TOO_LONG``       duration_s > max_duration_s
3. ``SILENT``         silence_ratio > max_silence_ratio
4. ``CLIPPED``        clipping_ratio > max_clipping_ratio
5. ``LOW_SNR``        snr_db < min_snr_db                      (when min_snr_db is set)
6. ``SPEAKING_RATE``  chars_per_s outside [min_chars_per_s, max_chars_per_s] (bounds when set)

Values equal to a bound pass. A value is compared as it is stored in the shards and the manifest
(float32), so that a build applying a changed bound to recorded signals decides exactly as a
build measuring them again (see :mod:`curate.carry`). Audio without frames is always
``TOO_SHORT``, even with ``min_duration_s: 0`` (nothing can be encoded from it). With
``allow_empty_text``, an utterance without characters (``chars_per_s == 0``) is not held to
``min_chars_per_s``: empty text was allowed on purpose.
"""

from __future__ import annotations

import numpy as np

from curate.config import FilterConfig
from curate.errors import InputRejected, Reason
from curate.records import Signals

__all__ = ["as_stored", "check_signals", "check_text", "format_against_bound"]


def check_text(text: str, cfg: FilterConfig) -> None:
    """Reject empty or whitespace-only text (``EMPTY_TEXT``) unless ``cfg.allow_empty_text``."""
    if not cfg.allow_empty_text and not text.strip():
        raise InputRejected(Reason.EMPTY_TEXT, f"transcript is empty ({text!r})")


_RULES: tuple[tuple[Reason, str, str, str], ...] = (
    # (reason, Signals field, comparison that rejects, FilterConfig bound)
    (Reason.TOO_SHORT, "duration_s", "<", "min_duration_s"),
    (Reason.TOO_LONG, "duration_s", ">", "max_duration_s"),
    (Reason.SILENT, "silence_ratio", ">", "max_silence_ratio"),
    (Reason.CLIPPED, "clipping_ratio", ">", "max_clipping_ratio"),
    (Reason.LOW_SNR, "snr_db", "<", "min_snr_db"),
    (Reason.SPEAKING_RATE, "chars_per_s", "<", "min_chars_per_s"),
    (Reason.SPEAKING_RATE, "chars_per_s", ">", "max_chars_per_s"),
)
_LABELS = {"duration_s": ("duration", " s"), "snr_db": ("snr", " dB")}


def check_signals(signals: Signals, cfg: FilterConfig) -> None:
    """Raise ``InputRejected`` for the first rule (see the module docstring) that fails."""
    if signals.duration_s <= 0:
        raise InputRejected(Reason.TOO_SHORT, "duration 0 s: no audio frames")
    exempt = cfg.allow_empty_text and signals.chars_per_s == 0
    for reason, field, op, bound_name in _RULES:
        bound = getattr(cfg, bound_name)
        if bound is None or (exempt and bound_name == "min_chars_per_s"):
            continue
        value, edge = as_stored(getattr(signals, field)), as_stored(bound)  # both as stored
        if value < edge if op == "<" else value > edge:
            label, unit = _LABELS.get(field, (field, ""))
            detail = f"{label} {format_against_bound(value, bound)}{unit} {op} {bound_name} {bound:g}"
            raise InputRejected(reason, detail)


def as_stored(value: float) -> float:
    """``value`` as the shards and the manifest hold it: rounded to float32. A value and its
    bound are both compared so: a value equal to a bound (0.6 and 0.6) still passes."""
    return float(np.float32(value))


def format_against_bound(value: float, bound: float) -> str:
    """Two decimals, or as many as it takes not to print a value that looks equal to ``bound``."""
    for decimals in (2, 4, 6):
        text = f"{value:.{decimals}f}"
        if float(text) != bound:
            return text
    return repr(value)
