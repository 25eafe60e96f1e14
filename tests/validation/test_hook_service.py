"""The lakeFS webhook as a network service (issue 16): every hole a red-team run found.

Requests are written byte for byte on raw sockets, so the tests send exactly what a hostile
client would (no HTTP library in between fixes them up). Timeouts are shortened to keep the
suite fast; a bounded load on loopback checks the server keeps answering and keeps its threads.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("registry.local", reason="registry.local not available yet")

from curate.errors import UsageError  # noqa: E402
from curate.validation.hook import (  # noqa: E402
    HOOK_PATH,
    SECRET_HEADER,
    HookServer,
    check_bind,
    serve,
)
from curate.validation.suites import load_suite  # noqa: E402
from registry.gate import StoreBuildFiles  # noqa: E402
from registry.local import LocalStore  # noqa: E402
from tests.validation.test_hook import REPO, _event, _push  # noqa: E402

pytestmark = pytest.mark.timeout(120)
SECRET = "s3cr3t-from-LAKEFSACTION_CURATE_HOOK_SECRET"
TIMEOUT_S = 0.6


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(tmp_path / "store")
    s.create_repository(REPO, default_branch="main")
    return s


def _start(server: HookServer) -> Iterator[HookServer]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def hook(store: LocalStore) -> Iterator[HookServer]:
    yield from _start(HookServer(("127.0.0.1", 0), files=StoreBuildFiles(store),
                                 suite=load_suite("asr_default"),
                                 secret=SECRET, request_timeout_s=TIMEOUT_S,
                                 max_connections=8))


def _raw(server: HookServer, data: bytes, *, pause_after: int | None = None,
         pause_s: float = 0.0, read_timeout: float = 30.0) -> tuple[int, dict[str, Any]]:
    """Send ``data`` (optionally stalling after ``pause_after`` bytes) and read one answer."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=read_timeout) as sock:
        try:
            if pause_after is None:
                sock.sendall(data)
            else:
                sock.sendall(data[:pause_after])
                time.sleep(pause_s)
                sock.sendall(data[pause_after:])
        except OSError:
            pass  # the server may have answered and closed already
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    while True:
        head, _, answer = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status >= 200:  # (skip an interim '100 Continue')
            return status, json.loads(answer)


