"""An in-process lakeFS REST server for tests: the endpoints ``registry.lakefs_store`` calls.

Usage::

    with lakefs_test_server() as server:
        store = LakeFSStore(endpoint_url=server.endpoint_url, access_key_id=server.access_key_id,
                            secret_access_key=server.secret_access_key,
                            storage_namespace_root=server.storage_namespace_root)
        server.fail_pre_merge("my-repo", "validation failed")  # next merges get 412

HTTP follows lakeFS's OpenAPI spec (``api/swagger.yml``): base path ``/api/v1``, HTTP basic auth
(401 ``{"message": "error authenticating request"}`` otherwise), JSON bodies (``Repository``,
``Ref``/``RefList``, ``Commit``/``CommitList``, ``ObjectStats``/``ObjectStatsList``,
``DiffList``, ``MergeResult``, ``Error``), 201 on create, 204 on delete, ranged object reads
(206/416). Object uploads are what the ``lakefs`` SDK sends: ``application/octet-stream``, often
chunked, user metadata in ``X-Lakefs-Meta-*`` headers. Anything else answers 501, so a missing
endpoint shows up as such rather than as a plausible 404. Semantics live in
``tests.registry.lakefs_model``.

The endpoints are the table ``_ROUTES`` at the end of this module, one handler per spec
``operationId`` (``getCommit`` also resolves branches and tags, as lakeFS's does).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.registry.lakefs_model import MAX_PER_PAGE, ApiError, CommitRecord, Entry, LakeFSModel

__all__ = ["LakeFSTestServer", "Request", "lakefs_test_server"]

BASE_PATH = "/api/v1"
COMMITTER = "curate-test"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True, kw_only=True)
class Request:
    """One request as the server saw it (no Authorization header is kept)."""

    method: str
    path: str  # without the base path, still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names, Authorization removed
    body_bytes: int


@dataclass(kw_only=True)
class LakeFSTestServer:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    storage_namespace_root: str
    model: LakeFSModel
    requests: list[Request] = field(default_factory=list, repr=False)

    def fail_pre_merge(self, repo: str, message: str, *, branch: str | None = None) -> None:
        """Make a pre-merge hook refuse every merge into ``branch`` (any branch if None) of
        ``repo`` with 412 until :meth:`clear_hooks`. ``repo`` need not exist yet."""
        self.model.fail_pre_merge(repo, message, branch)

    def clear_hooks(self) -> None:
        self.model.clear_hooks()

    def store(self) -> Any:
        """A :class:`registry.lakefs_store.LakeFSStore` talking to this server."""
        from registry.lakefs_store import LakeFSStore

        return LakeFSStore(
            endpoint_url=self.endpoint_url,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            storage_namespace_root=self.storage_namespace_root,
        )


@contextmanager
def lakefs_test_server(
    *, access_key_id: str = "AKIAIOSFOLCURATETEST", secret_access_key: str | None = None
) -> Iterator[LakeFSTestServer]:
    """Serve on 127.0.0.1 on a free port from a background thread, for the ``with`` block."""
    secret = secret_access_key or secrets.token_urlsafe(30)
    model = LakeFSModel()
    log: list[Request] = []
    handler = type(
        "Handler", (_Handler,), {"model": model, "credentials": (access_key_id, secret), "log": log}
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.block_on_close = False  # the SDK keeps connections alive; do not wait for them
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="lakefs-test-server",
        daemon=True,
    )
    thread.start()
    try:
        yield LakeFSTestServer(
            endpoint_url=f"http://127.0.0.1:{httpd.server_address[1]}",
            access_key_id=access_key_id,
            secret_access_key=secret,
            storage_namespace_root="local://curate-test",
            model=model,
            requests=log,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like lakeFS; every response has a length
    model: LakeFSModel
    credentials: tuple[str, str]
    log: list[Request]

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet; see LakeFSTestServer.requests

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
        path = url.path[len(BASE_PATH) :] if url.path.startswith(BASE_PATH + "/") else url.path
        self.log.append(
            Request(method=method, path=path, query=query, headers=headers, body_bytes=len(body))
        )
        try:
            if not self._authenticated():
                raise ApiError(401, "error authenticating request")
            route = _match(method, path) if url.path.startswith(BASE_PATH + "/") else None
            if route is None:
                raise ApiError(
                    501, f"not implemented by the lakeFS test server: {method} {url.path}"
                )
            handler, params = route
            handler(_Call(self.model, params, query, self.headers, body), self)
        except ApiError as exc:
            self.send_json(exc.status, exc.body)
        except Exception as exc:  # a bug in the test server: answer like lakeFS does, with 500
            self.send_json(500, {"message": f"lakeFS test server error: {exc!r}"})

    def _authenticated(self) -> bool:
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected_key, expected_secret = self.credentials
        return hmac.compare_digest(key, expected_key) and hmac.compare_digest(
            secret, expected_secret
        )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_json(self, status: int, payload: Any) -> None:
        self.send_bytes(status, (json.dumps(payload) + "\n").encode(), "application/json")

    def send_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@dataclass(frozen=True)
class _Call:
    model: LakeFSModel
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: Any
    body: bytes

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]

    def flag(self, name: str) -> bool:
        return self.arg(name, "false").lower() == "true"

    def amount(self) -> int | None:
        """The spec's ``PaginationAmount``: -1 to 1000 (-1 and 0 mean the default, 100)."""
        raw = self.arg("amount")
        try:
            amount = int(raw) if raw else None
        except ValueError:
            raise ApiError(400, f"invalid amount {raw!r}") from None
        if amount is not None and not -1 <= amount <= MAX_PER_PAGE:
            bound = "at most 1000" if amount > 0 else "at least -1"
            raise ApiError(400, f'parameter "amount" in query has an error: number must be {bound}')
        return amount

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except json.JSONDecodeError:
            raise ApiError(400, "request body is not JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "request body must be a JSON object")
        return data

    def required(self, data: dict[str, Any], schema: str, *names: str) -> list[Any]:
        missing = [n for n in names if not isinstance(data.get(n), str)]
        if missing:
            raise ApiError(400, "request body has an error: doesn't match schema "
                                f"#/components/schemas/{schema}: Error at \"/{missing[0]}\": "
                                f"property \"{missing[0]}\" is missing")
        return [data[n] for n in names]

    def path(self) -> str:
        if not self.arg("path"):
            raise ApiError(400, 'parameter "path" in query has an error: '
                                + ("empty value is not allowed" if "path" in self.query
                                   else "value is required but missing"))
        return self.arg("path")

    def no_delimiter(self) -> None:
        if self.arg("delimiter"):
            raise ApiError(501, "listing with a delimiter is not implemented by the test server")


# Handlers: (call, request handler) -> None. JSON shapes are the spec's schemas.


def _repository_json(repo: Any) -> dict[str, Any]:
    return {
        "id": repo.id,
        "creation_date": repo.creation_date,
        "default_branch": repo.default_branch,
        "storage_namespace": repo.storage_namespace,
        "storage_id": "",
        "read_only": False,
    }


def _commit_json(c: CommitRecord) -> dict[str, Any]:
    return {
        "id": c.id,
        "parents": list(c.parents),
        "committer": c.committer,
        "message": c.message,
        "creation_date": c.creation_date,
        "meta_range_id": c.meta_range_id,
        "metadata": dict(c.metadata),
        "generation": c.generation,
        "version": 1,
    }


def _stats_json(call: _Call, path: str, e: Entry, *, listing: bool = False) -> dict[str, Any]:
    """``ObjectStats``. lakeFS 1.86 leaves ``metadata`` out of a listing's entries that have
    none, and always puts it in a stat (``{}`` with ``user_metadata=false``)."""
    repo = call.model.repository(call.params["repo"])
    stats = {
        "path": path,
        "path_type": "object",
        "checksum": e.checksum,
        "mtime": e.mtime,
        "physical_address": f"{repo.storage_namespace.rstrip('/')}/data/{e.address}",
        "size_bytes": e.size,
        "content_type": e.content_type,
    }
    metadata = dict(e.metadata) if call.arg("user_metadata", "true").lower() == "true" else {}
    if metadata or not listing:
        stats["metadata"] = metadata
    return stats


def _list(results: list[Any], pagination: dict[str, Any]) -> dict[str, Any]:
    return {"pagination": pagination, "results": results}


def list_repositories(call: _Call, out: _Handler) -> None:
    page, pagination = call.model.list_repositories(
        call.arg("prefix"), call.arg("after"), call.amount()
    )
    out.send_json(200, _list([_repository_json(r) for r in page], pagination))


def create_repository(call: _Call, out: _Handler) -> None:
    data = call.json()
    name, namespace = call.required(data, "RepositoryCreation", "name", "storage_namespace")
    if data.get("sample_data"):
        raise ApiError(501, "sample data is not implemented by the test server")
    repo = call.model.create_repository(name, namespace, data.get("default_branch") or "main")
    out.send_json(201, _repository_json(repo))


def get_repository(call: _Call, out: _Handler) -> None:
    out.send_json(200, _repository_json(call.model.repository(call.params["repo"])))


def list_branches(call: _Call, out: _Handler) -> None:
    page, pagination = call.model.list_branches(
        call.params["repo"], call.arg("prefix"), call.arg("after"), call.amount()
    )
    out.send_json(200, _list([{"id": n, "commit_id": c} for n, c in page], pagination))


def create_branch(call: _Call, out: _Handler) -> None:
    name, source = call.required(call.json(), "BranchCreation", "name", "source")
    commit_id = call.model.create_branch(call.params["repo"], name, source)
    out.send_bytes(201, commit_id.encode(), "text/plain; charset=utf-8")  # the spec: text/html


def delete_branch(call: _Call, out: _Handler) -> None:
    call.model.delete_branch(call.params["repo"], call.params["branch"])
    out.send_empty(204)


def commit(call: _Call, out: _Handler) -> None:
    data = call.json()
    (message,) = call.required(data, "CommitCreation", "message")
    c = call.model.commit(
        call.params["repo"],
        call.params["branch"],
        COMMITTER,
        message,
        data.get("metadata") or {},
        bool(data.get("allow_empty")),
    )
    out.send_json(201, _commit_json(c))


def upload_object(call: _Call, out: _Handler) -> None:
    content_type = call.headers.get("Content-Type") or "application/octet-stream"
    if content_type.startswith("multipart/"):
        raise ApiError(501, "multipart uploads are not implemented by the test server")
    metadata = {  # lakeFS: extractLakeFSMetadata lower-cases the header names
        k.lower()[len("x-lakefs-meta-") :]: v
        for k, v in call.headers.items()
        if k.lower().startswith("x-lakefs-meta-")
    }
    path = call.path()
    entry = call.model.put_object(
        call.params["repo"],
        call.params["branch"],
        path,
        call.body,
        content_type=content_type,
        metadata=metadata,
        if_none_match=call.headers.get("If-None-Match"),
    )
    out.send_json(201, _stats_json(call, path, entry))


def delete_object(call: _Call, out: _Handler) -> None:
    call.model.delete_object(call.params["repo"], call.params["branch"], call.path())
    out.send_empty(204)


def get_commit(call: _Call, out: _Handler) -> None:
    out.send_json(
        200, _commit_json(call.model.get_commit(call.params["repo"], call.params["commit"]))
    )


def log_commits(call: _Call, out: _Handler) -> None:
    if any(call.arg(p) for p in ("objects", "prefixes", "since", "stop_at")):
        raise ApiError(501, "log filters are not implemented by the test server")
    page, pagination = call.model.log(
        call.params["repo"],
        call.params["ref"],
        call.arg("after"),
        call.amount(),
        call.flag("first_parent"),
    )
    out.send_json(200, _list([_commit_json(c) for c in page], pagination))


def diff_refs(call: _Call, out: _Handler) -> None:
    call.no_delimiter()
    page, pagination = call.model.diff(
        call.params["repo"],
        call.params["left"],
        call.params["right"],
        call.arg("type", "three_dot"),
        call.arg("prefix"),
        call.arg("after"),
        call.amount(),
    )
    results = [{"path": p, "type": t, "path_type": "object", "size_bytes": s} for p, t, s in page]
    out.send_json(200, _list(results, pagination))


def merge_into_branch(call: _Call, out: _Handler) -> None:
    data = call.json()
    if data.get("strategy") or data.get("squash_merge"):
        raise ApiError(
            501, "merge strategies and squash merges are not implemented by the test server"
        )
    reference = call.model.merge(
        call.params["repo"],
        call.params["source"],
        call.params["branch"],
        COMMITTER,
        data.get("message") or "",
        data.get("metadata") or {},
        bool(data.get("allow_empty") or data.get("force")),
    )
    out.send_json(200, {"reference": reference})


def get_object(call: _Call, out: _Handler) -> None:
    path = call.path()
    if call.flag("presign"):
        raise ApiError(501, "pre-signed URLs are not implemented by the test server")
    entry = call.model.stat_object(call.params["repo"], call.params["ref"], path)
    data = call.model.blobs[entry.address]
    headers = {"ETag": f'"{entry.checksum}"', "Last-Modified": formatdate(entry.mtime, usegmt=True)}
    spec = call.headers.get("Range")
    if spec is None:
        out.send_bytes(200, data, entry.content_type, headers)
        return
    span = _parse_range(spec, len(data))
    if span is None:
        message = json.dumps({"message": "Requested Range Not Satisfiable"}).encode()
        out.send_bytes(416, message, "application/json", {"Content-Range": f"bytes */{len(data)}"})
        return
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    out.send_bytes(206, data[start : end + 1], entry.content_type, headers)


def _parse_range(spec: str, length: int) -> tuple[int, int] | None:
    """lakeFS httputil.ParseRange: a single range; None when unsatisfiable for ``length``."""
    match = _RANGE.match(spec.strip())
    if not match or match.groups() == ("", ""):
        raise ApiError(416, "Requested Range Not Satisfiable")  # malformed: no Content-Range
    first, last = match.groups()
    if not first:  # suffix range: the last N bytes
        return (max(length - int(last), 0), length - 1) if int(last) > 0 else None
    start = int(first)
    end = min(int(last), length - 1) if last else length - 1
    return (start, end) if start <= length - 1 and end >= start else None


def stat_object(call: _Call, out: _Handler) -> None:
    path = call.path()
    out.send_json(
        200,
        _stats_json(
            call, path, call.model.stat_object(call.params["repo"], call.params["ref"], path)
        ),
    )


def list_objects(call: _Call, out: _Handler) -> None:
    call.no_delimiter()
    page, pagination = call.model.list_objects(
        call.params["repo"],
        call.params["ref"],
        call.arg("prefix"),
        call.arg("after"),
        call.amount(),
    )
    out.send_json(200, _list([_stats_json(call, p, e, listing=True) for p, e in page], pagination))


def list_tags(call: _Call, out: _Handler) -> None:
    page, pagination = call.model.list_tags(
        call.params["repo"], call.arg("prefix"), call.arg("after"), call.amount()
    )
    out.send_json(200, _list([{"id": t, "commit_id": c} for t, c in page], pagination))


def create_tag(call: _Call, out: _Handler) -> None:
    tag, ref = call.required(call.json(), "TagCreation", "id", "ref")
    out.send_json(
        201, {"id": tag, "commit_id": call.model.create_tag(call.params["repo"], tag, ref)}
    )


def get_config(call: _Call, out: _Handler) -> None:
    """A block store without import support: the registry copies builds into this server."""
    storage = {
        "blockstore_type": "mem",
        "blockstore_namespace_example": "mem://example-bucket/",
        "blockstore_namespace_ValidityRegex": "^(mem|local)://",
        "pre_sign_support": False,
        "pre_sign_support_ui": False,
        "import_support": False,
        "import_validity_regex": "^mem://",
    }
    out.send_json(200, {"version_config": {"version": "curate-test"}, "storage_config": storage})


_Route = Callable[[_Call, _Handler], None]
_ROUTES: list[tuple[str, re.Pattern[str], _Route]] = [
    (method, re.compile("^" + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", template) + "$"), handler)
    for method, template, handler in [
        ("GET", "/config", get_config),
        ("GET", "/repositories", list_repositories),
        ("POST", "/repositories", create_repository),
        ("GET", "/repositories/{repo}", get_repository),
        ("GET", "/repositories/{repo}/branches", list_branches),
        ("POST", "/repositories/{repo}/branches", create_branch),
        ("DELETE", "/repositories/{repo}/branches/{branch}", delete_branch),
        ("POST", "/repositories/{repo}/branches/{branch}/commits", commit),
        ("POST", "/repositories/{repo}/branches/{branch}/objects", upload_object),
        ("DELETE", "/repositories/{repo}/branches/{branch}/objects", delete_object),
        ("GET", "/repositories/{repo}/commits/{commit}", get_commit),
        ("GET", "/repositories/{repo}/refs/{ref}/commits", log_commits),
        ("GET", "/repositories/{repo}/refs/{left}/diff/{right}", diff_refs),
        ("POST", "/repositories/{repo}/refs/{source}/merge/{branch}", merge_into_branch),
        ("GET", "/repositories/{repo}/refs/{ref}/objects", get_object),
        ("GET", "/repositories/{repo}/refs/{ref}/objects/stat", stat_object),
        ("GET", "/repositories/{repo}/refs/{ref}/objects/ls", list_objects),
        ("GET", "/repositories/{repo}/tags", list_tags),
        ("POST", "/repositories/{repo}/tags", create_tag),
    ]
]


def _match(method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
    for route_method, pattern, handler in _ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return handler, {k: unquote(v) for k, v in match.groupdict().items()}
    return None
