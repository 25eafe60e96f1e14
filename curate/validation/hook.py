"""The lakeFS pre-merge webhook as a network service: ``curate hook serve --port P``.

lakeFS POSTs a JSON event to the hook's URL before it merges (see
``docs/_lakefs_actions/pre-merge-validate.yaml``)::

    {"event_type": "pre-merge", "event_time": "…", "action_name": "…", "hook_id": "…",
     "repository_id": "asr-demo", "branch_id": "main", "source_ref": "build-1f2e…",
     "commit_id": "…", "commit_message": "…", "committer": "…", "commit_metadata": {…}}

:mod:`curate.validation.hook_event` decides the answer: 200 allows the merge, 412 with the failed
expectations and drift in the JSON body blocks it, 400 for an event it cannot use, 503 when the
store is unreachable, 500 for anything else. lakeFS blocks the merge on any non-2xx answer and
shows the body in the action's run log.

This module is the HTTP side, hardened for a network: every answer is JSON.

- **A shared secret.** lakeFS actions can send one either in a header (``properties.headers``)
  or in a query parameter (``properties.query_params``), with the value taken from the lakeFS
  server's environment (``{{ ENV.LAKEFSACTION_… }}``). The hook accepts exactly those two:
  the header :data:`SECRET_HEADER` or the query parameter :data:`SECRET_PARAM`, compared in
  constant time. Without one 401, with a wrong one 403, before the body is read. The server is
  started with the secret in an environment variable (never on the command line), and refuses
  to listen beyond loopback without one. The query parameter is masked in the log.
- **Request limits.** ``Content-Length`` is required (411 without it, or for a chunked body),
  must be digits only (400 for ``-1``, ``abc``, two headers that disagree) and at most
  :data:`MAX_BODY_BYTES` (413, the body unread). Bodies that are not JSON, are nested too
  deeply or hold numbers Python will not parse are 400.
- **Time limits.** Reading a request (line, headers and body) must finish within the request
  timeout, whatever the client does: a slow client gets 408 and its connection is closed, so it
  pins a thread for at most that long. One request per connection.
- **Bounded load.** At most :data:`MAX_CONNECTIONS` connections are served at once; more wait
  in the listen backlog for a slot, and are answered 503 if none frees up within the request
  timeout. Validations run one at a time.

The server is stdlib ``http.server``, bound to 127.0.0.1 unless told otherwise: put it next to the
lakeFS server, not on a public address.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from curate import strict_json
from curate.errors import UsageError
from curate.validation.errors import SuiteError
from curate.validation.hook_event import BuildFiles, HookResponse, evaluate_event
from curate.validation.suites import Suite, load_suite

__all__ = [
    "ENV_SECRET",
    "HOOK_PATH",
    "MAX_BODY_BYTES",
    "MAX_CONNECTIONS",
    "REQUEST_TIMEOUT_S",
    "SECRET_HEADER",
    "SECRET_PARAM",
    "BuildFiles",
    "HookResponse",
    "HookServer",
    "check_bind",
    "evaluate_event",
    "serve",
]

log = logging.getLogger(__name__)

HOOK_PATH = "/webhooks/validate"
HEALTH_PATH = "/healthz"
SECRET_HEADER = "X-Curate-Hook-Secret"
SECRET_PARAM = "secret"
ENV_SECRET = "CURATE_HOOK_SECRET"
MAX_BODY_BYTES = 1 << 20
REQUEST_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 16
_LINGER_S = 1.0
_DIGITS = re.compile(r"[0-9]{1,12}")
_MASK = re.compile(rf"({SECRET_PARAM}=)[^&\s]*")
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Connection: close\r\nContent-Length: 56\r\n\r\n"
         b'{"allowed": false, "error": "too many requests at once"}\n')


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    server: HookServer
    protocol_version = "HTTP/1.1"

    # --- one request per connection, read within the deadline -------------------------------

    def setup(self) -> None:
        # Every socket read and write; a little longer than the deadline below, which is what
        # ends a slow request (with an answer: a socket timeout would drop it silently).
        self.timeout = self.server.request_timeout_s + 1.0
        super().setup()
        self._timed_out = False
        self._deadline = threading.Timer(self.server.request_timeout_s, self._expire)
        self._deadline.daemon = True
        self._deadline.start()

    def _expire(self) -> None:
        """The request was not read in time: end the reading side, so a blocked read returns
        at once; the answer (408) can still be written."""
        self._timed_out = True
        try:
            self.connection.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def finish(self) -> None:
        self._deadline.cancel()
        try:
            super().finish()
        except OSError:  # the client is gone: nothing to flush to
            return
        self._linger()

    def _linger(self) -> None:
        """Close the way a web server does: stop writing, then drop what the client still
        sends (a body refused unread) for a moment. Closing with unread bytes would send a
        reset, and the client could lose the answer it has not read yet."""
        deadline = time.monotonic() + _LINGER_S
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                if not self.connection.recv(1 << 16):
                    break
        except OSError:
            pass

    # --- answers --------------------------------------------------------------------------

    def _send(self, status: int, body: Mapping[str, Any]) -> None:
        data = (strict_json.dumps(body, indent=2) + "\n").encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client went away (or stopped reading) before its answer
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, too many headers…), as JSON; a
        request cut short by the deadline is 408."""
        if self._timed_out:
            code, message = HTTPStatus.REQUEST_TIMEOUT, "request not received in time"
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.1"  # garbage is answered with a status line too
        self.close_connection = True
        self._send(code, {"allowed": False, "error": message or HTTPStatus(code).phrase})

    def parse_request(self) -> bool:
        """http.server's parsing, refusing what it would let through: an HTTP/0.9 request (no
        status line in the answer) and a request cut short by the deadline (whose headers
        may look complete)."""
        if not super().parse_request():
            return False
        if self._timed_out or self.request_version == "HTTP/0.9":
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/1.0 or 1.1 requests only")
            return False
        return True

    # --- GET /healthz, POST /webhooks/validate ---------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._deadline.cancel()
        if urlsplit(self.path).path == HEALTH_PATH:
            self._send(HTTPStatus.OK, {"status": "ok", "suite": self.server.suite.name})
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"POST lakeFS events to {HOOK_PATH}"})

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        try:
            if url.path != HOOK_PATH:
                raise _HttpError(HTTPStatus.NOT_FOUND, f"POST lakeFS events to {HOOK_PATH}")
            query = parse_qs(url.query, max_num_fields=32)
            self._authenticate(query)
            payload = self._read_event()
            suite = self.server.suite_for(query.get("suite", [None])[-1])
        except _HttpError as e:
            self._send(e.status, {"allowed": False, "error": str(e)})
            return
        except SuiteError as e:
            self._send(HTTPStatus.BAD_REQUEST, {"allowed": False, "error": str(e)})
            return
        except ValueError as e:  # parse_qs: more fields than allowed
            self._send(HTTPStatus.BAD_REQUEST, {"allowed": False, "error": f"bad query: {e}"})
            return
        with self.server.lock:
            try:
                answer = evaluate_event(payload, files=self.server.files, suite=suite)
            except Exception as e:  # answer 500 (blocks the merge) rather than drop the connection
                log.exception("hook: validation crashed")
                answer = HookResponse(status=HTTPStatus.INTERNAL_SERVER_ERROR,
                                      body={"allowed": False, "error": f"{type(e).__name__}: {e}"})
        event = payload if isinstance(payload, dict) else {}
        log.info("hook: %s %s -> %d", event.get("repository_id", "?"),
                 event.get("source_ref", "?"), answer.status)
        self._send(answer.status, answer.body)

    def _authenticate(self, query: Mapping[str, list[str]]) -> None:
        secret = self.server.secret
        if secret is None:
            return
        given = self.headers.get(SECRET_HEADER)
        if given is None and query.get(SECRET_PARAM):
            given = query[SECRET_PARAM][-1]
        if given is None:
            raise _HttpError(HTTPStatus.UNAUTHORIZED,
                             f"no secret: send the {SECRET_HEADER} header or the "
                             f"{SECRET_PARAM!r} query parameter")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode()):
            raise _HttpError(HTTPStatus.FORBIDDEN, "wrong secret")

    def _read_event(self) -> Any:
        if self.headers.get("Transfer-Encoding"):
            raise _HttpError(HTTPStatus.LENGTH_REQUIRED,
                             "send the event with a Content-Length, not chunked")
        values = self.headers.get_all("Content-Length") or []
        if not values:
            raise _HttpError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        texts = {v.strip() for v in values}
        if len(texts) != 1 or not _DIGITS.fullmatch(next(iter(texts))):
            raise _HttpError(HTTPStatus.BAD_REQUEST,
                             f"Content-Length must be one number of bytes, got {values!r:.80}")
        length = int(next(iter(texts)))
        if length > self.server.max_body_bytes:
            raise _HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                             f"event body of {length} bytes is larger than "
                             f"{self.server.max_body_bytes}")
        try:
            data = self.rfile.read(length)
        except (TimeoutError, OSError):
            data = b""
        if len(data) < length:
            if self._timed_out or not data:
                raise _HttpError(HTTPStatus.REQUEST_TIMEOUT, "request body not received in time")
            raise _HttpError(HTTPStatus.BAD_REQUEST,
                             f"body ended after {len(data)} of {length} bytes")
        self._deadline.cancel()  # read in time: the validation may take longer
        try:
            return json.loads(data or b"null")
        except RecursionError:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "not JSON: nested too deeply") from None
        except ValueError as e:  # also UnicodeDecodeError, and integers of > 4300 digits
            raise _HttpError(HTTPStatus.BAD_REQUEST, f"not JSON: {str(e)[:200]}") from None

    def log_message(self, format: str, *args: Any) -> None:  # route to logging, not stderr
        log.info("%s %s", self.address_string(), _MASK.sub(r"\1***", format % args))


