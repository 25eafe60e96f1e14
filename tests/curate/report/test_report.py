"""``curate report``: what the page holds, read back from its HTML and its audio excerpts."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import soundfile as sf

from curate.cli import main
from curate.layout import REPORT_FILE
from curate.report.write import write_report


class _Page(HTMLParser):
    """The page's figures (per split), audio excerpts, links and any external reference."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.figures: dict[str, list[str]] = {}
        self.audio: list[dict[str, str]] = []
        self.baselines = 0
        self.external: list[str] = []
        self.tags: set[str] = set()
        self._split: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "h3" and (a.get("id") or "").startswith("split-"):
            self._split = a["id"][len("split-"):]
        elif tag == "h2":
            self._split = None
        if tag == "figure" and self._split:
            self.figures.setdefault(self._split, []).append(a["data-signal"])
        if tag == "audio":
            self.audio.append(a)
        if tag == "polyline" and "baseline" in (a.get("class") or ""):
            self.baselines += 1
        for name in ("src", "href"):
            value = a.get(name) or ""
            if re.match(r"(https?:)?//", value):
                self.external.append(value)


def _ogg(audio: dict[str, str]) -> tuple[np.ndarray, int]:
    prefix = "data:audio/ogg;base64,"
    assert audio["src"].startswith(prefix)
    samples, rate = sf.read(io.BytesIO(base64.b64decode(audio["src"][len(prefix):])))
    return samples, rate


@pytest.fixture(scope="module")
def page(fixture_build):
    written = write_report(fixture_build.root)
    assert written.path == os.path.join(fixture_build.root, REPORT_FILE)
    with open(written.path, encoding="utf-8") as f:
        text = f.read()
    assert written.size_bytes == len(text.encode())
    return written, text, _Page(text)


def test_the_page_needs_nothing_from_outside(page):
    _, text, parsed = page
    assert parsed.external == []
    assert not parsed.tags & {"script", "link", "iframe", "img"}  # styles inline, plots inline SVG
    assert all(a["src"].startswith("data:audio/ogg;base64,") for a in parsed.audio)


def test_every_signal_of_stats_json_has_a_histogram_in_every_split(page, fixture_build):
    _, _, parsed = page
    with open(os.path.join(fixture_build.root, "stats.json")) as f:
        stats = json.load(f)
    assert set(parsed.figures) == set(stats["splits"])
    for split, s in stats["splits"].items():
        assert sorted(parsed.figures[split]) == sorted(s["signals"]), split


def test_a_bin_of_one_example_shows_and_names_its_count(page):
    _, text, _ = page
    bars = re.findall(r'<rect class="bar"[^>]*height="([\d.]+)"><title>([^<]*)</title>', text)
    assert bars and min(float(h) for h, _ in bars) >= 1.0
    assert any(": 1 example (" in t for _, t in bars)


def test_kept_examples_play_their_first_seconds_from_the_first_shard(page, fixture_build):
    _, text, parsed = page
    kept = [a for a in parsed.audio if not a["data-key"].startswith("bad-")]
    assert len(kept) == 6  # 3 per split
    for a in kept:
        split, shard, _ = a["data-key"].split("-")
        assert shard == "0"  # a split's first shard is a random sample of it
        samples, rate = _ogg(a)
        expected = min(4.0, fixture_build.durations[a["data-key"]])
        assert rate == 16000 and len(samples) / rate == pytest.approx(expected, abs=1e-3)
        assert float(a["data-duration-s"]) == pytest.approx(expected, abs=1e-3)
        assert np.abs(samples).max() > 0.01  # sound, not silence
    for key in {a["data-key"] for a in kept}:  # the transcript is shown with it
        assert f'id="ex-{key}"' in text