def _post(body: bytes, *, headers: dict[str, str] | None = None, path: str = HOOK_PATH,
          length: str | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: hook", "Content-Type: application/json"]
    all_headers = {SECRET_HEADER: SECRET, **(headers or {})}
    if length is not None or "Transfer-Encoding" not in all_headers:
        all_headers.setdefault("Content-Length", length if length is not None else str(len(body)))
    lines += [f"{k}: {v}" for k, v in all_headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- request limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({"Content-Length": "-1"}, b"{}", 400, "Content-Length must be one number"),
        ({"Content-Length": "abc"}, b"{}", 400, "Content-Length must be one number"),
        ({"Content-Length": "1e3"}, b"{}", 400, "Content-Length must be one number"),
        ({"Content-Length": str(10**15)}, b"{}", 400, "Content-Length must be one number"),
        ({"Content-Length": str(2 << 20)}, b"{}", 413, "larger than 1048576"),
        ({"Content-Length": None}, b"{}", 411, "Content-Length header is required"),
        ({"Transfer-Encoding": "chunked"}, b"2\r\n{}\r\n0\r\n\r\n", 411, "not chunked"),
        ({}, b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        ({}, b'{"a": ' + b"9" * 5000 + b"}", 400, "not JSON"),
        ({}, b"\xff\xfe{}", 400, "not JSON"),
    ],
)
def test_malformed_requests_get_the_right_4xx_instead_of_a_dropped_connection(
    hook, headers, body, status, message
):
    """Content-Length -1 used to bypass the body limit; 'abc' and deeply nested JSON dropped
    the connection without an answer."""
    got, answer = _raw(hook, _post(body, headers=headers))
    assert got == status, answer
    assert answer["allowed"] is False and message in answer["error"], answer


def test_two_content_lengths_that_disagree_are_refused(hook):
    request = _post(b"{}", length="2").replace(b"Content-Length: 2\r\n",
                                               b"Content-Length: 2\r\nContent-Length: 9\r\n")
    assert _raw(hook, request)[0] == 400


def test_garbage_request_line_and_too_many_headers_are_answered_in_json(hook):
    status, answer = _raw(hook, b"\x00\x01 not http\r\n\r\n")
    assert status == 400 and answer["allowed"] is False
    many = "".join(f"X-{i}: y\r\n" for i in range(200))
    status, answer = _raw(hook, f"POST {HOOK_PATH} HTTP/1.1\r\n{many}\r\n".encode())
    assert status == 431


# --- time limits ------------------------------------------------------------------------------


@pytest.mark.parametrize("stall_in", ["headers", "body"])
def test_slow_client_gets_408_within_the_request_timeout(hook, stall_in):
    """No socket timeout used to let a slow client pin a server thread forever."""
    request = _post(json.dumps(_event("build-x")).encode())
    cut = 20 if stall_in == "headers" else len(request) - 5
    start = time.monotonic()
    status, answer = _raw(hook, request, pause_after=cut, pause_s=3 * TIMEOUT_S)
    assert status == 408 and "in time" in answer["error"]
    assert time.monotonic() - start < 3 * TIMEOUT_S + 2.0


def test_trickling_client_cannot_stretch_the_deadline(hook):
    """One byte at a time, each inside the socket timeout: the whole request still has to
    arrive within the request timeout."""
    host, port = hook.server_address[:2]
    request = _post(json.dumps(_event("build-x")).encode())
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=30) as sock:
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(TIMEOUT_S / 4)
        except OSError:
            pass
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408") or answer == b"", answer[:80]
    assert time.monotonic() - start < TIMEOUT_S + 3.0


# --- the shared secret ------------------------------------------------------------------------


def test_requests_without_the_secret_are_refused_before_the_body_is_read(hook, caplog):
    event = json.dumps(_event("build-x")).encode()
    status, answer = _raw(hook, _post(event, headers={SECRET_HEADER: None}))
    assert status == 401 and SECRET_HEADER in answer["error"]
    status, answer = _raw(hook, _post(event, headers={SECRET_HEADER: "guess"}))
    assert status == 403 and answer["error"] == "wrong secret"
    status, answer = _raw(hook, _post(b"x" * 4096, headers={SECRET_HEADER: "guess"}))
    assert status == 403  # the answer arrives although the body was never read
    # lakeFS's other way: the secret as a query parameter, kept out of the log
    with caplog.at_level(logging.INFO, logger="curate.validation.hook"):
        status, answer = _raw(hook, _post(event, headers={SECRET_HEADER: None},
                                          path=f"{HOOK_PATH}?suite=asr_default&secret={SECRET}"))
    assert status == 400 and "no build at" in answer["error"]  # authenticated: validated
    assert SECRET not in caplog.text and "secret=***" in caplog.text


def test_the_secret_header_and_query_parameter_are_what_lakefs_sends(hook, store, make_build):
    """lakeFS actions add a secret as a header or a query parameter (properties.headers,
    properties.query_params, value from {{ ENV.LAKEFSACTION_… }}): both are accepted."""
    _push(store, make_build(), "build-good")
    event = json.dumps(_event("build-good")).encode()
    assert _raw(hook, _post(event))[0] == 200
    query = f"{HOOK_PATH}?secret={SECRET}"
    assert _raw(hook, _post(event, headers={SECRET_HEADER: None}, path=query))[0] == 200
    action = (Path(__file__).resolve().parents[2] / "docs" / "_lakefs_actions"
              / "pre-merge-validate.yaml").read_text()
    assert f"{SECRET_HEADER}: \"{{{{ ENV.LAKEFSACTION_CURATE_HOOK_SECRET }}}}\"" in action


