"""Credentials never show up in exceptions, logs, reprs or what the store writes to lakeFS."""

from __future__ import annotations

import hashlib
import logging
import socket
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.errors import RegistryError
from registry.lakefs_store import LakeFSStore
from tests.registry.lakefs_server import LakeFSTestServer, lakefs_test_server

SECRET = "Zq7-very-secret-access-key-4f9d2c"
ACCESS_KEY = "AKIAIOSFOLLEAKTEST01"


@pytest.fixture(scope="module")
def server() -> Iterator[LakeFSTestServer]:
    with lakefs_test_server(access_key_id=ACCESS_KEY, secret_access_key=SECRET) as srv:
        yield srv


@pytest.fixture
def store(server: LakeFSTestServer) -> LakeFSStore:
    return LakeFSStore(
        endpoint_url=server.endpoint_url,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET,
        storage_namespace_root=server.storage_namespace_root,
    )


def _everything_about(error: BaseException) -> str:
    """Message, repr and the full printed traceback, causes included."""
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


def test_repr_of_the_store_hides_the_secret(store: LakeFSStore) -> None:
    assert SECRET not in repr(store) and SECRET not in str(store)
    assert ACCESS_KEY in repr(store)


def test_errors_from_every_kind_of_failure_hide_the_secret(
    store: LakeFSStore, server: LakeFSTestServer
) -> None:
    failures: list[BaseException] = []
    wrong = LakeFSStore(
        endpoint_url=server.endpoint_url, access_key_id=ACCESS_KEY, secret_access_key=SECRET + "x"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    unreachable = LakeFSStore(
        endpoint_url=f"http://127.0.0.1:{dead_port}",
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET,
    )
    for call in (
        lambda: wrong.list_repositories(),  # 401
        lambda: unreachable.list_branches("any-repo"),  # connection refused
        lambda: store.get_commit("no-such-repo", "main"),  # 404
        lambda: store.create_repository("Bad_Name"),  # client-side validation
        lambda: store.create_branch("no-such-repo", "b", source_ref="main"),
    ):
        with pytest.raises(RegistryError) as info:
            call()
        failures.append(info.value)
    for error in failures:
        text = _everything_about(error)
        assert SECRET not in text
        assert "Authorization" not in text and "Basic " not in text


def test_a_full_workflow_logs_nothing_secret(
    store: LakeFSStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (None, "urllib3", "lakefs_sdk", "lakefs"):
        caplog.set_level(logging.DEBUG, logger=name)
    repo = f"leak-{uuid.uuid4().hex[:10]}"
    local = tmp_path / "shard"
    local.write_bytes(b"payload")
    sha = hashlib.sha256(b"payload").hexdigest()
    store.create_repository(repo)
    store.create_branch(repo, "build", source_ref="main")
    store.upload_object(repo, "build", "data/shard", local_path=str(local), sha256=sha)
    commit = store.commit(repo, "build", message="build", metadata={"fingerprint": "abc"})
    merged = store.merge(repo, "build", "main", message="merge", metadata={})
    store.create_tag(repo, "v1", merged)
    store.download_object(repo, "v1", "data/shard", dest_path=str(tmp_path / "copy"))
    with pytest.raises(RegistryError):
        store.get_commit(repo, "v2")
    assert any(r.name.startswith("urllib3") for r in caplog.records), "no DEBUG log captured"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in repr(commit)
    for value in store.get_commit(repo, "v1").metadata.values():
        assert SECRET not in value


def test_credentials_are_sent_only_as_basic_auth(
    store: LakeFSStore, server: LakeFSTestServer
) -> None:
    store.list_repositories()
    request = server.requests[-1]
    assert "authorization" not in request.headers  # the server's log drops it
    for name, value in request.headers.items():
        assert SECRET not in value, name
    for values in request.query.values():
        assert all(SECRET not in v for v in values)


def test_constructing_a_store_leaves_logging_levels_alone(server: LakeFSTestServer) -> None:
    # Regression: lakefs_sdk's Configuration sets the urllib3 logger to WARNING process-wide.
    urllib3_logger = logging.getLogger("urllib3")
    before = urllib3_logger.level
    urllib3_logger.setLevel(logging.DEBUG)
    try:
        LakeFSStore(
            endpoint_url=server.endpoint_url, access_key_id=ACCESS_KEY, secret_access_key=SECRET
        )
        assert urllib3_logger.level == logging.DEBUG
    finally:
        urllib3_logger.setLevel(before)
