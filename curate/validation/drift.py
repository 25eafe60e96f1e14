"""Drift of a build against the version it replaces: what GX does not do well.

For every signal of :data:`curate.stats.BINS` (duration, loudness, clipping, silence, SNR,
speaking rate), both builds' values are counted in the same fixed bins (values outside clamp to
the end bins, exactly as in ``stats.json``), and the two histograms are compared with the
Jensen-Shannon distance: the square root of the JS divergence in bits, 0 for identical
distributions, 1 for distributions with no bin in common. Over all splits pooled, each signal's
distance is checked against its threshold; per split, distances are reported and the change in
examples and hours is checked against the drop / growth thresholds.

Distances of small builds are noisy: two independent samples of the same distribution of
durations (45 bins) are about 0.27 apart at 100 examples, 0.19 at 500 and 0.05 at 10,000, while
durations stretched by 30% are 0.44 apart at 100. The default maximum, 0.3, suits builds of a
hundred examples and more; production suites with large splits can go much lower (asr_strict:
0.1). A rebuild that adds data to the same corpus moves far less than an independent sample.

>>> js_distance([1, 2, 3], [1, 2, 3])
0.0
>>> js_distance([5, 0], [0, 5])
1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from curate.stats import BINS, histogram
from curate.validation.errors import SuiteError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DriftReport", "DriftThresholds", "compare_frames", "js_distance"]

SIGNALS: tuple[str, ...] = tuple(BINS)
_DECIMALS = 6


def js_distance(p_counts: Sequence[float], q_counts: Sequence[float]) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two histograms over the same bins."""
    p = np.asarray(p_counts, dtype=np.float64)
    q = np.asarray(q_counts, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"histograms over different bins: {p.shape} vs {q.shape}")
    if p.sum() == 0 or q.sum() == 0:
        return 0.0 if p.sum() == q.sum() else 1.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    divergence = min(max(0.5 * kl(p) + 0.5 * kl(q), 0.0), 1.0)
    return round(math.sqrt(divergence), _DECIMALS)