def test_rejected_inputs_play_from_their_sources_or_say_why_not(page, fixture_build):
    _, text, parsed = page
    for reason in fixture_build.info["rejected_by_reason"]:
        assert f'id="reason-{reason}"' in text
    played = {a["data-key"]: a for a in parsed.audio if a["data-key"].startswith("bad-")}
    assert set(played) == {"bad-clipped", "bad-short"}
    short, rate = _ogg(played["bad-short"])
    assert len(short) / rate == pytest.approx(0.1, abs=1e-3)
    clipped, rate = _ogg(played["bad-clipped"])  # 4 s around the loud burst, which is heard
    assert len(clipped) / rate == pytest.approx(4.0, abs=1e-3)
    assert np.abs(clipped).max() > 0.9
    start = float(re.search(r"excerpt ([\d.]+)–[\d.]+ s of 9\.0 s", text)[1])
    assert start <= 6.0 and start + 4.0 >= 6.5  # the burst is at 6.0-6.5 s
    assert "no excerpt: file is empty (0 bytes)" in text
    assert "no excerpt: libsndfile cannot decode it (" in text
    assert "no excerpt: no such file" in text
    assert written_counts(page) == (8, 3)


def written_counts(page) -> tuple[int, int]:
    written, _, _ = page
    return written.excerpts, written.unplayable


def test_the_same_build_gives_the_same_page(page, fixture_build, tmp_path):
    _, _, parsed = page
    again = write_report(fixture_build.root, output=str(tmp_path / "again.html"))
    with open(again.path, encoding="utf-8") as f:
        text = f.read()
    keys = [a["data-key"] for a in _Page(text).audio]
    assert keys == [a["data-key"] for a in parsed.audio]
    rewritten = write_report(fixture_build.root)  # where the first went: the same links
    with open(rewritten.path, encoding="utf-8") as f:
        assert f.read() == page[1]  # byte for byte, excerpts included (no random Ogg serials)


def test_against_another_build_overlays_it_and_shows_the_drift(fixture_build, other_build, tmp_path):
    written = write_report(fixture_build.root, against=other_build.root,
                           output=str(tmp_path / "drift.html"))
    with open(written.path, encoding="utf-8") as f:
        text = f.read()
    parsed = _Page(text)
    assert parsed.baselines == sum(len(v) for v in parsed.figures.values())
    assert f"Drift against {other_build.root}" in text
    drift = dict(re.findall(r"<tr><td>(\w+)</td><td class=n>([\d.]+)</td></tr>", text))
    assert set(drift) >= {"duration_s", "snr_db", "rms_dbfs"}
    assert float(drift["duration_s"]) > 0.2  # 1.6 times as long
    assert "JS distance to the baseline: <b>" in text
    assert 'href="CARD.md"' not in text  # written outside the build: no relative links


def test_a_registered_version_gets_the_same_report(fixture_build, tmp_path, capsys):
    from registry.api import Registry

    uri = (tmp_path / "registry").as_uri()
    version = Registry(uri).register(fixture_build.root, dataset="fixture",
                                     allow_unvalidated="test")
    out = tmp_path / "v1.html"
    assert main(["report", version.ref, "--registry", uri, "-o", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"report    {out} (")
    with open(out, encoding="utf-8") as f:
        keys = sorted(a["data-key"] for a in _Page(f.read()).audio)
    with open(os.path.join(fixture_build.root, REPORT_FILE), encoding="utf-8") as f:
        assert keys == sorted(a["data-key"] for a in _Page(f.read()).audio)


@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/such/build"], "neither a build directory nor a NAME@VERSION reference"),
        (["{tmp}"], "not a build directory (no dataset_info.json)"),
        (["{build}", "--excerpt-s", "0"], "--excerpt-s > 0"),
    ],
)
def test_mistakes_are_one_line_errors(args, message, fixture_build, tmp_path, capsys):
    args = [a.format(tmp=tmp_path, build=fixture_build.root) for a in args]
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_the_verdict_of_a_validation_shows_and_a_stale_one_says_so(fixture_build, tmp_path):
    import shutil

    build = tmp_path / "b"
    shutil.copytree(fixture_build.root, build)
    (build / "validation").mkdir()
    result = {"fingerprint": fixture_build.info["fingerprint"], "success": False,
              "suite": "asr_default", "successful": 12, "evaluated": 14}
    (build / "validation" / "result.json").write_text(json.dumps(result))
    text = open(write_report(str(build)).path, encoding="utf-8").read()
    assert "<b class=bad>FAILED</b> (suite <code>asr_default</code>, 12 of 14" in text
    result["fingerprint"] = "0" * 64
    (build / "validation" / "result.json").write_text(json.dumps(result))
    text = open(write_report(str(build)).path, encoding="utf-8").read()
    assert "<b class=bad>out of date</b>" in text
