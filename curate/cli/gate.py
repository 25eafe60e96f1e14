"""``curate validate``, ``curate gate`` and ``curate hook serve``.

Exit codes: 0 the build passed, 1 its suite or drift failed, 2 usage or config error (bad path,
bad suite, unknown version), 3 infrastructure error (registry unreachable).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from curate import strict_json

__all__ = ["add_commands", "print_report"]

_DIR_HELP = "build directory: a path, or a URI such as s3://bucket/builds/b1"
# (the hook's SECRET_HEADER and ENV_SECRET, spelled here so that --help imports no validation code)
_SECRET_HEADER, _ENV_SECRET = "X-Curate-Hook-Secret", "CURATE_HOOK_SECRET"
_SUITE_HELP = "suite name (asr_default, asr_strict) or path of a GX suite JSON file"
_GITHUB = "GITHUB_ACTIONS"


def _fmt_change(change: float | None) -> str:
    return "new" if change is None else f"{change:+.1%}"


def print_report(result: Any, *, build_dir: str, out: TextIO | None = None,
                 github: bool = False) -> None:
    """The summary that reads well in a CI log (``result``: a ValidationResult); ``github``
    adds ``::error::`` workflow commands so GitHub Actions annotates the run."""
    from curate.validation.result import failure_rows

    stream = out if out is not None else sys.stdout
    say = lambda s="": print(s, file=stream)  # noqa: E731
    passed = result.evaluated - result.failed
    say(f"build     {build_dir} ({result.dataset or '?'}, build {result.fingerprint[:12]})")
    say(f"suite     {result.suite}: {passed} of {result.evaluated} expectations passed")
    for row in failure_rows(result.failed_expectations):
        where = f"{row['table']}.{row['column']}" if row["column"] else row["table"]
        say(f"  FAIL  {where}  {row['expectation']}")
        say(f"        expected {row['expected'] or '(see suite)'}")
        say(f"        observed {row['observed']}")
        if github:
            say(f"::error title=curate gate: {where}::{row['expectation']} expected "
                f"{row['expected']}; observed {row['observed']}")
    drift = result.drift
    if drift is None:
        say("drift     not checked (no previous version)")
    else:
        say(f"drift     against {drift['against']}: {'ok' if drift['success'] else 'FAILED'}")
        say(f"  {'signal':<16}{'JS distance':>12}{'max':>8}")
        for signal, v in drift["signals"].items():
            distance = "n/a" if v["distance"] is None else f"{v['distance']:.4f}"
            flag = "" if v["success"] else "  FAIL"
            say(f"  {signal:<16}{distance:>12}{v['max']:>8g}{flag}")
        say(f"  {'split':<12}{'examples (before -> now)':>30}{'hours (before -> now)':>34}")
        for split, s in drift["splits"].items():
            e, h = s["examples"], s["hours"]
            ex = f"{e['previous']} -> {e['current']} ({_fmt_change(e['change'])})"
            hr = f"{h['previous']:.3f} -> {h['current']:.3f} ({_fmt_change(h['change'])})"
            say(f"  {split:<12}{ex:>30}{hr:>34}{'' if s['success'] else '  FAIL'}")
        for line in drift["failures"]:
            say(f"  FAIL  {line}")
            if github:
                say(f"::error title=curate gate: drift::{line}")
    if result.docs:
        say(f"docs      {os.path.join(build_dir, result.docs)}")
    say(f"verdict   {'PASSED' if result.success else 'FAILED'}")


def _finish(result: Any, args: argparse.Namespace) -> int:
    if args.json:
        print(strict_json.dumps(result.to_dict(), indent=2))
    else:
        print_report(result, build_dir=args.dir, github=os.environ.get(_GITHUB) == "true")
    return 0 if result.success else 1


def _validate(args: argparse.Namespace) -> int:
    from curate.validation.suites import load_suite
    from curate.validation.validate import open_baseline, validate_build
    from registry.gate import RegistryBaselines

    from curate.fsio import require_client

    suite = load_suite(args.suite)  # a bad suite is a usage error before any data is read
    require_client(args.dir)  # [aws] / [gcp] missing: one line naming the build, not a file of it
    baseline = None
    if args.against:
        baseline = open_baseline(args.against, versions=RegistryBaselines(args.registry))
    result = validate_build(args.dir, suite=suite, baseline=baseline, write=not args.no_write)
    return _finish(result, args)


def _gate(args: argparse.Namespace) -> int:
    from curate.validation.suites import load_suite
    from curate.validation.tables import BuildDir
    from curate.validation.validate import validate_build
    from registry.gate import RegistryBaselines

    suite = load_suite(args.suite)
    BuildDir.open(args.dir)  # a missing build is a usage error before the registry is asked
    baseline = RegistryBaselines(args.registry).latest(args.dataset)
    if not args.json:
        against = baseline.label if baseline else f"nothing: {args.dataset} has no version yet"
        print(f"gate      {args.dataset}: suite {suite.name}, drift against {against}")
    result = validate_build(args.dir, suite=suite, baseline=baseline)
    return _finish(result, args)


def _hook_serve(args: argparse.Namespace) -> int:
    from curate.errors import UsageError
    from curate.validation.hook import check_bind, serve
    from curate.validation.suites import load_suite
    from registry.gate import StoreBuildFiles

    secret = os.environ.get(args.secret_env or _ENV_SECRET, "")
    if args.secret_env and not secret:
        raise UsageError(f"--secret-env {args.secret_env}: the variable is not set or empty")

    def ready(server: Any) -> None:
        auth = "a shared secret" if server.secret else "no secret (loopback only)"
        print(f"curate hook: listening on {server.url} (suite {server.suite.name}, {auth})",
              flush=True)

    check_bind(args.host, secret or None)  # before the store is opened
    suite = load_suite(args.suite)  # a bad suite is a usage error before the store is opened
    serve(host=args.host, port=args.port, files=StoreBuildFiles.open(args.registry),
          suite=suite, secret=secret or None, request_timeout_s=args.request_timeout,
          ready=ready)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="check a build against a GX suite (and drift against another build)",
        description="Run a Great Expectations suite over a build directory and write "
        "validation/result.json and the Data Docs site validation/docs/. Exit 0 pass, 1 failed, "
        "2 usage error, 3 registry unreachable.",
    )
    p.add_argument("dir", help=_DIR_HELP)
    p.add_argument("--suite", default="asr_default", help=_SUITE_HELP)
    p.add_argument("--against", metavar="NAME@V|DIR",
                   help="check drift against a registered version or another build directory")
    p.add_argument("--registry", metavar="URI",
                   help="registry for --against NAME@V (default: $CURATE_REGISTRY, then local)")
    p.add_argument("--json", action="store_true", help="print one JSON summary instead")
    p.add_argument("--no-write", action="store_true",
                   help="write neither result.json nor the Data Docs")
    p.set_defaults(func=_validate)

    p = sub.add_parser(
        "gate", help="CI entry point: validate a build and its drift from NAME@latest",
        description="Validate against the suite and, when the dataset has a version, against "
        "NAME@latest. Exit 0 pass, 1 failed, 2 usage error, 3 registry unreachable.",
    )
    p.add_argument("dir", help=_DIR_HELP)
    p.add_argument("--dataset", required=True, help="registry dataset the build would become")
    p.add_argument("--suite", default="asr_default", help=_SUITE_HELP)
    p.add_argument("--registry", metavar="URI",
                   help="registry URI (default: $CURATE_REGISTRY, then local)")
    p.add_argument("--json", action="store_true", help="print one JSON summary instead")
    p.set_defaults(func=_gate)

    p = sub.add_parser("hook", help="lakeFS pre-merge webhook that validates builds")
    hook_sub = p.add_subparsers(dest="hook_command", metavar="COMMAND", required=True)
    s = hook_sub.add_parser(
        "serve", help="serve the webhook (POST lakeFS events to /webhooks/validate)",
        description="Answer lakeFS pre-merge events: 200 allows the merge, 412 with the failed "
        "expectations blocks it.",
    )
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8009, help="port (0: any free port)")
    s.add_argument("--registry", metavar="URI",
                   help="the store lakeFS serves: lakefs:// (default: $CURATE_REGISTRY)")
    s.add_argument("--suite", default="asr_default", help=_SUITE_HELP)
    s.add_argument("--secret-env", metavar="VAR", default=None,
                   help="environment variable holding the shared secret requests must carry "
                   f"(as the {_SECRET_HEADER} header or the 'secret' query parameter); "
                   f"default: ${_ENV_SECRET} when set. Required to listen beyond loopback")
    s.add_argument("--request-timeout", type=float, default=10.0, metavar="S",
                   help="seconds a client has to send its whole request (default 10)")
    s.set_defaults(func=_hook_serve)
