"""SDK and HTTP errors become registry errors, in one place, with the SDK error as the cause."""

from __future__ import annotations

import hashlib
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import lakefs.exceptions
import lakefs_sdk.exceptions
import pytest
import urllib3.exceptions

from registry.errors import (
    ConflictError,
    HookFailedError,
    NotFoundError,
    RegistryError,
    StoreUnavailableError,
)
from registry.lakefs_errors import lakefs_errors, translate
from registry.lakefs_store import LakeFSStore
from tests.registry.lakefs_server import LakeFSTestServer, lakefs_test_server


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, RegistryError),
        (401, StoreUnavailableError),
        (403, StoreUnavailableError),
        (404, NotFoundError),
        (409, ConflictError),
        (412, HookFailedError),
        (429, StoreUnavailableError),
        (500, StoreUnavailableError),
        (503, StoreUnavailableError),
        (418, RegistryError),
    ],
)
def test_status_table(status: int, error_type: type[RegistryError]) -> None:
    body = b'{"message": "the server says"}'
    for exc in (
        lakefs.exceptions.ServerException(status, "Reason", body),
        lakefs_sdk.exceptions.ApiException(status=status, reason="Reason"),
    ):
        error = translate(exc, "do something")
        assert type(error) is error_type
        assert str(error).startswith("do something: ")
        assert f"lakeFS HTTP {status}" in str(error)


def test_message_comes_from_the_error_body() -> None:
    exc = lakefs.exceptions.ServerException(404, "Not Found", b'{"message": "branch not found"}')
    assert (
        str(translate(exc, "delete branch 'b'"))
        == "delete branch 'b': branch not found (lakeFS HTTP 404)"
    )


def test_body_without_message_falls_back_to_the_status_phrase() -> None:
    # lakeFS answers a merge conflict with a MergeResult body, not an Error.
    exc = lakefs.exceptions.ServerException(409, "Conflict", b'{"reference": ""}')
    assert str(translate(exc, "merge")) == "merge: conflict (lakeFS HTTP 409)"


@pytest.mark.parametrize(
    "message",
    ["commit: no changes", "update branch main: main: uncommitted changes (dirty branch)"],
)
def test_no_changes_and_dirty_branch_are_conflicts(message: str) -> None:
    exc = lakefs.exceptions.BadRequestException(
        400, "Bad Request", f'{{"message": "{message}"}}'.encode()
    )
    assert type(translate(exc, "commit")) is ConflictError


def test_an_invalid_action_file_is_a_hook_failure_not_an_unavailable_server() -> None:
    """Regression (found against real lakeFS 1.86): an action file lakeFS cannot parse fails
    every commit with HTTP 500, which was reported as "store unavailable" (exit 3)."""
    message = ("prepare-commit hook aborted, run id '4oj0r49ksdu88u71srog': 1 error occurred:\n\t* "
               "parsing file _lakefs_actions/a.yaml: 'on' is required: invalid action")
    body = json.dumps({"message": message}).encode()
    error = translate(lakefs.exceptions.ServerException(500, "Internal Server Error", body), "commit")
    assert type(error) is HookFailedError and "invalid action" in str(error)


def test_other_bad_requests_are_plain_registry_errors() -> None:
    exc = lakefs.exceptions.BadRequestException(
        400, "Bad Request", b'{"message": "repository id: invalid value"}'
    )
    assert type(translate(exc, "create repository")) is RegistryError


def test_transport_errors_mean_unavailable() -> None:
    exc = urllib3.exceptions.MaxRetryError(None, "/api/v1/repositories", reason=None)
    error = translate(exc, "list repositories", server="http://10.0.0.1:8000")
    assert type(error) is StoreUnavailableError
    assert str(error) == (
        "list repositories: cannot reach the lakeFS server at http://10.0.0.1:8000 (MaxRetryError)"
    )


def test_ssl_failure_wrapped_with_status_zero_means_unavailable() -> None:
    exc = lakefs_sdk.exceptions.ApiException(status=0, reason="SSLError")
    assert type(translate(exc, "get")) is StoreUnavailableError


def test_other_sdk_failures_are_named() -> None:
    exc = lakefs.exceptions.TransactionException("failed committing transaction tx-1")
    error = translate(exc, "commit")
    assert type(error) is RegistryError
    assert str(error) == (
        "commit: lakeFS SDK error (TransactionException: failed committing transaction tx-1)"
    )


def test_secrets_are_masked_in_messages() -> None:
    exc = lakefs.exceptions.ServerException(400, "Bad", b'{"message": "echo: hunter2-secret"}')
    assert "hunter2-secret" not in str(translate(exc, "x", secrets=["hunter2-secret"]))


def test_context_manager_keeps_the_cause_and_passes_registry_errors_through() -> None:
    original = lakefs.exceptions.NotFoundException(404, "Not Found", b'{"message": "not found"}')
    with pytest.raises(NotFoundError) as info, lakefs_errors("stat 'x'"):
        raise original
    assert info.value.__cause__ is original
    with pytest.raises(ConflictError) as passed, lakefs_errors("anything"):
        raise ConflictError("mine")
    assert str(passed.value) == "mine"
    with pytest.raises(KeyError), lakefs_errors("anything"):  # programming errors stay themselves
        raise KeyError("x")


