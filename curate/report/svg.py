"""Histograms as inline SVG: a few kilobytes each, sharp at any zoom, drawn in microseconds.

Bins are the fixed bins of ``stats.json`` (:data:`curate.stats.BINS`), drawn one slot each:
some signals have bins of unequal width (clipping ratio on a log-like scale, duration in half
seconds below 5 s), and one slot per bin keeps a bar's height the share of examples in it.
Heights are shares of the split's examples, so a baseline of another size overlays fairly (as a
line); a bin holding one example is at least one pixel high, and every bar names its range and
count when hovered (its ``<title>``).

>>> svg = histogram_svg([0, 1, 2], [3, 1], title="duration (s)")
>>> svg.count("<rect class=\\"bar\\""), "1 – 2: 1 example (25.0%)" in svg
(2, True)
"""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["histogram_svg"]

_W, _H = 320, 150  # viewBox
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 8, 10, 26
_MAX_TICKS = 6


def _num(x: float) -> str:
    return f"{x:.4g}"


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def _plural(n: int) -> str:
    return f"{n} example" if n == 1 else f"{n} examples"


def histogram_svg(
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    title: str,
    baseline: Sequence[int] | None = None,
    baseline_label: str = "baseline",
) -> str:
    """An ``<svg>`` element: bars of ``counts`` over ``edges`` (one more edge than counts) and,
    if given, ``baseline`` counts over the same bins as a line."""
    n = len(counts)
    if len(edges) != n + 1:
        raise ValueError(f"{title}: {len(edges)} edges for {n} bins")
    total = sum(counts)
    shares = [c / total if total else 0.0 for c in counts]
    base_total = sum(baseline) if baseline is not None else 0
    base_shares = [c / base_total for c in baseline] if baseline is not None and base_total \
        else None
    top = max([*shares, *(base_shares or []), 1e-9])
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / n
    y0 = _TOP + plot_h

    def y(share: float) -> float:
        return y0 - plot_h * share / top

    parts = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f"<title>{html.escape(title)}</title>",
        f'<line class="axis" x1="{_LEFT}" y1="{y0}" x2="{_W - _RIGHT}" y2="{y0}"/>',
        f'<text class="tick" x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{_pct(top)}</text>',
        f'<text class="tick" x="{_LEFT - 4}" y="{y0}" text-anchor="end">0</text>',
    ]
    for i, (count, share) in enumerate(zip(counts, shares)):
        if not count:
            continue
        height = max(y0 - y(share), 1.0)  # one example still shows
        label = f"{_num(edges[i])} – {_num(edges[i + 1])}: {_plural(count)} ({share:.1%})"
        parts.append(
            f'<rect class="bar" x="{_LEFT + i * slot + 0.5:.1f}" y="{y0 - height:.1f}" '
            f'width="{max(slot - 1, 0.5):.1f}" height="{height:.1f}">'
            f"<title>{html.escape(label)}</title></rect>"
        )
    if base_shares is not None:
        points = []
        for i, share in enumerate(base_shares):
            points += [f"{_LEFT + i * slot:.1f},{y(share):.1f}",
                       f"{_LEFT + (i + 1) * slot:.1f},{y(share):.1f}"]
        parts.append(f'<polyline class="baseline" points="{" ".join(points)}">'
                     f"<title>{html.escape(baseline_label)}</title></polyline>")
        parts.append(f'<text class="legend" x="{_W - _RIGHT}" y="{_TOP + 4}" text-anchor="end">'
                     f"— {html.escape(baseline_label)}</text>")
    step = max(1, -(-n // (_MAX_TICKS - 1)))  # every step-th edge is labelled
    for i in range(0, n + 1, step):
        x = _LEFT + i * slot
        parts.append(f'<line class="axis" x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + 3}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{y0 + 14}" text-anchor="middle">'
                     f"{_num(edges[i])}</text>")
    if total == 0:
        parts.append(f'<text class="empty" x="{_LEFT + plot_w / 2}" y="{_TOP + plot_h / 2}" '
                     'text-anchor="middle">no examples</text>')
    parts.append("</svg>")
    return "".join(parts)
