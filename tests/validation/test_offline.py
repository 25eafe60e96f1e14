"""The Data Docs pages load the vendored files, which are the npm packages' own bytes."""

from __future__ import annotations

import hashlib
import re

import pytest

from curate.validation.offline import _REPLACEMENTS, SITE_VENDOR_DIR, VENDOR_DIR, make_offline

_PAGE = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css">
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css" />
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
</head><body><img class="NO-CACHE"
  src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=abc" alt="Great Expectations"/>
<a href="https://greatexpectations.io">GX</a>{chart}</body></html>"""


def test_the_vendored_files_are_the_packages_own_bytes():
    listed = dict(re.findall(r"^([0-9a-f]{64})  (\S+)$",
                             (VENDOR_DIR / "README.md").read_text(), re.M))
    on_disk = {p.relative_to(VENDOR_DIR).as_posix() for p in VENDOR_DIR.rglob("*")
               if p.is_file() and p.name not in ("README.md", "update.sh")}
    assert set(listed.values()) == on_disk
    for sha256, rel in listed.items():
        assert hashlib.sha256((VENDOR_DIR / rel).read_bytes()).hexdigest() == sha256, rel
    for files in _REPLACEMENTS.values():
        assert all(f in on_disk for f in files)


def test_pages_at_any_depth_load_the_site_copies(tmp_path):
    site = tmp_path / "docs"
    (site / "validations" / "s" / "t").mkdir(parents=True)
    (site / "index.html").write_text(_PAGE.format(chart=""))
    (site / "validations" / "s" / "t" / "p.html").write_text(_PAGE.format(chart=""))
    assert make_offline(site) == []
    deep = (site / "validations" / "s" / "t" / "p.html").read_text()
    assert re.findall(r'(?:src|href)="([^"]+)"', deep) == [
        f"../../../{SITE_VENDOR_DIR}/bootstrap-4.3.1/bootstrap.min.css",
        f"../../../{SITE_VENDOR_DIR}/fontawesome-free-6.6.0/css/fontawesome.min.css",
        f"../../../{SITE_VENDOR_DIR}/fontawesome-free-6.6.0/css/solid.min.css",
        f"../../../{SITE_VENDOR_DIR}/popper.js-1.12.9/popper.min.js",  # no SRI: file: has no CORS
        "../../../static/images/logo-long.png",
        "https://greatexpectations.io",  # a link, not something the page loads
    ]
    assert "integrity" not in deep and "vega" not in deep and "bootstrap-dark" not in deep
    assert f'href="{SITE_VENDOR_DIR}/bootstrap-4.3.1/bootstrap.min.css"' in (
        site / "index.html").read_text()
    assert (site / SITE_VENDOR_DIR / "fontawesome-free-6.6.0/webfonts/fa-solid-900.woff2").is_file()
    assert (site / SITE_VENDOR_DIR / "fontawesome-free-6.6.0/LICENSE.txt").is_file()
    assert not (site / SITE_VENDOR_DIR / "update.sh").exists()


def test_a_page_with_a_chart_keeps_vega_and_says_it_needs_a_network(tmp_path, caplog):
    (tmp_path / "index.html").write_text(_PAGE.format(chart="<script>vegaEmbed('#c', {})</script>"))
    with caplog.at_level("WARNING"):
        warnings = make_offline(tmp_path)
    assert warnings == ["index.html still loads https://cdn.jsdelivr.net/npm/vega@5: it needs a "
                        "network"]
    assert warnings[0] in caplog.text


@pytest.mark.parametrize("name", ["README.md", "update.sh"])
def test_the_licences_and_how_to_fetch_again_are_kept(name):
    assert (VENDOR_DIR / name).is_file()
