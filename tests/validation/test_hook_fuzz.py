"""Property-based tests of the webhook's request handling: no request makes it crash or hang.

Requests are assembled from fragments a hostile client would send (any method and path, any
headers, ``Content-Length`` of any text, any body) and written on raw sockets to a live server;
every one must get an HTTP answer with a JSON body within the request timeout. Events of any
JSON shape must get an answer from :func:`evaluate_event` (never an exception).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curate.validation.hook import HOOK_PATH, SECRET_HEADER, HookServer
from curate.validation.hook_event import evaluate_event
from curate.validation.suites import load_suite
from tests.fuzz import fuzz_settings
from tests.validation.test_hook_service import _raw, _start

pytestmark = pytest.mark.timeout(300)
SECRET = "fuzz-secret"
TIMEOUT_S = 0.25


class _NoBuilds:
    """Build files of nothing: every event names a ref without a build."""

    def download(self, repo: str, ref: str, path: str, dest: str) -> bool:
        return False


@pytest.fixture(scope="module")
def server() -> Iterator[HookServer]:
    yield from _start(HookServer(("127.0.0.1", 0), files=_NoBuilds(),
                                 suite=load_suite("asr_default"), secret=SECRET,
                                 request_timeout_s=TIMEOUT_S))


_TOKENS = st.sampled_from(["-1", "abc", "0", "5", "99999999999999999999", " 3", "1e3", "", "\t"])
_HEADER_NAMES = st.sampled_from(["Content-Length", "Transfer-Encoding", SECRET_HEADER,
                                 "Content-Type", "Expect", "X-Any", "Host", "Connection"])
_HEADER_VALUES = st.one_of(_TOKENS, st.sampled_from([SECRET, "chunked", "100-continue",
                                                     "keep-alive", "application/json"]),
                           st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12))
_BODIES = st.one_of(
    st.binary(max_size=64),
    st.recursive(st.one_of(st.none(), st.integers(), st.text(max_size=8)),
                 lambda inner: st.one_of(st.lists(inner, max_size=3),
                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                 max_leaves=10).map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
)


@st.composite
def requests(draw) -> bytes:
    method = draw(st.sampled_from(["POST", "GET", "PUT", "HEAD", "DELETE", "BREW", ""]))
    path = draw(st.sampled_from([HOOK_PATH, f"{HOOK_PATH}?secret={SECRET}", "/healthz", "/",
                                 f"{HOOK_PATH}?suite=/etc/passwd", "*", "//x/../y"]))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/0.9", "HTTP/2", "", "X"]))
    headers = draw(st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=5))
    body = draw(_BODIES)
    if draw(st.booleans()):  # most requests say their length truthfully
        headers.append(("Content-Length", str(len(body))))
    if draw(st.booleans()):
        headers.append((SECRET_HEADER, SECRET))
    line = " ".join(part for part in (method, path, version) if part)
    head = "\r\n".join([line, *(f"{k}: {v}" for k, v in headers)]) + "\r\n\r\n"
    return head.encode("latin-1", "replace") + body


@fuzz_settings(60)
@given(requests())
def test_any_request_gets_a_json_answer_within_the_timeout(server, request):
    start = time.monotonic()
    status, answer = _raw(server, request, read_timeout=10)
    assert 200 <= status < 600 and isinstance(answer, dict), (status, answer)
    assert time.monotonic() - start < TIMEOUT_S + 3.0
    assert status < 500 or status == 501, (status, answer)  # nothing the client sends is a crash


@fuzz_settings(200)
@given(st.one_of(
    st.dictionaries(st.sampled_from(["event_type", "repository_id", "branch_id", "source_ref",
                                     "commit_metadata"]),
                    st.one_of(st.none(), st.integers(), st.text(max_size=10),
                              st.sampled_from(["pre-merge", "pre-commit", "main", "../x"]),
                              st.lists(st.integers(), max_size=2)), max_size=5),
    st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3), max_leaves=6),
))
def test_any_event_payload_gets_an_answer(payload):
    answer = evaluate_event(payload, files=_NoBuilds(), suite=load_suite("asr_default"))
    assert answer.status == 400 and answer.body["allowed"] is False, answer
