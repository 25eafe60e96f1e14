"""The report as one HTML page that needs nothing else: styles inline, plots as inline SVG,
audio excerpts as ``data:`` URIs, no script. It opens from a disk, a bucket's download or an
e-mail attachment, offline, and says everything again as text (an excerpt that could not be
made says why)."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable

from curate.report.clips import Clip
from curate.report.content import Example, Report, Split

__all__ = ["render"]

_CSS = """
:root{--fg:#1d2330;--muted:#5b6474;--line:#d9dee7;--bar:#3b6fb6;--base:#d9822b;--bad:#b3261e;
--ok:#1e7b34;--bg:#fff;--card:#f6f8fb}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ef;--muted:#a3abb9;--line:#3a4150;
--bar:#7aa7e6;--base:#f0a65a;--bad:#ff8a80;--ok:#7bd88f;--bg:#161a22;--card:#1f2430}}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;padding:1.5rem;max-width:1200px}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{margin-top:2.2rem;border-bottom:1px solid var(--line);
padding-bottom:.2rem}h3{margin:1.4rem 0 .5rem}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
.muted{color:var(--muted)}.bad{color:var(--bad)}.ok{color:var(--ok)}
nav a{margin-right:1rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.25rem .6rem;text-align:left;
border-bottom:1px solid var(--line);vertical-align:top}td.n,th.n{text-align:right;
font-variant-numeric:tabular-nums}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:.8rem}
figure{margin:0;padding:.4rem;background:var(--card);border-radius:6px}
figcaption{font-size:.85rem}figcaption b{font-weight:600}
svg.plot{width:100%;height:auto;display:block}
svg .bar{fill:var(--bar)}svg .bar:hover{opacity:.7}
svg .baseline{fill:none;stroke:var(--base);stroke-width:1.5}
svg .axis{stroke:var(--muted);stroke-width:1}
svg text{fill:var(--muted);font-size:9px}svg .legend{fill:var(--base)}
.examples{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:.8rem}
.example{background:var(--card);border-radius:6px;padding:.6rem .8rem}
.example p{margin:.2rem 0;overflow-wrap:anywhere}.example table{font-size:.82rem;margin:.3rem 0 0}
.example td{padding:.1rem .4rem;border:0;overflow-wrap:anywhere}
.example td:first-child{white-space:nowrap;overflow-wrap:normal}
.example .reason{font-size:.8rem;margin-bottom:.2rem}
audio{width:100%;margin:.3rem 0}
.unplayable{font-size:.85rem;color:var(--bad)}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _player(example: Example) -> str:
    clip = example.clip
    if not isinstance(clip, Clip):
        return f'<p class="unplayable">no excerpt: {_e(clip.why)}</p>'
    src = "data:audio/ogg;base64," + base64.b64encode(clip.ogg).decode("ascii")
    where = f"{clip.start_s:.1f}–{clip.start_s + clip.duration_s:.1f} s of " \
            f"{clip.source_duration_s:.1f} s" if clip.source_duration_s else ""
    return (f'<audio controls preload="metadata" data-key="{_e(example.key)}" '
            f'data-duration-s="{clip.duration_s:.3f}" src="{src}"></audio>'
            f'<p class="muted">excerpt {where}</p>')


def _example(example: Example, *, title_class: str, heading: str = "") -> str:
    rows = "".join(f"<tr><td class=muted>{_e(k)}</td><td>{_e(v)}</td></tr>"
                   for k, v in example.rows)
    return (f'<div class="example" id="ex-{_e(example.key)}">{heading}'
            f"<p><code>{_e(example.key)}</code></p>"
            f'<p class="{title_class}">{_e(example.title) or "<i>(empty)</i>"}</p>'
            f"{_player(example)}<table>{rows}</table></div>")


def _change(now: float, before: float | None, fmt: str) -> str:
    if before is None:
        return ""
    delta = now - before
    return f' <span class="muted">({delta:+{fmt}})</span>'


