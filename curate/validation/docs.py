"""The Data Docs site of a validation: GX's own site builder, pointed at ``validation/docs/``.

GX renders one page per validated table (``validations/<suite>/<table>/…``) and per suite
(``expectations/…``). Its index page lists those validations in a table that JavaScript from
public CDNs fills in, so offline (an air-gapped CI runner, a build directory opened from a
bucket) it shows nothing useful. The site's index renderer is therefore GX's own
``SiteIndexPageRenderer`` plus one static block on top, :class:`GateIndexPageRenderer`: the
verdict, every failed expectation with its observed value and a link to the page that details
it, and the drift distances. That block is plain HTML and reads without any script.

Every page of the site then loads its styles, scripts and icon font from the site itself
(:mod:`curate.validation.offline`), so that it renders the same without a network.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SITE_NAME", "GateIndexPageRenderer", "build_site"]

SITE_NAME = "curate"


def _text(template: str, params: Mapping[str, Any] | None = None, *, tag: str = "span",
          link: str | None = None) -> Any:
    from great_expectations.render.components import RenderedStringTemplateContent

    params = dict(params or {})
    styling: dict[str, Any] = {}
    if link is not None:
        styling = {"params": {k: {"tag": "a", "attributes": {"href": link}} for k in params}}
    return RenderedStringTemplateContent(
        content_block_type="string_template",
        string_template={"template": template, "params": params, "tag": tag, "styling": styling},
    )


class GateIndexPageRenderer:
    """GX's index page with the gate's verdict on top. Built by GX from the site config
    (``site_index_builder.renderer``), which carries the rows as plain JSON data."""

    def __init__(
        self,
        title: str = "",
        verdict: str = "",
        failures: Sequence[Mapping[str, Any]] = (),
        drift: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self._title = title
        self._verdict = verdict
        self._failures = list(failures)
        self._drift = list(drift)

    def render(self, index_links_dict: dict[str, Any]) -> Any:
        from great_expectations.render.components import RenderedTableContent
        from great_expectations.render.renderer.site_index_page_renderer import (
            SiteIndexPageRenderer,
        )

        pages = {
            d.get("asset_name"): d.get("filepath")
            for d in index_links_dict.get("validations_links", [])
        }
        document = SiteIndexPageRenderer.render(index_links_dict)
        rows = []
        for f in self._failures:
            page = pages.get(f["table"])
            name = f["expectation"]
            cell = _text("$name", {"name": name}, link=page) if page else name
            rows.append([f["table"], f["column"] or "", cell, f["expected"], f["observed"]])
        blocks = [
            RenderedTableContent(
                header=_text("$verdict", {"verdict": self._verdict}, tag="h3"),
                subheader=_text("$title", {"title": self._title}),
                table=rows or [["", "", "no failed expectations", "", ""]],
                header_row=["Table", "Column", "Failed expectation", "Expected", "Observed"],
                styling={"classes": ["col-12", "curate-gate"],
                         "body": {"classes": ["table", "table-sm", "curate-failed-expectations"]}},
            )
        ]
        if self._drift:
            blocks.append(
                RenderedTableContent(
                    header=_text("Drift", tag="h4"),
                    table=[[d["signal"], d["distance"], d["max"], d["status"]]
                           for d in self._drift],
                    header_row=["Signal", "JS distance", "Threshold", "Status"],
                    styling={"classes": ["col-12", "curate-drift"],
                             "body": {"classes": ["table", "table-sm", "curate-drift-table"]}},
                )
            )
        first = document.sections[0].content_blocks
        first[1:1] = blocks  # after the site name header, before GX's tabs
        return document


def build_site(
    context: Any,
    out_dir: str,
    *,
    title: str,
    verdict: str,
    failures: Sequence[Mapping[str, Any]],
    drift: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Render the context's stored validation results into ``out_dir`` (replaced); returns the
    path of ``index.html``. ``failures`` rows: table, column, expectation, expected, observed
    (strings); ``drift`` rows: signal, distance, max, status."""
    out_dir = os.path.abspath(out_dir)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    site_config = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": out_dir},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "show_cta_footer": False,
            "renderer": {
                "module_name": __name__,
                "class_name": GateIndexPageRenderer.__name__,
                "title": title,
                "verdict": verdict,
                "failures": [dict(f) for f in failures],
                "drift": [dict(d) for d in drift],
            },
        },
    }
    context.add_data_docs_site(site_name=SITE_NAME, site_config=site_config)
    context.build_data_docs(site_names=[SITE_NAME])
    index = os.path.join(out_dir, "index.html")
    with open(index, encoding="utf-8") if os.path.isfile(index) else open(os.devnull) as f:
        rendered = "curate-failed-expectations" in f.read()
    if not rendered:  # GX logs and swallows errors of index renderers
        raise RuntimeError(f"GX did not render the Data Docs index page {index}; see its log")
    from curate.validation.offline import make_offline

    make_offline(out_dir)
    return index