def test_serve_refuses_a_public_address_without_a_secret(store):
    with pytest.raises(UsageError, match="without a shared secret"):
        serve(host="0.0.0.0", port=0, files=StoreBuildFiles(store), suite=load_suite("asr_default"))
    with pytest.raises(UsageError, match="without a shared secret"):
        check_bind("10.1.2.3", None)
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", SECRET)


# --- the hook's path escape ---------------------------------------------------------------------


class _PushedObjects:
    """Build files serving whatever objects a hostile build pushed (lakeFS keys are any
    string): a :class:`curate.validation.hook.BuildFiles`."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.written: list[str] = []

    def download(self, repo: str, ref: str, path: str, dest: str) -> bool:
        if path not in self.objects:
            return False
        self.written.append(dest)
        with open(dest, "wb") as f:
            f.write(self.objects[path])
        return True


def test_split_name_in_a_pushed_build_cannot_make_the_hook_write_outside_its_directory(
    tmp_path, make_build
):
    """A pushed build whose split is '../../../../tmp/x' made the hook write attacker-chosen
    bytes to any *.parquet path."""
    from curate.validation.hook_event import evaluate_event

    build = Path(make_build())
    info = json.loads((build / "dataset_info.json").read_text())
    target = tmp_path / "victim" / "x"
    escape = os.path.relpath(target, "/tmp/curate-hook-xxxx/source/manifest")
    info["splits"][escape] = info["splits"].pop("train")
    store = _PushedObjects({
        "dataset_info.json": json.dumps(info).encode(),
        f"manifest/{escape}.parquet": b"attacker-chosen bytes",
    })
    answer = evaluate_event(_event("build-evil"), files=store, suite=load_suite("asr_default"))
    assert answer.status == 400 and "split name" in answer.body["error"], answer.body
    assert not (tmp_path / "victim").exists()
    assert all(p.endswith("dataset_info.json") for p in store.written)


# --- a bounded load on loopback ---------------------------------------------------------------


def test_bounded_load_on_loopback_every_client_is_answered_and_no_thread_leaks(hook):
    """64 clients at once against 8 connection slots: health checks, malformed requests,
    unauthenticated ones and slow clients all get their answer (never a hang), no more than 8
    are served at once, and the server's threads go back to where they were."""
    before = threading.active_count()
    kinds = {
        "health": (b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", {200}),
        "bad_length": (_post(b"{}", headers={"Content-Length": "-1"}), {400}),
        "no_secret": (_post(b"{}", headers={SECRET_HEADER: None}), {401}),
        "not_json": (_post(b"{nope"), {400}),
    }
    results: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    def client(name: str, slow: bool) -> None:
        data, _ = kinds[name]
        try:
            if slow:
                results.append((name, _raw(hook, data, pause_after=10, pause_s=2 * TIMEOUT_S)[0]))
            else:
                results.append((name, _raw(hook, data)[0]))
        except BaseException as e:  # collected: a thread's failure must fail the test
            errors.append(e)

    threads = [threading.Thread(target=client, args=(name, i % 8 == 0))
               for i, name in enumerate(list(kinds) * 16)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - start
    assert not errors, errors[:3]
    assert len(results) == 64
    for name, status in results:  # a slow client stalled inside its headers: 408
        assert status in kinds[name][1] | {408}, (name, status)
    assert hook.peak_connections == 8 and hook.active_connections == 0
    assert elapsed < 30, elapsed
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before
    assert _raw(hook, kinds["health"][0])[0] == 200  # still serving


def test_validation_refuses_a_build_whose_split_name_is_a_path(make_build):
    """Every reader of a build checks split names with the config's rule: validation too."""
    from curate.validation.errors import BuildReadError
    from curate.validation.tables import BuildDir

    build = Path(make_build())
    info = json.loads((build / "dataset_info.json").read_text())
    info["splits"]["../escaped"] = info["splits"].pop("train")
    (build / "dataset_info.json").write_text(json.dumps(info))
    with pytest.raises(BuildReadError, match="split name '../escaped' must be letters"):
        BuildDir.open(build)
    with pytest.raises(BuildReadError, match="split name"):
        BuildDir(root=str(build), info={"splits": {}}).manifest("../../x")
