"""Histograms as inline SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from curate.report.svg import histogram_svg


def _bars(svg: str) -> list[tuple[float, str]]:
    return [(float(h), t) for h, t in
            re.findall(r'<rect class="bar"[^>]*height="([\d.]+)"><title>([^<]*)</title>', svg)]


def test_heights_are_shares_and_one_example_still_shows():
    svg = histogram_svg([0, 1, 2, 3], [999, 0, 1], title="t")
    ET.fromstring(svg)  # well-formed
    (tall, first), (short, last) = _bars(svg)
    assert tall == pytest.approx(114.0) and short == 1.0  # the plot is 114 units high
    assert first == "0 – 1: 999 examples (99.9%)" and last == "2 – 3: 1 example (0.1%)"


def test_a_baseline_is_a_line_over_the_same_bins_scaled_to_its_own_total():
    svg = histogram_svg([0, 1, 2], [10, 10], title="t", baseline=[300, 100], baseline_label="v1")
    line = re.search(r'<polyline class="baseline" points="([^"]+)"', svg)[1].split()
    ys = [float(p.split(",")[1]) for p in line]
    assert ys[0] == ys[1] and ys[2] == ys[3] and ys[0] < ys[2]  # 75% then 25%
    assert "— v1" in svg and len(_bars(svg)) == 2


def test_an_empty_split_says_so_and_bad_bins_are_refused():
    assert "no examples" in histogram_svg([0, 1], [0], title="t")
    with pytest.raises(ValueError, match="3 edges for 1 bins"):
        histogram_svg([0, 1, 2], [5], title="t")