class HookServer(ThreadingHTTPServer):
    """An HTTP server answering lakeFS events with :func:`evaluate_event`.

    ``secret``: the shared secret requests must carry (None: no check, for loopback only).
    """

    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        *,
        files: BuildFiles,
        suite: Suite,
        secret: str | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        super().__init__(address, _Handler)
        self.files = files
        self.suite = suite
        self.secret = secret or None
        self.request_timeout_s = request_timeout_s
        self.max_body_bytes = max_body_bytes
        self.lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._count_lock = threading.Lock()
        self.active_connections = 0
        self.peak_connections = 0  # the most connections served at once (never > the bound)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{HOOK_PATH}"

    def process_request(self, request: Any, client_address: Any) -> None:
        # All slots busy: wait (new connections queue in the listen backlog meanwhile); a slot
        # is held for at most the request timeout plus a validation, so this rarely fails.
        if not self._slots.acquire(timeout=self.request_timeout_s):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        with self._count_lock:
            self.active_connections += 1
            self.peak_connections = max(self.peak_connections, self.active_connections)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._count_lock:
            self.active_connections -= 1
        self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("hook: connection from %s ended with an error", client_address, exc_info=True)

    def suite_for(self, name: str | None) -> Suite:
        """The server's suite, or a shipped one named by the action's ``query_params.suite``
        (only shipped names: a repository's action file must not pick server files)."""
        if not name or name == self.suite.name:
            return self.suite
        from expectations import suite_names

        if name not in suite_names():
            raise SuiteError(f"suite {name!r} is not shipped (shipped: {', '.join(suite_names())})")
        return load_suite(name)


