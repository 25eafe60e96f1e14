"""The lakeFS pre-merge webhook, fed lakeFS-shaped events for builds on a local registry store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curate.fsio import sha256_of
from curate.validation.hook import HOOK_PATH, HookServer
from curate.validation.suites import load_suite
from registry.gate import StoreBuildFiles
from registry.local import LocalStore
from tests.validation.build_fixture import FixtureSpec

REPO = "asr-hooked"
ROOT = Path(__file__).resolve().parents[2]


def _event(source_ref: str, **overrides: Any) -> dict[str, Any]:
    """A pre-merge event as lakeFS sends it (docs: howto/hooks/webhooks, request body schema)."""
    return {
        "event_type": "pre-merge",
        "event_time": "2026-11-22T10:00:00Z",
        "action_name": "curate validation",
        "hook_id": "curate_validate",
        "repository_id": REPO,
        "branch_id": "main",
        "source_ref": source_ref,
        "commit_id": "",
        "commit_message": f"Register build from {source_ref}",
        "committer": "ci",
        "commit_metadata": {"curate.dataset": REPO},
        **overrides,
    }


def _push(store: LocalStore, build_dir: str, branch: str, *, merge: bool = False) -> None:
    """Upload every file of ``build_dir`` to a new branch from main and commit (and merge)."""
    store.create_branch(REPO, branch, source_ref="main")
    for dirpath, _, names in os.walk(build_dir):
        for name in names:
            local = os.path.join(dirpath, name)
            rel = os.path.relpath(local, build_dir).replace(os.sep, "/")
            store.upload_object(REPO, branch, rel, local_path=local, sha256=sha256_of(local))
    store.commit(REPO, branch, message=f"build {branch}", metadata={})
    if merge:
        store.merge(REPO, branch, "main", message=f"merge {branch}", metadata={})


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(tmp_path / "store")
    s.create_repository(REPO, default_branch="main")
    return s


@pytest.fixture
def hook(store: LocalStore) -> Iterator[HookServer]:
    server = HookServer(("127.0.0.1", 0), files=StoreBuildFiles(store),
                        suite=load_suite("asr_default"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


def _post(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_passing_build_is_allowed(hook, store, make_build):
    _push(store, make_build(), "build-good")
    status, body = _post(hook.url, _event("build-good"))
    assert status == 200, body
    assert body["allowed"] is True and body["failures"] == []
    assert body["result"]["success"] and body["result"]["drift"] is None  # main has no build yet
    assert body["drift_checked"] is False
    assert body["drift_skipped"] == f"no build on {REPO}@main to compare with"
    assert body["message"].endswith(f"(drift not checked: no build on {REPO}@main to compare with)")


def test_event_without_branch_id_says_drift_was_skipped(hook, store, make_build):
    """A payload without branch_id used to skip drift silently."""
    _push(store, make_build("v1"), "build-v1", merge=True)
    event = _event("build-v1")
    del event["branch_id"]
    status, body = _post(hook.url, event)
    assert status == 200 and body["drift_checked"] is False and body["result"]["drift"] is None
    assert "no branch_id" in body["drift_skipped"] and "drift not checked" in body["message"]
    status, body = _post(hook.url, _event("build-v1"))  # main holds that build now
    assert status == 200 and body["drift_checked"] is True and "drift_skipped" not in body


def test_failing_build_is_blocked_with_the_failed_expectations(hook, store, make_build):
    def clip(split: str, rows: list[dict]) -> None:
        rows[0]["clipping_ratio"] = 0.3

    _push(store, make_build(spec=FixtureSpec(leak_speakers=1), mutate=clip), "build-bad")
    status, body = _post(hook.url, _event("build-bad"))
    assert status == 412
    assert body["allowed"] is False
    failed = {(f["table"], f["column"], f["expectation"])
              for f in body["result"]["failed_expectations"]}
    assert failed == {
        ("examples", "clipping_ratio", "expect_column_values_to_be_between"),
        ("speakers", "num_splits", "expect_column_values_to_be_between"),
    }
    assert "examples.clipping_ratio: expect_column_values_to_be_between" in body["message"]
    assert any("num_splits=2" in line for line in body["failures"])


def test_drift_is_checked_against_the_destination_branch(hook, store, make_build):
    _push(store, make_build("v1"), "build-v1", merge=True)
    _push(store, make_build("v2", spec=FixtureSpec(duration_scale=1.8)), "build-v2")
    status, body = _post(hook.url, _event("build-v2"))
    assert status == 412
    assert body["result"]["failed"] == 0
    assert body["result"]["drift"]["against"] == f"{REPO}@main"
    assert any("duration_s: JS distance" in line for line in body["failures"])
    # An identical rebuild has nothing to commit (builds are deterministic): the merged branch
    # itself stands in for it.
    status, body = _post(hook.url, _event("build-v1"))
    assert status == 200
    assert set(body["result"]["drift"]["signals"][s]["distance"] for s in
               body["result"]["drift"]["signals"]) == {0.0}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        ([1, 2], "must be a JSON object"),
        ({"event_type": "pre-merge", "repository_id": REPO}, "field(s): source_ref"),
        (_event("build-x", branch_id=7), "branch_id must be a string"),
        (_event("x", event_type="post-merge"), "'post-merge' is not one this hook checks"),
        (_event("no-such-branch"), "no-such-branch"),
        (_event("main"), "dataset_info.json not found"),
    ],
)
def test_unusable_events_are_answered_400(hook, body, message):
    status, answer = _post(hook.url, body)
    assert status == 400
    assert answer["allowed"] is False and message in answer["error"]


def test_query_params_pick_only_shipped_suites(hook, store, make_build):
    _push(store, make_build(), "build-good")
    status, body = _post(hook.url + "?suite=asr_strict", _event("build-good"))
    assert status == 412 and body["result"]["suite"] == "asr_strict"
    status, body = _post(hook.url + "?suite=/etc/passwd", _event("build-good"))
    assert status == 400 and "is not shipped" in body["error"]


def test_curate_hook_serve_answers_lakefs(tmp_path, store, make_build):
    """The command itself, as lakeFS would reach it."""
    _push(store, make_build(), "build-good")
    proc = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "hook", "serve", "--port", "0",
         "--registry", str(tmp_path / "store")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, proc.stderr.read() if proc.poll() else line
        url = line.split("listening on ")[1].split()[0]
        assert url.endswith(HOOK_PATH)
        status, body = _post(url, _event("build-good"))
        assert status == 200 and body["allowed"] is True
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
