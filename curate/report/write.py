"""Write a build's report: gather (:mod:`curate.report.content`), render
(:mod:`curate.report.page`), write the page atomically.

The page of a build directory goes into it as ``report.html``, beside ``CARD.md`` (which links
it) and ``validation/`` (which it links); it is not one of the build's fingerprinted files, so
writing it again (after a validation, or compared with another version) changes no version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from curate.report.inputs import VersionOpener

from curate.layout import CARD_FILE, REPORT_FILE

__all__ = ["WrittenReport", "default_output", "write_report"]


@dataclass(frozen=True, kw_only=True, slots=True)
class WrittenReport:
    path: str
    size_bytes: int
    excerpts: int  # audio excerpts in the page
    unplayable: int  # examples shown without one (their source is missing, not audio, ...)


def default_output(spec: str, label: str, root: str | None) -> str:
    """``<build dir>/report.html``; for a registered version ``<name>-<version>-report.html``
    in the current directory."""
    if root is not None:
        from curate.fsio import join

        return join(root, REPORT_FILE)
    return os.path.abspath(label.replace("@", "-").replace("/", "_") + "-report.html")


def write_report(
    spec: str,
    *,
    output: str | None = None,
    against: str | None = None,
    versions: VersionOpener | None = None,
    examples: int = 3,
    rejected_examples: int = 3,
    excerpt_s: float = 4.0,
) -> WrittenReport:
    """Write the report of ``spec`` (a build directory, local or in a bucket, or ``NAME@V``
    opened by ``versions``), compared with ``against`` (the same kinds) if given."""
    from curate.errors import UsageError
    from curate.report.clips import Clip
    from curate.report.content import gather
    from curate.report.inputs import open_input
    from curate.report.page import render
    from curate.validation import storage

    if examples < 0 or rejected_examples < 0 or excerpt_s <= 0:
        raise UsageError("--examples and --rejected-examples must be >= 0, --excerpt-s > 0")
    build = open_input(spec, versions=versions)
    baseline = open_input(against, versions=versions) if against else None
    report = gather(build, baseline=baseline, examples=examples,
                    rejected_examples=rejected_examples, excerpt_s=excerpt_s)
    path = output or default_output(spec, build.label, build.root)
    links = []
    if build.root is not None and os.path.dirname(path) == os.path.dirname(
            default_output(spec, build.label, build.root)):
        links.append((f"dataset card ({CARD_FILE})", CARD_FILE))
        docs = build.docs_link()
        if docs:
            links.append(("Data Docs of the validation", docs))
    page = render(report, links=links).encode("utf-8")
    storage.write(path, page)
    shown = [e for s in report.splits for e in s.examples]
    shown += [e for r in report.reasons for e in r.examples]
    played = sum(isinstance(e.clip, Clip) for e in shown)
    return WrittenReport(path=path, size_bytes=len(page), excerpts=played,
                         unplayable=len(shown) - played)