def _refuse_busy(request: socket.socket) -> None:
    """Answer 503 without a handler thread; read what the client sent first (closing with
    unread bytes would reset the connection before the answer is read)."""
    try:
        request.setblocking(False)
        try:
            request.recv(1 << 16)
        except BlockingIOError:
            pass
        request.settimeout(1.0)
        request.sendall(_BUSY)
        request.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, secret: str | None) -> None:
    """UsageError unless ``host`` is a loopback address or there is a shared ``secret``."""
    if not secret and not _is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} without a shared secret: set ${ENV_SECRET} (and send "
            f"it from the lakeFS action as the {SECRET_HEADER} header), or bind 127.0.0.1"
        )


def serve(*, host: str, port: int, files: BuildFiles, suite: Suite, secret: str | None = None,
          request_timeout_s: float = REQUEST_TIMEOUT_S, ready: Any = None) -> None:
    """Serve until interrupted; ``ready(server)`` is called once listening (tests, the CLI).
    Without a ``secret`` only a loopback address may be bound (:func:`check_bind`)."""
    check_bind(host, secret)
    try:
        server = HookServer((host, port), files=files, suite=suite, secret=secret,
                            request_timeout_s=request_timeout_s)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}") from e
    with server:
        if ready is not None:
            ready(server)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
