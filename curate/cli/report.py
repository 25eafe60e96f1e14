"""``curate report``: the build report, one HTML page to look at and listen to.

The command line opens registered versions for the report (:func:`registry_versions`, with
:func:`registry.gate.gate_errors` turning the registry's failures into the gate's errors), so
that :mod:`curate.report` itself never imports the registry.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from curate.report.inputs import ReportInput, VersionOpener

__all__ = ["add_commands", "registry_versions"]


def registry_versions(registry: str | None) -> VersionOpener:
    """Opens ``NAME@VERSION`` in the registry at ``registry`` (default ``$CURATE_REGISTRY``,
    then the local one); its files are fetched into the commit-keyed cache, each checked
    against its sha256, as they are read."""

    def open_version(spec: str) -> ReportInput:
        from curate.fsio import open_read
        from curate.report.inputs import ReportInput
        from curate.validation.errors import BuildReadError
        from registry.api import Registry
        from registry.gate import gate_errors

        with gate_errors(spec):
            version = Registry(registry).open(spec)
            info = version.info
        files = info.get("files", {})
        cached: dict[str, str | None] = {}

        def fetch(rel: str) -> str | None:
            """The cached copy of ``rel``, or None if the version has no such file."""
            if rel not in cached:
                try:
                    with gate_errors(f"{version.ref}: {rel}"):
                        cached[rel] = version.cache.fetch(
                            rel, sha256=files.get(rel, {}).get("sha256"))
                except BuildReadError:  # the registry's NotFoundError
                    cached[rel] = None
            return cached[rel]

        def read(rel: str) -> bytes | None:
            path = fetch(rel)
            if path is None:
                return None
            with open_read(path) as f:
                return f.read()

        def open_(rel: str) -> BinaryIO:
            path = fetch(rel)
            if path is None:
                raise BuildReadError(f"{version.ref}: has no file {rel}")
            return open_read(path)

        return ReportInput(label=version.ref, info=info, root=None, read=read, open=open_)

    return open_version


def _report(args: argparse.Namespace) -> int:
    from curate.report.write import write_report

    written = write_report(
        args.build,
        output=args.output,
        against=args.against,
        versions=registry_versions(args.registry),
        examples=args.examples,
        rejected_examples=args.rejected_examples,
        excerpt_s=args.excerpt_s,
    )
    missing = f", {written.unplayable} example(s) without one" if written.unplayable else ""
    print(f"report    {written.path} ({written.size_bytes / 1e6:.2f} MB, "
          f"{written.excerpts} audio excerpts{missing})")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write a build's report: histograms, rejected and kept examples to hear",
        description="Write one self-contained HTML page (no network needed) with the histogram "
        "of every signal per split, the rejected inputs by reason with excerpts to play, a few "
        "kept examples per split and, with --against, the drift of each signal. A build "
        "directory gets it as report.html.",
    )
    p.add_argument("build", metavar="DIR|NAME@V",
                   help="build directory (a path or s3://…, gs://…) or a registered version")
    p.add_argument("--against", metavar="DIR|NAME@V",
                   help="overlay this build's (or version's) histograms and show the drift")
    p.add_argument("--output", "-o", metavar="PATH",
                   help="where to write the page (default: DIR/report.html, or "
                   "NAME-vN-report.html here for a version)")
    p.add_argument("--registry", metavar="URI",
                   help="registry of NAME@V (default: $CURATE_REGISTRY, then local)")
    p.add_argument("--examples", type=int, default=3, metavar="N",
                   help="kept examples shown per split (default 3)")
    p.add_argument("--rejected-examples", type=int, default=3, metavar="N",
                   help="rejected inputs shown per reason (default 3)")
    p.add_argument("--excerpt-s", type=float, default=4.0, metavar="S",
                   help="longest audio excerpt in seconds (default 4)")
    p.set_defaults(func=_report)
