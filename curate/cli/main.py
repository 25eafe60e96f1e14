"""The ``curate`` parser and ``main``.

Each command group lives in its own module of :mod:`curate.cli` exposing
``add_commands(subparsers)``; a handler takes the parsed args and returns an exit code. Errors
this project raises on purpose become one line on stderr and their ``exit_code``; a traceback
means a bug.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from curate.cli import build, gate, report, versions
from curate.errors import CurateError
from registry.errors import RegistryError

__all__ = ["main", "silence_dependency_notices"]

# Modules that contribute sub-commands, in the order they appear in --help.
_COMMAND_MODULES = (build, versions, gate, report)
# What this project raises on purpose: one line on stderr and the error's exit code.
_ERRORS = (CurateError, RegistryError)
# Where Google's client libraries announce the end of Python 3.11's support and of old grpcio.
_NOTICE_MODULES = ("google.api_core._python_version_support",
                   "google.auth._python_version_support", "google.auth.transport.grpc")


def _version() -> str:
    """This distribution's version and those of the engines it runs on (from the installed
    packages' metadata: nothing is imported)."""
    import platform
    from importlib import metadata

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"curate-speech {version('curate-speech')} (apache-beam {version('apache-beam')}, "
            f"great-expectations {version('great-expectations')}, "
            f"Python {platform.python_version()})")


class _VersionAction(argparse.Action):
    """``--version``, worked out only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help=str(kwargs.get("help", "")))

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(_version())
        parser.exit()


def _add_common_flags(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-v`` and ``-q`` on ``parser`` and, recursively, on its sub-commands, so that they are
    accepted before or after a command name. Below the top their default is to leave the
    value alone (``SUPPRESS``): ``curate -v build …`` stays verbose."""
    default = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level",
                        **default)
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars or progress lines", **default)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_common_flags(child)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curate", description="Curate, validate and version speech datasets on Apache Beam."
    )
    parser.add_argument("--version", action=_VersionAction, help="print the versions and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _COMMAND_MODULES:
        module.add_commands(sub)
    _add_common_flags(parser, top=True)
    return parser


def _not_beam_on_root(record: logging.LogRecord) -> bool:
    """Beam's S3 client logs a failure on the root logger, with a traceback, before raising it;
    the command's own one-line error says the same (``-v`` shows both)."""
    return "apache_beam" not in record.pathname


def silence_dependency_notices() -> None:
    """For a command's ``main`` only: hide the FutureWarnings that Google's client libraries print
    when Beam 2.62 imports them (Beam's pin keeps grpcio below 1.66, and they announce Python
    3.11's end of support). They are about the environment, not the command, and would bury its
    one-line error."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.(auth|api_core)\.")
    # The build's worker processes (Beam's multi-processing DirectRunner, the SDK harness) import
    # the same libraries: the same filters, by the environment they inherit (exact module names).
    children = ",".join(f"ignore::FutureWarning:{m}" for m in _NOTICE_MODULES)
    current = os.environ.get("PYTHONWARNINGS")
    if not current or children not in current:
        os.environ["PYTHONWARNINGS"] = f"{current},{children}" if current else children


def main(argv: list[str] | None = None) -> int:
    silence_dependency_notices()
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # Beam relays its workers' start-up chatter as warnings
        logging.getLogger("apache_beam").setLevel(logging.ERROR)
        logging.getLogger().addFilter(_not_beam_on_root)
    try:
        return int(args.func(args) or 0)
    except _ERRORS as e:
        print(f"curate: error: {e}", file=sys.stderr)
        return int(getattr(e, "exit_code", 1))
    except KeyboardInterrupt:
        print("curate: interrupted", file=sys.stderr)
        return 130

