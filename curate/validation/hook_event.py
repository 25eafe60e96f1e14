"""What the lakeFS webhook answers to one event: the validation, with no HTTP in it.

:func:`evaluate_event` reads ``dataset_info.json``, the manifests and ``stats.json`` of the build
at the event's ``source_ref`` through :class:`BuildFiles` (the registry's store, for ``curate
hook serve``: ``registry.gate.StoreBuildFiles``; one lakeFS repository is one dataset),
validates them with the suite, and compares them with the build on the destination
``branch_id`` (the version being replaced) when there is one; when there is none, or the event
names no ``branch_id``, the answer says that drift was not checked and why (``drift_skipped``).

The build's split names come from a pushed ``dataset_info.json``, so they are checked with the
config's rule (:func:`curate.config.split_name_problem`) before they become file names, and every
downloaded file must land inside the hook's temporary directory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, runtime_checkable

from curate.errors import CurateError
from curate.layout import INFO_FILE, STATS_FILE, manifest_files
from curate.sources.paths import is_within
from curate.validation.errors import BuildReadError, InfrastructureError
from curate.validation.result import failure_rows
from curate.validation.suites import Suite
from curate.validation.tables import BuildDir

__all__ = ["EVENT_TYPES", "BuildFiles", "HookResponse", "evaluate_event"]

EVENT_TYPES = frozenset({"pre-merge", "pre-commit"})
_REQUIRED = ("event_type", "repository_id", "source_ref")


@runtime_checkable
class BuildFiles(Protocol):
    """Where the hook reads builds from: the files at a ref (branch, tag, commit) of a
    repository. ``registry.gate.StoreBuildFiles`` is one, over a registry store."""

    def download(self, repo: str, ref: str, path: str, dest: str) -> bool:
        """Copy ``path`` at ``ref`` of ``repo`` to the local file ``dest``; False when the
        repository, the ref or the file does not exist. An unreachable store raises
        :class:`~curate.validation.errors.InfrastructureError`."""


@dataclass(frozen=True, kw_only=True, slots=True)
class HookResponse:
    status: int
    body: Mapping[str, Any]


class _BadEvent(Exception):
    """A payload the hook cannot act on (400)."""


def _inside(root: str, rel: str) -> str:
    """``root/rel``, refused (BuildReadError) unless it stays inside ``root``."""
    path = os.path.join(root, *rel.split("/"))
    if not is_within(root, path) or os.path.normpath(path) == os.path.normpath(root):
        raise BuildReadError(f"refusing to write {rel!r} outside the hook's directory")
    return path


def _download_build(files: BuildFiles, repo: str, ref: str, dest: str) -> BuildDir | None:
    """The build at ``ref`` copied into ``dest`` (info, stats, manifests); None if ``ref`` has
    no ``dataset_info.json``. BuildReadError for split names that are no valid names."""
    os.makedirs(dest, exist_ok=True)
    if not files.download(repo, ref, INFO_FILE, _inside(dest, INFO_FILE)):
        return None
    files.download(repo, ref, STATS_FILE, _inside(dest, STATS_FILE))  # optional: not validated
    build = BuildDir.open(dest)  # checks every split name with the config's rule
    for split in build.info["splits"]:
        for rel in manifest_files(build.info, split):
            path = _inside(dest, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if not files.download(repo, ref, rel, path):
                raise BuildReadError(f"{repo}@{ref}: split {split!r} has no manifest ({rel})")
    return build


def _check(payload: Any) -> None:
    if not isinstance(payload, Mapping):
        raise _BadEvent("the body must be a JSON object (a lakeFS webhook event)")
    missing = [k for k in _REQUIRED if not isinstance(payload.get(k), str) or not payload[k]]
    if missing:
        raise _BadEvent(f"missing or empty field(s): {', '.join(missing)}")
    if payload["event_type"] not in EVENT_TYPES:
        raise _BadEvent(f"event_type {payload['event_type']!r} is not one this hook checks "
                        f"({', '.join(sorted(EVENT_TYPES))})")
    branch = payload.get("branch_id")
    if branch is not None and not isinstance(branch, str):
        raise _BadEvent(f"branch_id must be a string, got {type(branch).__name__}")


def evaluate_event(payload: Any, *, files: BuildFiles, suite: Suite) -> HookResponse:
    """The answer to one lakeFS event: validate ``source_ref`` against the destination."""
    from curate.validation.validate import Baseline, validate

    try:
        _check(payload)
    except _BadEvent as e:
        return HookResponse(status=HTTPStatus.BAD_REQUEST, body={"allowed": False, "error": str(e)})
    repo, source = payload["repository_id"], payload["source_ref"]
    dest_branch = payload.get("branch_id") or ""  # pre-merge: the branch merged into
    where = {"repository_id": repo, "source_ref": source, "branch_id": dest_branch}
    try:
        with tempfile.TemporaryDirectory(prefix="curate-hook-") as tmp:
            build = _download_build(files, repo, source, os.path.join(tmp, "source"))
            if build is None:
                error = f"no build at {repo}@{source}: {INFO_FILE} not found"
                return HookResponse(status=HTTPStatus.BAD_REQUEST,
                                    body={**where, "allowed": False, "error": error})
            previous = (_download_build(files, repo, dest_branch, os.path.join(tmp, "dest"))
                        if dest_branch else None)
            baseline = (
                Baseline(label=f"{repo}@{dest_branch}", build=previous)
                if previous is not None else None
            )
            result = validate(build, suite, baseline=baseline)
    except InfrastructureError as e:
        return HookResponse(status=HTTPStatus.SERVICE_UNAVAILABLE,
                            body={**where, "allowed": False, "error": str(e)})
    except BuildReadError as e:  # the event names a ref or repository without a readable build
        return HookResponse(status=HTTPStatus.BAD_REQUEST,
                            body={**where, "allowed": False, "error": str(e)})
    except CurateError as e:  # the server's suite does not fit the build
        return HookResponse(status=HTTPStatus.INTERNAL_SERVER_ERROR,
                            body={**where, "allowed": False, "error": str(e)})
    return _answer(result, suite, where, _drift_skipped(repo, dest_branch, previous))


def _drift_skipped(repo: str, branch: str, previous: BuildDir | None) -> str | None:
    if not branch:
        return "the event names no branch_id, so there is no destination build to compare with"
    if previous is None:
        return f"no build on {repo}@{branch} to compare with"
    return None


def _answer(result: Any, suite: Suite, where: dict[str, str], skipped: str | None) -> HookResponse:
    lines = [f"{r['table']}.{r['column'] or '*'}: {r['expectation']} (expected {r['expected']}): "
             f"{r['observed']}" for r in failure_rows(result.failed_expectations)]
    if result.drift is not None:
        lines += [f"drift against {result.drift['against']}: {x}" for x in result.drift["failures"]]
    verdict = "passed" if result.success else "failed"
    ref = f"{where['repository_id']}@{where['source_ref']}"
    message = f"curate: suite {suite.name} {verdict} for {ref}"
    if not result.success:
        message += ": " + "; ".join(lines)
    if skipped is not None:
        message += f" (drift not checked: {skipped})"
    body = {
        **where,
        "allowed": result.success,
        "message": message,
        "failures": lines,
        "drift_checked": skipped is None,
        "result": result.to_dict(),
    }
    if skipped is not None:
        body["drift_skipped"] = skipped
    status = HTTPStatus.OK if result.success else HTTPStatus.PRECONDITION_FAILED
    return HookResponse(status=status, body=body)
