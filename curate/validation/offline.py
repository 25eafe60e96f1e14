"""Make a Data Docs site render without a network.

GX's page templates load Bootstrap, jQuery, Popper, bootstrap-table, bootstrap-datepicker and
Font Awesome from public CDNs and GX's logo from GX's bucket; offline, a page loses all its
styling and its pass/fail icons. :func:`make_offline` rewrites every page of a built site to
load copies of those files (``static/vendor/``, shipped with this package; what, from where
and under which licence: ``static/vendor/README.md``) and the logo GX's site builder already
puts in ``static/images/``. Two things are not copied: a dark-mode variant of Bootstrap (the
pages keep the light theme) and Vega, which GX needs only for the charts of a few
distribution expectations: its tags are removed from pages without a chart, and a page with
one keeps them (it is named in the returned warnings).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

__all__ = ["SITE_VENDOR_DIR", "VENDOR_DIR", "make_offline"]

log = logging.getLogger(__name__)

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
SITE_VENDOR_DIR = "static/vendor"  # in the site

_BT = "https://unpkg.com/bootstrap-table@1.19"
_FC = "dist/extensions/filter-control/bootstrap-table-filter-control"
# CDN URL -> the vendored files (paths under VENDOR_DIR) loaded instead, in order.
_REPLACEMENTS: dict[str, tuple[str, ...]] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        ("bootstrap-4.3.1/bootstrap.min.css",),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        ("bootstrap-4.3.1/bootstrap.min.js",),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery-3.7.1/jquery.min.js",),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js":
        ("popper.js-1.12.9/popper.min.js",),
    f"{_BT}.1/dist/bootstrap-table.min.css": ("bootstrap-table-1.19.1/bootstrap-table.min.css",),
    f"{_BT}.1/dist/bootstrap-table.min.js": ("bootstrap-table-1.19.1/bootstrap-table.min.js",),
    f"{_BT}.0/{_FC}.css": ("bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",),
    f"{_BT}.0/{_FC}.min.css": ("bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",),
    f"{_BT}.1/{_FC}.min.js": ("bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js",),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": ("bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css",),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": ("bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js",),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":  # solid only
        ("fontawesome-free-6.6.0/css/fontawesome.min.css",
         "fontawesome-free-6.6.0/css/solid.min.css"),
}
_DROPPED = frozenset(
    {"https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css"}
)
_CHARTS = frozenset({"https://cdn.jsdelivr.net/npm/vega@5", "https://cdn.jsdelivr.net/npm/vega-lite@5",
                     "https://cdn.jsdelivr.net/npm/vega-embed@6"})
_LOGO = re.compile(r'"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/'
                   r'(logo-long\.png)[^"]*"')

# A <script src=…></script> or <link href=…> tag naming an http(s) URL.
_TAG = re.compile(r'<(?P<tag>script|link)\b[^>]*?\b(?:src|href)="(?P<url>https?://[^"]+)"[^>]*>'
                  r"(?:\s*</script>)?", re.IGNORECASE)
# Any resource still loaded from the network (links to web pages, <a href>, are not).
_REMOTE = re.compile(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="(https?://[^"]+)"',
                     re.IGNORECASE)


def _tag(kind: str, href: str) -> str:
    if kind.lower() == "script":
        return f'<script src="{href}"></script>'
    return f'<link rel="stylesheet" href="{href}">'


def _rewrite(page: str, rel_root: str) -> str:
    """``page`` loading the vendored files; ``rel_root`` is the site root relative to it."""
    charts = "vegaEmbed(" in page

    def replace(m: re.Match[str]) -> str:
        url, kind = m["url"], m["tag"]
        if url in _REPLACEMENTS:  # (without integrity/crossorigin: a file: URL has no CORS)
            return "".join(_tag(kind, f"{rel_root}{SITE_VENDOR_DIR}/{f}")
                           for f in _REPLACEMENTS[url])
        if url in _DROPPED or (url in _CHARTS and not charts):
            return ""
        return m[0]

    page = _TAG.sub(replace, page)
    return _LOGO.sub(lambda m: f'"{rel_root}static/images/{m[1]}"', page)


def make_offline(site_dir: str | os.PathLike[str]) -> list[str]:
    """Rewrite every page of the site at ``site_dir`` to load what it needs from the site and
    copy the vendored files into it. Returns (and logs) one warning per page that still loads
    something from the network."""
    site = Path(site_dir)
    target = site / SITE_VENDOR_DIR
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(VENDOR_DIR, target, ignore=shutil.ignore_patterns("update.sh"))
    warnings = []
    for page in sorted(site.rglob("*.html")):
        depth = len(page.relative_to(site).parts) - 1
        text = page.read_text(encoding="utf-8")
        rewritten = _rewrite(text, "../" * depth)
        if rewritten != text:
            page.write_text(rewritten, encoding="utf-8")
        remote = sorted(set(_REMOTE.findall(rewritten)))
        if remote:
            rel = page.relative_to(site).as_posix()
            warnings.append(f"{rel} still loads {', '.join(remote)}: it needs a network")
    for warning in warnings:
        log.warning("Data Docs: %s", warning)
    return warnings