# Against the test server: real SDK, real HTTP.


@pytest.fixture(scope="module")
def server() -> Iterator[LakeFSTestServer]:
    with lakefs_test_server() as srv:
        yield srv


@pytest.fixture
def store(server: LakeFSTestServer) -> LakeFSStore:
    return server.store()


@pytest.fixture
def repo(store: LakeFSStore) -> str:
    name = f"errors-{uuid.uuid4().hex[:12]}"
    store.create_repository(name)
    return name


def _write(tmp_path: Path, name: str, data: bytes) -> tuple[str, str]:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path), hashlib.sha256(data).hexdigest()


def test_unknown_ref_repository_and_object_are_not_found(store: LakeFSStore, repo: str) -> None:
    with pytest.raises(NotFoundError, match="commit not found") as info:
        store.get_commit(repo, "v99")
    assert isinstance(info.value.__cause__, lakefs.exceptions.NotFoundException)
    with pytest.raises(NotFoundError, match="repository not found"):
        store.get_commit("no-such-repo", "main")
    with pytest.raises(NotFoundError):
        store.stat_object(repo, "main", "absent.bin")
    with pytest.raises(NotFoundError):
        store.create_branch(repo, "b", source_ref="no-such-ref")


def test_existing_repository_branch_and_tag_are_conflicts(store: LakeFSStore, repo: str) -> None:
    with pytest.raises(ConflictError):
        store.create_repository(repo)
    store.create_branch(repo, "dup", source_ref="main")
    with pytest.raises(ConflictError):
        store.create_branch(repo, "dup", source_ref="main")
    store.create_tag(repo, "v1", "main")
    with pytest.raises(ConflictError):
        store.create_tag(repo, "v1", "main")


def test_commit_without_changes_is_a_conflict(store: LakeFSStore, repo: str) -> None:
    with pytest.raises(ConflictError, match="no changes"):
        store.commit(repo, "main", message="nothing", metadata={})


def test_merge_conflict(store: LakeFSStore, repo: str, tmp_path: Path) -> None:
    for branch, content in (("left", b"left"), ("right", b"right")):
        store.create_branch(repo, branch, source_ref="main")
        local, sha = _write(tmp_path, branch, content)
        store.upload_object(repo, branch, "same/path", local_path=local, sha256=sha)
        store.commit(repo, branch, message=branch, metadata={})
    store.merge(repo, "left", "main", message="first", metadata={})
    with pytest.raises(ConflictError, match="merge 'right' into 'main'") as info:
        store.merge(repo, "right", "main", message="second", metadata={})
    assert info.value.__cause__ is not None


def test_failing_pre_merge_hook_is_hook_failed_412(
    store: LakeFSStore, repo: str, server: LakeFSTestServer, tmp_path: Path
) -> None:
    store.create_branch(repo, "build", source_ref="main")
    local, sha = _write(tmp_path, "a", b"a")
    store.upload_object(repo, "build", "a", local_path=local, sha256=sha)
    store.commit(repo, "build", message="build", metadata={})
    head = store.get_commit(repo, "main").id
    server.fail_pre_merge(repo, "expectation suite failed: 3 of 40 checks")
    try:
        with pytest.raises(HookFailedError, match="expectation suite failed") as info:
            store.merge(repo, "build", "main", message="merge", metadata={})
        assert "412" in str(info.value)
        assert getattr(info.value.__cause__, "status_code", None) == 412
        assert store.get_commit(repo, "main").id == head  # the branch did not move
    finally:
        server.clear_hooks()
    store.merge(repo, "build", "main", message="merge", metadata={})


def test_bad_credentials_mean_unavailable(server: LakeFSTestServer) -> None:
    store = LakeFSStore(
        endpoint_url=server.endpoint_url,
        access_key_id=server.access_key_id,
        secret_access_key="wrong-secret-value",
    )
    with pytest.raises(StoreUnavailableError, match="error authenticating request") as info:
        store.list_repositories()
    assert "401" in str(info.value)


def test_connection_refused_means_unavailable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = LakeFSStore(
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key_id="AKIA",
        secret_access_key="s3cret-value",
    )
    with pytest.raises(
        StoreUnavailableError, match=f"cannot reach the lakeFS server at http://127.0.0.1:{port}"
    ) as info:
        store.repository_exists("anything")
    assert isinstance(info.value.__cause__, urllib3.exceptions.HTTPError)


def test_invalid_names_are_registry_errors(store: LakeFSStore, repo: str) -> None:
    # The SDK's models check a repository name before sending it; the server checks it too.
    with pytest.raises(RegistryError, match="invalid argument .name: must validate"):
        store.create_repository("Not_Valid")
    with pytest.raises(RegistryError, match="branch id: invalid value"):
        store.create_branch(repo, "bad/name", source_ref="main")


def test_deleting_the_default_branch_is_refused_not_unavailable(
    store: LakeFSStore, repo: str
) -> None:
    with pytest.raises(RegistryError, match="cannot delete repository default branch") as info:
        store.delete_branch(repo, "main")
    assert type(info.value) is RegistryError
