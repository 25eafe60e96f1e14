"""The Data Docs site renders in headless Chromium and shows what failed, offline."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from curate.validation.result import failure_rows
from curate.validation.validate import open_baseline, validate_build
from tests.validation.build_fixture import FixtureSpec, Rows
from tests.validation.conftest import dump_dom


def _text(dom: str) -> str:
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


def _clip(split: str, rows: Rows) -> None:
    if split == "train":
        for r in rows[:2]:
            r["clipping_ratio"] = 0.25


def test_index_page_shows_the_failed_expectations(chromium: str, make_build, tmp_path: Path):
    before = make_build("v1")
    build = make_build("v2", spec=FixtureSpec(leak_speakers=1, duration_scale=1.8), mutate=_clip)
    result = validate_build(build, baseline=open_baseline(before))
    index = os.path.join(build, "validation", "docs", "index.html")
    dom = dump_dom(chromium, index, tmp_path / "chromium")
    text = _text(dom)
    assert "FAILED: 2 of 14 expectations failed; drift failed" in text
    rows = failure_rows(result.failed_expectations)
    assert {r["column"] for r in rows} == {"clipping_ratio", "num_splits"}
    for row in rows:  # every failed expectation, with what was expected and what was seen
        assert f"{row['table']} {row['column']} {row['expectation']}" in text
        assert row["observed"] in text
    assert "duration_s: JS distance" in text  # drift failures are listed with them
    assert re.search(r"duration_s \d\.\d{4} 0\.3 FAILED", text)  # and every distance
    # Each failed expectation links to GX's page for its table, which renders it too.
    links = re.findall(r'<a href="(validations/[^"]+\.html)"[^>]*>\s*'
                       r'expect_column_values_to_be_between', dom)
    assert len(links) == 2
    page = next(link for link in links if "/examples/" in link)
    page_text = _text(dump_dom(chromium, os.path.join(build, "validation", "docs", page),
                               tmp_path / "chromium"))
    assert "clipping_ratio" in page_text and "Status: Failed" in page_text


def test_passing_build_says_so(chromium: str, make_build, tmp_path: Path):
    build = make_build()
    validate_build(build)
    text = _text(dump_dom(chromium, f"{build}/validation/docs/index.html", tmp_path / "chromium"))
    assert "PASSED" in text and "no failed expectations" in text