def _optional_fraction(where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise SuiteError(f"{where}: expected a number >= 0 or null, got {value!r}")
    return float(value)


@dataclass(frozen=True, kw_only=True, slots=True)
class DriftThresholds:
    """When drift fails. Distances are JS distances; drops and growths are fractions of the
    previous split's examples or hours (0.5: half of it); ``None`` means no limit."""

    max_distance: float = 0.3  # any signal not in ``signals``
    signals: Mapping[str, float] = field(default_factory=dict)  # signal -> its own maximum
    max_examples_drop: float | None = 0.5
    max_hours_drop: float | None = 0.5
    max_examples_growth: float | None = None
    max_hours_growth: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str = "drift") -> DriftThresholds:
        """From a suite's ``meta.curate.drift``; missing keys keep the defaults."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise SuiteError(f"{origin}: unknown key(s) {', '.join(unknown)} (known: "
                             f"{', '.join(sorted(known))})")
        kwargs: dict[str, Any] = {}
        for key in ("max_examples_drop", "max_hours_drop", "max_examples_growth",
                    "max_hours_growth"):
            if key in data:
                kwargs[key] = _optional_fraction(f"{origin}.{key}", data[key])
        if "max_distance" in data:
            value = _optional_fraction(f"{origin}.max_distance", data["max_distance"])
            kwargs["max_distance"] = 1.0 if value is None else value
        if "signals" in data:
            signals = data["signals"]
            if not isinstance(signals, Mapping):
                raise SuiteError(f"{origin}.signals: expected an object of signal: distance")
            for name, value in signals.items():
                if name not in BINS:
                    raise SuiteError(f"{origin}.signals: unknown signal {name!r} "
                                     f"(signals: {', '.join(SIGNALS)})")
                if _optional_fraction(f"{origin}.signals.{name}", value) is None:
                    raise SuiteError(f"{origin}.signals.{name}: expected a number")
            kwargs["signals"] = {k: float(v) for k, v in signals.items()}
        return cls(**kwargs)

    def limit(self, signal: str) -> float:
        return float(self.signals.get(signal, self.max_distance))

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_distance": self.max_distance,
            "signals": {s: self.limit(s) for s in SIGNALS},
            "max_examples_drop": self.max_examples_drop,
            "max_hours_drop": self.max_hours_drop,
            "max_examples_growth": self.max_examples_growth,
            "max_hours_growth": self.max_hours_growth,
        }


def _histograms(frame: pd.DataFrame) -> dict[str, list[int] | None]:
    out: dict[str, list[int] | None] = {}
    for signal in SIGNALS:
        if signal not in frame.columns:
            out[signal] = None  # an older manifest without this signal
            continue
        values = frame[signal].to_numpy(dtype=np.float64, na_value=np.nan)
        out[signal] = histogram(signal, values[~np.isnan(values)])
    return out


def _change(current: float, previous: float) -> float | None:
    """Relative change; None for a split that is new (nothing to compare with)."""
    if previous == 0:
        return None if current else 0.0
    return round((current - previous) / previous, _DECIMALS)


@dataclass(frozen=True, kw_only=True, slots=True)
class DriftReport:
    against: str  # what was compared with: NAME@vN, a directory
    against_fingerprint: str
    thresholds: DriftThresholds
    signals: Mapping[str, Mapping[str, Any]]  # signal -> {distance, max, success}
    splits: Mapping[str, Mapping[str, Any]]  # split -> {examples, hours, distances, success}
    failures: tuple[str, ...]  # one line per threshold crossed

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def distances(self) -> dict[str, float | None]:
        return {s: v["distance"] for s, v in self.signals.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "against_fingerprint": self.against_fingerprint,
            "success": self.success,
            "failures": list(self.failures),
            "thresholds": self.thresholds.to_dict(),
            "signals": {k: dict(v) for k, v in self.signals.items()},
            "splits": {k: dict(v) for k, v in self.splits.items()},
        }


def _count_check(
    failures: list[str], split: str, what: str, change: float | None,
    max_drop: float | None, max_growth: float | None,
) -> bool:
    if change is None:
        return True
    if max_drop is not None and -change > max_drop:
        failures.append(f"split {split}: {what} fell by {-change:.1%} (at most {max_drop:.0%})")
        return False
    if max_growth is not None and change > max_growth:
        failures.append(f"split {split}: {what} grew by {change:.1%} (at most {max_growth:.0%})")
        return False
    return True


def compare_frames(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    thresholds: DriftThresholds,
    *,
    against: str,
    against_fingerprint: str = "",
) -> DriftReport:
    """Drift of ``current`` from ``previous``: manifest rows of all splits with a ``split``
    column (:func:`curate.validation.tables.manifest_frame`)."""
    failures: list[str] = []
    cur_h, prev_h = _histograms(current), _histograms(previous)
    signals: dict[str, dict[str, Any]] = {}
    for signal in SIGNALS:
        limit = thresholds.limit(signal)
        if cur_h[signal] is None and prev_h[signal] is None:
            continue  # a model signal neither build has: nothing to report
        if cur_h[signal] is None or prev_h[signal] is None:
            signals[signal] = {"distance": None, "max": limit, "success": True}
            continue
        distance = js_distance(cur_h[signal], prev_h[signal])
        ok = distance <= limit
        if not ok:
            failures.append(f"{signal}: JS distance {distance:.3f} > {limit:g}")
        signals[signal] = {"distance": distance, "max": limit, "success": ok}
    splits: dict[str, dict[str, Any]] = {}
    names = list(dict.fromkeys([*previous["split"].unique(), *current["split"].unique()]))
    for split in names:
        cur = current[current["split"] == split]
        prev = previous[previous["split"] == split]
        cur_split_h, prev_split_h = _histograms(cur), _histograms(prev)
        examples = {"current": int(len(cur)), "previous": int(len(prev))}
        examples["change"] = _change(examples["current"], examples["previous"])
        cur_s, prev_s = float(cur["duration_s"].sum()), float(prev["duration_s"].sum())
        hours = {
            "current": round(cur_s / 3600, _DECIMALS),
            "previous": round(prev_s / 3600, _DECIMALS),
            "change": _change(cur_s, prev_s),
        }
        ok = _count_check(failures, split, "examples", examples["change"],
                          thresholds.max_examples_drop, thresholds.max_examples_growth)
        ok &= _count_check(failures, split, "hours", hours["change"],
                           thresholds.max_hours_drop, thresholds.max_hours_growth)
        splits[split] = {
            "examples": examples,
            "hours": hours,
            "distances": {
                s: None if cur_split_h[s] is None or prev_split_h[s] is None
                else js_distance(cur_split_h[s], prev_split_h[s])
                for s in signals  # the signals either build has
            },
            "success": ok,
        }
    return DriftReport(
        against=against,
        against_fingerprint=against_fingerprint,
        thresholds=thresholds,
        signals=signals,
        splits=splits,
        failures=tuple(failures),
    )