def _splits_table(report: Report) -> str:
    head = ("<tr><th>split</th><th class=n>examples</th><th class=n>speakers</th>"
            "<th class=n>hours</th><th class=n>shards</th></tr>")
    rows = []
    for s in report.splits:
        base = s.baseline or {}
        rows.append(
            f"<tr><td><a href='#split-{_e(s.name)}'>{_e(s.name)}</a></td>"
            f"<td class=n>{s.num_examples}{_change(s.num_examples, base.get('num_examples'), 'd')}"
            f"</td><td class=n>{s.num_speakers}</td>"
            f"<td class=n>{s.hours:.3f}{_change(s.hours, base.get('hours'), '.3f')}</td>"
            f"<td class=n>{s.num_shards}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _plot(p, baseline: bool) -> str:
    figures = ""
    if p.summary:
        figures = (f"p05 {p.summary['p05']:.3g} · median {p.summary['p50']:.3g} · "
                   f"p95 {p.summary['p95']:.3g}")
    drift = ""
    if baseline:
        drift = "<br>JS distance: n/a (not in both builds)" if p.distance is None \
            else f"<br>JS distance to the baseline: <b>{p.distance:.4f}</b>"
    return (f'<figure data-signal="{_e(p.signal)}">{p.svg}<figcaption><b>{_e(p.label)}</b> '
            f"<span class=muted>n = {p.count}</span><br>{figures}{drift}</figcaption></figure>")


def _split_section(s: Split, report: Report) -> str:
    plots = "".join(_plot(p, report.baseline is not None) for p in s.plots)
    examples = "".join(_example(e, title_class="text") for e in s.examples)
    return (f'<h3 id="split-{_e(s.name)}">{_e(s.name)} <span class=muted>· {s.num_examples} '
            f"examples, {s.hours:.3f} h</span></h3><div class=plots>{plots}</div>"
            + (f"<h4>Examples kept in {_e(s.name)}</h4><div class=examples>{examples}</div>"
               if examples else ""))


def _rejections(report: Report) -> str:
    if not report.reasons:
        return "<p>No input was rejected.</p>"
    read = int(report.build.info.get("counts", {}).get("read", 0)) or 1
    head = "<tr><th>reason</th><th>stage</th><th class=n>inputs</th><th class=n>of read</th></tr>"
    rows = "".join(
        f"<tr><td><a href='#reason-{_e(r.reason)}'><code>{_e(r.reason)}</code></a></td>"
        f"<td>{_e(r.stage)}</td><td class=n>{r.count}</td><td class=n>{r.count / read:.1%}</td></tr>"
        for r in report.reasons
    )
    cards = []
    for r in report.reasons:
        for i, e in enumerate(r.examples):
            anchor = f' id="reason-{_e(r.reason)}"' if i == 0 else ""
            shown = f"{i + 1} of {r.count}"
            heading = (f'<div class="reason"{anchor}><code>{_e(r.reason)}</code> '
                       f"<span class=muted>· {_e(r.stage)} · {shown}</span></div>")
            cards.append(_example(e, title_class="bad", heading=heading))
    return f"<table>{head}{rows}</table><div class=examples>{''.join(cards)}</div>"


def _drift(report: Report) -> str:
    if report.baseline is None:
        return ""
    rows = "".join(f"<tr><td>{_e(s)}</td><td class=n>{d:.4f}</td></tr>"
                   for s, d in report.drift.items())
    return (f'<h2 id="drift">Drift against {_e(report.baseline.label)}</h2>'
            "<p>Jensen–Shannon distance of each signal over all splits (0: the same "
            "distribution, 1: nothing in common); every histogram above overlays the "
            f"baseline's as a line.</p><table><tr><th>signal</th><th class=n>JS distance</th>"
            f"</tr>{rows}</table>")


def _header(report: Report, links: Iterable[tuple[str, str]]) -> str:
    info = report.build.info
    counts = info.get("counts", {})
    hours = sum(s.hours for s in report.splits)
    validation = report.build.validation()
    verdict = ""
    if validation is not None and validation.get("fingerprint") != info.get("fingerprint"):
        verdict = ("<p>Validation: <b class=bad>out of date</b> (its result is for another "
                   "build; run <code>curate validate</code> again)</p>")
    elif validation is not None:
        ok = bool(validation.get("success"))
        verdict = (f"<p>Validation: <b class={'ok' if ok else 'bad'}>"
                   f"{'passed' if ok else 'FAILED'}</b> "
                   f"(suite <code>{_e(validation.get('suite', '?'))}</code>, "
                   f"{validation.get('successful', '?')} of {validation.get('evaluated', '?')} "
                   "expectations met)</p>")
    against = ""
    if report.baseline is not None:
        against = (f"<p>Compared with <b>{_e(report.baseline.label)}</b> (build "
                   f"<code>{_e(str(report.baseline.info.get('fingerprint', ''))[:12])}</code>)"
                   "</p>")
    link_html = " · ".join(f'<a href="{_e(href)}">{_e(text)}</a>' for text, href in links)
    return (
        f"<h1>{_e(info.get('name', '?'))} <span class=muted>build report</span></h1>"
        f"<p class=muted>{_e(report.build.label)} · build "
        f"<code>{_e(str(info.get('fingerprint', ''))[:12])}</code> · config "
        f"<code>{_e(str(info.get('config_hash', ''))[:12])}</code> · "
        f"{_e(info.get('code_version', ''))}</p>"
        f"<p><b>{counts.get('accepted', 0)}</b> examples accepted of <b>{counts.get('read', 0)}"
        f"</b> inputs read, <b>{counts.get('rejected', 0)}</b> rejected; {hours:.3f} h in "
        f"{len(report.splits)} split(s).</p>{verdict}{against}"
        + (f"<p>{link_html}</p>" if link_html else "")
    )


def render(report: Report, *, links: Iterable[tuple[str, str]] = ()) -> str:
    """The page. ``links``: (text, relative href) shown under the title (the card, the Data
    Docs), for a page written into its build directory."""
    name = report.build.info.get("name", "?")
    nav = ["<a href='#splits'>splits</a>", "<a href='#signals'>signals</a>",
           "<a href='#rejected'>rejected inputs</a>"]
    if report.baseline is not None:
        nav.append("<a href='#drift'>drift</a>")
    body = [
        _header(report, links),
        f"<nav>{''.join(nav)}</nav>",
        '<h2 id="splits">Splits</h2>',
        _splits_table(report),
        '<h2 id="signals">Signals and examples, per split</h2>',
        "<p class=muted>Histograms over the fixed bins of <code>stats.json</code>, as shares "
        "of the split's examples (hover a bar for its range and count); excerpts of at most "
        f"{report.excerpt_s:g} s, read from the build's own shards.</p>",
        *(_split_section(s, report) for s in report.splits),
        '<h2 id="rejected">Rejected inputs</h2>',
        "<p class=muted>Excerpts of rejected inputs are read from their source files (from "
        "the start; around the loudest sample for <code>clipped</code>).</p>",
        _rejections(report),
        _drift(report),
        f"<p class=muted>Written by {_e(report.build.info.get('code_version', 'curate'))}: "
        f"<code>curate report {_e(report.build.label)}</code> writes it again.</p>",
    ]
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width,initial-scale=1">'
            f"<title>{_e(name)}: build report</title><style>{_CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")
