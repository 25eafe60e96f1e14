"""``curate register | versions | show | diff | pull``: the registry on the command line.

Every command takes ``--registry URI`` (default ``$CURATE_REGISTRY``, else a local registry in
the user's data directory) and ``--json`` (one JSON document on stdout, for machines).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import TYPE_CHECKING, Any

from registry.api import Registry
from registry.build import META_VALIDATION
from registry.diff import VersionDiff
from registry.refs import parse_ref, validate_dataset_name

if TYPE_CHECKING:
    from curate.progress import MeterFactory

__all__ = ["add_commands"]

_SHOWN_KEYS = 3  # example keys printed per added/removed/changed list


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--registry",
        metavar="URI",
        help="file:///path or lakefs:// (default: $CURATE_REGISTRY, else the user data dir)",
    )
    p.add_argument("--json", action="store_true", help="print JSON for machines")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("register", help="register a build directory as a new version")
    p.add_argument("build_dir", metavar="DIR")
    p.add_argument("--dataset", required=True, metavar="NAME")
    p.add_argument("--message", "-m", metavar="M", help="commit message")
    p.add_argument("--allow-unvalidated", action="store_true",
                   help="register even without a passing `curate validate` (recorded in metadata)")
    p.add_argument("--copy", action="store_true",
                   help="copy a build in a bucket into lakeFS even where lakeFS could import it in "
                        "place (then the build directory may be deleted afterwards)")
    _common(p)
    p.set_defaults(func=_register)

    p = subparsers.add_parser("versions", help="list the versions of a dataset")
    p.add_argument("name", metavar="NAME")
    _common(p)
    p.set_defaults(func=_versions)

    p = subparsers.add_parser("show", help="show one version and its metadata")
    p.add_argument("ref", metavar="NAME@V")
    _common(p)
    p.set_defaults(func=_show)

    p = subparsers.add_parser("diff", help="what changed between two versions")
    p.add_argument("before", metavar="NAME@A")
    p.add_argument("after", metavar="NAME@B")
    _common(p)
    p.set_defaults(func=_diff)

    p = subparsers.add_parser("pull", help="copy a version's files into a directory")
    p.add_argument("ref", metavar="NAME@V")
    p.add_argument("dest", metavar="DEST")
    _common(p)
    p.set_defaults(func=_pull)


def _registry(args: argparse.Namespace) -> Registry:
    return Registry(args.registry)


def _print_json(doc: Any) -> None:
    json.dump(doc, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def _date(ts: int) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")


def _bytes_meter(args: argparse.Namespace) -> MeterFactory:
    """Progress of a phase in bytes, on stderr: a bar on a terminal, a line every few seconds
    in a log, nothing with ``--quiet``."""
    from curate.progress import Progress, Unit

    quiet = getattr(args, "quiet", False)
    return lambda label, total: Progress(label, total=total, unit=Unit.BYTES, quiet=quiet)


def _register(args: argparse.Namespace) -> int:
    validate_dataset_name(args.dataset)
    reg = _registry(args)
    before = reg.latest(args.dataset) if reg.store.repository_exists(args.dataset) else None
    v = reg.register(args.build_dir, dataset=args.dataset, message=args.message,
                     allow_unvalidated=args.allow_unvalidated, copy=args.copy,
                     progress=_bytes_meter(args))
    created = before is None or before.commit_id != v.commit_id
    if args.json:
        _print_json({**v.to_dict(), "new_version": created})
    else:
        what = "registered" if created else "unchanged, already"
        print(f"{what} {v.ref}  commit {v.commit_id}")
        print(f"  {v.examples} examples, {v.hours:.2f} h, fingerprint {v.fingerprint[:12]}")
    return 0


def _versions(args: argparse.Namespace) -> int:
    versions = _registry(args).versions(args.name)
    if args.json:
        _print_json([v.to_dict() for v in versions])
        return 0
    if not versions:
        print(f"{args.name}: no versions yet")
        return 0
    rows = [("TAG", "COMMIT", "EXAMPLES", "HOURS", "CREATED (UTC)", "MESSAGE")]
    for v in versions:
        rows.append((v.tag or "", v.commit_id[:12], str(v.examples), f"{v.hours:.2f}",
                     _date(v.created), v.message))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) if i in (0, 1, 4) else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))) + "  " + r[-1])
    return 0


def _show(args: argparse.Namespace) -> int:
    v = _registry(args).show(args.ref)
    if args.json:
        _print_json(v.to_dict())
        return 0
    md = v.metadata
    print(f"{v.ref}")
    print(f"  commit       {v.commit_id}")
    print(f"  created      {_date(v.created)} UTC")
    print(f"  message      {v.message}")
    print(f"  fingerprint  {v.fingerprint}")
    print(f"  examples     {v.examples}  ({v.hours:.2f} h)")
    validation = {k[len(META_VALIDATION):]: val for k, val in md.items()
                  if k.startswith(META_VALIDATION)}
    if validation:
        verdict = "passed" if validation.get("success") == "true" else "FAILED"
        print(f"  validation   {verdict}: suite {validation.get('suite', '?')}, "
              f"{validation.get('successful', '?')}/{validation.get('evaluated', '?')} "
              f"expectations met")
    else:
        print("  validation   none recorded")
    print("  metadata")
    for key in sorted(md):
        print(f"    {key} = {md[key]}")
    return 0


def _keys(label: str, keys: tuple[str, ...]) -> str:
    shown = ", ".join(keys[:_SHOWN_KEYS]) + (", …" if len(keys) > _SHOWN_KEYS else "")
    return f"{len(keys)} {label}" + (f" ({shown})" if keys else "")


def _mean(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _print_diff(d: VersionDiff) -> None:
    print(f"{d.before} ({d.before_commit[:12]}) -> {d.after} ({d.after_commit[:12]})")
    for s in d.splits:
        if s.unchanged:
            print(f"  {s.split}: unchanged ({s.examples_after} examples, {s.hours_after:.2f} h)")
            continue
        print(f"  {s.split}: {s.examples_before} -> {s.examples_after} examples "
              f"({s.examples_delta:+d}), {s.hours_before:.2f} -> {s.hours_after:.2f} h "
              f"({s.hours_delta:+.3f})")
        print(f"    {_keys('added', s.added)}; {_keys('removed', s.removed)}; "
              f"{_keys('changed', s.changed)}")
        moved = [(n, a, b) for n, a, b in s.signals if a != b]
        if moved:
            print("    signal means: " + ", ".join(
                f"{n} {_mean(a)} -> {_mean(b)}" for n, a, b in moved))
    for name, a, b in d.models:
        print(f"  model {name}: {a or '(none)'} -> {b or '(none)'}")
    print(f"  files: {len(d.files_added)} added, {len(d.files_removed)} removed, "
          f"{len(d.files_changed)} changed")


def _diff(args: argparse.Namespace) -> int:
    parse_ref(args.before), parse_ref(args.after)  # report a malformed ref before any I/O
    d = _registry(args).diff(args.before, args.after)
    if args.json:
        _print_json(d.to_dict())
    else:
        _print_diff(d)
    return 0


def _pull(args: argparse.Namespace) -> int:
    ds = _registry(args).open(args.ref)
    dest = ds.pull(args.dest, progress=_bytes_meter(args))
    if args.json:
        _print_json({"ref": ds.ref, "commit_id": ds.commit_id, "dest": str(dest)})
    else:
        print(f"pulled {ds.ref} (commit {ds.commit_id}) into {dest}")
    return 0
