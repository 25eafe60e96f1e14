"""The report opened in headless Chromium from disk, offline: its plots are drawn images, its
audio excerpts load and last as long as they should."""

from __future__ import annotations

import io
import json
import os

import pytest
from PIL import Image

from curate.report.write import write_report

_PLOTS = """[...document.querySelectorAll('svg.plot')].map(svg => {
  const box = svg.getBoundingClientRect();
  return {x: box.x + scrollX, y: box.y + scrollY, width: box.width, height: box.height,
          bars: svg.querySelectorAll('rect.bar').length,
          baseline: svg.querySelectorAll('polyline.baseline').length,
          fill: svg.querySelector('rect.bar') && getComputedStyle(svg.querySelector('rect.bar')).fill};
})"""

# Every <audio> once its metadata has loaded (or failed): its key, duration and expected one.
_AUDIO = """Promise.all([...document.querySelectorAll('audio')].map(a => new Promise(done => {
  const report = () => done({key: a.dataset.key, duration: a.duration, error: a.error && a.error.code,
                             expected: parseFloat(a.dataset.durationS)});
  if (a.readyState >= 1 || a.error) { report(); return; }
  a.addEventListener('loadedmetadata', report); a.addEventListener('error', report);
  a.load();
})))"""


def _distinct_colours(png: bytes) -> int:
    return len(Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 16) or [])


@pytest.mark.parametrize("against", [False, True], ids=["alone", "against"])
def test_the_report_renders_offline_with_its_plots_and_players(browser, fixture_build,
                                                               other_build, tmp_path, against):
    written = write_report(fixture_build.root, output=str(tmp_path / "report.html"),
                           against=other_build.root if against else None)
    page = browser.open(written.path)
    assert [u for u in page.requests if not u.startswith(("file:", "data:"))] == []
    assert page.failed_requests == []

    plots = page.evaluate(_PLOTS)
    with open(os.path.join(fixture_build.root, "stats.json")) as f:
        signals = sum(len(s["signals"]) for s in json.load(f)["splits"].values())
    assert len(plots) == signals
    for plot in plots:  # each plot is drawn, of a size one can read, with its bars
        assert plot["width"] >= 250 and plot["height"] >= 100, plot
        assert plot["bars"] >= 1 and plot["fill"] == "rgb(59, 111, 182)"
        assert plot["baseline"] == (1 if against else 0)
    first = {k: plots[0][k] for k in ("x", "y", "width", "height")}
    assert _distinct_colours(page.screenshot(clip=first)) >= 3  # bars, axis, text on the card
    assert len(page.screenshot()) > 50_000  # the whole page, as a person would see it

    audio = page.evaluate(_AUDIO)
    assert len(audio) == written.excerpts == 8
    for a in audio:
        assert a["error"] is None, a
        # Chromium counts an Ogg Vorbis stream's first (half) block: up to 32 ms more
        assert a["expected"] - 0.005 <= a["duration"] <= a["expected"] + 0.05, a
        expected = min(4.0, fixture_build.durations[a["key"]])
        assert a["expected"] == pytest.approx(expected, abs=1e-3), a

