"""Checking the Beam pipeline options a command passes through, before a pipeline starts.

Beam's ``PipelineOptions`` ignores what it cannot parse (it logs "Discarding unparseable args"
and carries on), so a mistyped ``--runer DataflowRunner`` would build on the DirectRunner and
a mistyped ``--worker_machine_type`` would silently use the default. :func:`check_pipeline_args`
makes that a usage error instead, naming the option and the closest one Beam knows.

The options a runner adds (``RenderOptions``, ``DaskOptions``) are known once its module is
imported, so the runner named by ``--runner`` is loaded first.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from curate.errors import UsageError

__all__ = ["check_pipeline_args", "unknown_pipeline_args"]


def _load_runner(args: list[str]) -> None:
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.runners.runner import create_runner

    name = PipelineOptions(args).view_as(StandardOptions).runner
    if not name:
        return
    try:
        create_runner(name)  # imports the runner's module, which defines its options
    except (ValueError, ImportError) as e:
        raise UsageError(f"--runner {name}: {e}") from None


def unknown_pipeline_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(unknown, known option strings)``: the tokens of ``args`` no Beam options class
    parses (flags and stray values), and every option Beam knows. Parsed by Beam's own parser
    of every options class loaded, which ``get_all_options`` hands to its hook before it
    parses (and before it adds the unknown options to it)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(args)
    _load_runner(args)
    found: dict[str, list[str]] = {}

    def inspect(parser) -> None:
        found["unknown"] = parser.parse_known_args(args)[1]
        found["known"] = sorted(o for a in parser._actions for o in a.option_strings)

    PipelineOptions(args).get_all_options(add_extra_args_fn=inspect, retain_unknown_options=True)
    return found["unknown"], found["known"]


def check_pipeline_args(args: Sequence[str], *, command: str) -> None:
    """UsageError (exit 2) naming the first argument of ``args`` that neither ``command`` (as
    the user types it: ``curate build``) nor Beam knows, with the closest known option."""
    if not args:
        return
    unknown, known = unknown_pipeline_args(args)
    if not unknown:
        return
    first = unknown[0]
    name = first.split("=", 1)[0]
    hint = ""
    if name.startswith("-"):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        what = f"unknown option {name}{hint}"
    else:
        what = f"unexpected argument {first!r}"
    others = [a for a in unknown[1:] if a.startswith("-")]
    more = f" (and {len(others)} more)" if others else ""
    raise UsageError(f"{what}{more}: neither an option of {command} nor a Beam pipeline option")
