"""The lakeFS pre-merge webhook: ``curate hook serve --port P``.

lakeFS POSTs a JSON event to the hook's URL before it merges (see
``docs/_lakefs_actions/pre-merge-validate.yaml``)::

    {"event_type": "pre-merge", "event_time": "…", "action_name": "…", "hook_id": "…",
     "repository_id": "asr-demo", "branch_id": "main", "source_ref": "build-1f2e…",
     "commit_id": "…", "commit_message": "…", "committer": "…", "commit_metadata": {…}}

The hook reads ``dataset_info.json``, the manifests and ``stats.json`` of the build at
``source_ref`` through :class:`BuildFiles` (the registry's store, for ``curate hook serve``;
one lakeFS repository is one dataset), validates them
with the suite, and compares them with the build on the destination ``branch_id`` (the version
being replaced) when there is one. It answers 200 to allow the merge, 412 with the failed
expectations and drift in the JSON body to block it, 400 for an event it cannot use (not
lakeFS-shaped, or naming a ref without a build), 503 when the store is unreachable and 500 for
anything else; lakeFS blocks the merge on any non-2xx answer and
shows the body in the action's run log.

The server is stdlib ``http.server``, bound to 127.0.0.1 unless told otherwise: put it next to the
lakeFS server, not on a public address. Validations run one at a time.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

from curate.errors import CurateError, UsageError
from curate.fsio import join
from curate.layout import INFO_FILE, MANIFEST_DIR, STATS_FILE, manifest_file
from curate.validation.errors import BuildReadError, InfrastructureError, SuiteError
from curate.validation.result import failure_rows
from curate.validation.suites import Suite, load_suite
from curate.validation.tables import BuildDir

__all__ = ["HOOK_PATH", "BuildFiles", "HookResponse", "HookServer", "evaluate_event", "serve"]

log = logging.getLogger(__name__)

HOOK_PATH = "/webhooks/validate"
HEALTH_PATH = "/healthz"
EVENT_TYPES = frozenset({"pre-merge", "pre-commit"})
_REQUIRED = ("event_type", "repository_id", "branch_id", "source_ref")
_MAX_BODY = 1 << 20


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


def _download_build(files: BuildFiles, repo: str, ref: str, dest: str) -> BuildDir | None:
    """The build at ``ref`` copied into ``dest`` (info, stats, manifests); None if ``ref`` has
    no ``dataset_info.json``."""
    os.makedirs(os.path.join(dest, MANIFEST_DIR), exist_ok=True)
    if not files.download(repo, ref, INFO_FILE, join(dest, INFO_FILE)):
        return None
    files.download(repo, ref, STATS_FILE, join(dest, STATS_FILE))  # optional: not validated
    build = BuildDir.open(dest)
    for split in build.info["splits"]:
        rel = manifest_file(split)
        if not files.download(repo, ref, rel, join(dest, rel)):
            raise BuildReadError(f"{repo}@{ref}: split {split!r} has no manifest ({rel})")
    return build


def evaluate_event(payload: Any, *, files: BuildFiles, suite: Suite) -> HookResponse:
    """The answer to one lakeFS event: validate ``source_ref`` against the destination."""
    from curate.validation.validate import Baseline, validate

    try:
        if not isinstance(payload, Mapping):
            raise _BadEvent("the body must be a JSON object (a lakeFS webhook event)")
        missing = [k for k in _REQUIRED if not isinstance(payload.get(k), str) or not payload[k]]
        if missing:
            raise _BadEvent(f"missing or empty field(s): {', '.join(missing)}")
        if payload["event_type"] not in EVENT_TYPES:
            raise _BadEvent(f"event_type {payload['event_type']!r} is not one this hook checks "
                            f"({', '.join(sorted(EVENT_TYPES))})")
    except _BadEvent as e:
        return HookResponse(status=HTTPStatus.BAD_REQUEST, body={"allowed": False, "error": str(e)})
    repo, source = payload["repository_id"], payload["source_ref"]
    dest_branch = payload["branch_id"]  # pre-merge: the branch merged into
    where = {"repository_id": repo, "source_ref": source, "branch_id": dest_branch}
    try:
        with tempfile.TemporaryDirectory(prefix="curate-hook-") as tmp:
            build = _download_build(files, repo, source, os.path.join(tmp, "source"))
            if build is None:
                error = f"no build at {repo}@{source}: {INFO_FILE} not found"
                return HookResponse(status=HTTPStatus.BAD_REQUEST,
                                    body={**where, "allowed": False, "error": error})
            previous = _download_build(files, repo, dest_branch, os.path.join(tmp, "dest"))
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
    lines = [f"{r['table']}.{r['column'] or '*'}: {r['expectation']} (expected {r['expected']}): "
             f"{r['observed']}" for r in failure_rows(result.failed_expectations)]
    if result.drift is not None:
        lines += [f"drift against {result.drift['against']}: {x}" for x in result.drift["failures"]]
    verdict = "passed" if result.success else "failed"
    body = {
        **where,
        "allowed": result.success,
        "message": f"curate: suite {suite.name} {verdict} for {repo}@{source}"
        + ("" if result.success else ": " + "; ".join(lines)),
        "failures": lines,
        "result": result.to_dict(),
    }
    status = HTTPStatus.OK if result.success else HTTPStatus.PRECONDITION_FAILED
    return HookResponse(status=status, body=body)


class _Handler(BaseHTTPRequestHandler):
    server: HookServer
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: Mapping[str, Any]) -> None:
        data = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if urlsplit(self.path).path == HEALTH_PATH:
            self._send(HTTPStatus.OK, {"status": "ok", "suite": self.server.suite.name})
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"POST lakeFS events to {HOOK_PATH}"})

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path != HOOK_PATH:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"POST lakeFS events to {HOOK_PATH}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "event body too large"})
            return
        try:
            payload = json.loads(self.rfile.read(length) or b"null")
        except ValueError as e:
            self._send(HTTPStatus.BAD_REQUEST, {"allowed": False, "error": f"not JSON: {e}"})
            return
        try:
            suite = self.server.suite_for(parse_qs(url.query).get("suite", [None])[-1])
        except SuiteError as e:
            self._send(HTTPStatus.BAD_REQUEST, {"allowed": False, "error": str(e)})
            return
        with self.server.lock:
            try:
                answer = evaluate_event(payload, files=self.server.files, suite=suite)
            except Exception as e:  # answer 500 (blocks the merge) rather than drop the connection
                log.exception("hook: validation crashed")
                answer = HookResponse(status=HTTPStatus.INTERNAL_SERVER_ERROR,
                                      body={"allowed": False, "error": f"{type(e).__name__}: {e}"})
        log.info("hook: %s %s -> %d", payload.get("repository_id") if isinstance(payload, dict)
                 else "?", payload.get("source_ref") if isinstance(payload, dict) else "?",
                 answer.status)
        self._send(answer.status, answer.body)

    def log_message(self, format: str, *args: Any) -> None:  # route to logging, not stderr
        log.info("%s %s", self.address_string(), format % args)


class HookServer(ThreadingHTTPServer):
    """An HTTP server answering lakeFS events with :func:`evaluate_event`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, files: BuildFiles, suite: Suite) -> None:
        super().__init__(address, _Handler)
        self.files = files
        self.suite = suite
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{HOOK_PATH}"

    def suite_for(self, name: str | None) -> Suite:
        """The server's suite, or a shipped one named by the action's ``query_params.suite``
        (only shipped names: a repository's action file must not pick server files)."""
        if not name or name == self.suite.name:
            return self.suite
        from expectations import suite_names

        if name not in suite_names():
            raise SuiteError(f"suite {name!r} is not shipped (shipped: {', '.join(suite_names())})")
        return load_suite(name)


def serve(*, host: str, port: int, files: BuildFiles, suite: Suite,
          ready: Any = None) -> None:
    """Serve until interrupted; ``ready(server)`` is called once listening (tests, the CLI)."""
    try:
        server = HookServer((host, port), files=files, suite=suite)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}") from e
    with server:
        if ready is not None:
            ready(server)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
