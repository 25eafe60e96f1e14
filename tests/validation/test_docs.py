"""The Data Docs site renders in headless Chromium and shows what failed, offline."""

from __future__ import annotations

import html
import io
import os
import re
from pathlib import Path

from curate.validation.result import failure_rows
from curate.validation.validate import open_baseline, validate_build
from tests.validation.build_fixture import FixtureSpec, Rows


def dump_dom(browser, path: str | Path) -> str:
    """The page's DOM after its scripts ran, opened offline."""
    return browser.open(path).evaluate("document.documentElement.outerHTML")


def _text(dom: str) -> str:
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


def _clip(split: str, rows: Rows) -> None:
    if split == "train":
        for r in rows[:2]:
            r["clipping_ratio"] = 0.25


def test_index_page_shows_the_failed_expectations(browser, make_build):
    before = make_build("v1")
    build = make_build("v2", spec=FixtureSpec(leak_speakers=1, duration_scale=1.8), mutate=_clip)
    result = validate_build(build, baseline=open_baseline(before))
    index = os.path.join(build, "validation", "docs", "index.html")
    dom = dump_dom(browser, index)
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
    page_text = _text(dump_dom(browser, os.path.join(build, "validation", "docs", page)))
    assert "clipping_ratio" in page_text and "Status: Failed" in page_text


def test_passing_build_says_so(browser, make_build):
    build = make_build()
    validate_build(build)
    text = _text(dump_dom(browser, f"{build}/validation/docs/index.html"))
    assert "PASSED" in text and "no failed expectations" in text


# What Bootstrap, the logo and Font Awesome did to a page, read from the DOM.
_RENDERED = """(async () => {
  await document.fonts.ready;
  const navbar = document.querySelector('.navbar');
  const icons = [...document.querySelectorAll('i.fas')].map(i => {
    const before = getComputedStyle(i, '::before'), box = i.getBoundingClientRect();
    return {cls: i.className, content: before.content, family: before.fontFamily,
            color: getComputedStyle(i).color, x: box.x + scrollX, y: box.y + scrollY,
            width: box.width, height: box.height};
  });
  return {font: getComputedStyle(document.body).fontFamily,
          navbar: navbar && getComputedStyle(navbar).display,
          table: [...document.querySelectorAll('table.table')].map(
              t => getComputedStyle(t).borderCollapse),
          logo: [...document.images].filter(im => im.alt === 'Great Expectations')
                    .map(im => im.naturalWidth),
          solidFont: document.fonts.check('900 16px "Font Awesome 6 Free"'),
          icons};
})()"""


def _red_pixels(png: bytes) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for r, g, b in image.getdata() if r > 150 and g < 120 and b < 120)


def test_data_docs_render_offline_with_styles_logo_and_status_icons(browser, make_build):
    build = make_build("v2", mutate=_clip)  # clipping_ratio fails in the examples table
    result = validate_build(build)
    assert not result.success
    docs = Path(build) / "validation" / "docs"
    pages = sorted(docs.glob("validations/**/*.html")) + [docs / "index.html"]
    assert len(pages) == 5
    failed_icons = 0
    for path in pages:
        page = browser.open(path)
        assert [u for u in page.requests if not u.startswith(("file:", "data:"))] == [], path
        assert page.failed_requests == [], path
        got = page.evaluate(_RENDERED)
        assert got["font"].startswith("-apple-system"), path  # Bootstrap's stylesheet applied
        assert got["navbar"] == "flex" and set(got["table"]) <= {"collapse"}, path
        assert got["logo"] and min(got["logo"]) > 0, path  # GX's logo, from the site itself
        assert got["solidFont"], path  # Font Awesome's solid font loaded from the site
        for icon in got["icons"]:
            assert icon["family"] == '"Font Awesome 6 Free"' and icon["width"] > 0, (path, icon)
        failed = [i for i in got["icons"] if "fa-times" in i["cls"]]
        for icon in failed:  # GX's failed status: a red cross, drawn by the icon font
            assert icon["content"] == '"\uf00d"' and icon["color"] == "rgb(220, 53, 69)"
            png = page.screenshot(clip={k: icon[k] for k in ("x", "y", "width", "height")})
            assert _red_pixels(png) >= 20, (path, icon)
        failed_icons += len(failed)
        if "examples" in path.name:
            assert failed, "the failed clipping_ratio expectation shows no status icon"
    assert failed_icons >= 2  # the examples and splits tables each fail one
