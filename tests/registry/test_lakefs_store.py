"""What is specific to LakeFSStore (the shared behaviour is in test_store_contract.py):
pagination mapped onto lakeFS's, sha256 as user metadata, streaming, threads, lakeFS semantics."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from registry.errors import IntegrityError, NotFoundError, RegistryError
from registry.lakefs_store import LakeFSStore
from registry.store import DiffEntry, DiffType, paginate
from tests.registry.lakefs_server import LakeFSTestServer, lakefs_test_server


@pytest.fixture(scope="module")
def server() -> Iterator[LakeFSTestServer]:
    with lakefs_test_server() as srv:
        yield srv


@pytest.fixture
def store(server: LakeFSTestServer) -> LakeFSStore:
    return server.store()


@pytest.fixture
def repo(store: LakeFSStore) -> str:
    name = f"store-{uuid.uuid4().hex[:12]}"
    store.create_repository(name)
    return name


@pytest.fixture
def put(store: LakeFSStore, repo: str, tmp_path: Path):
    def _put(branch: str, path: str, data: bytes) -> None:
        local = tmp_path / uuid.uuid4().hex
        local.write_bytes(data)
        store.upload_object(
            repo, branch, path, local_path=str(local), sha256=hashlib.sha256(data).hexdigest()
        )

    return _put


def _requests_since(server: LakeFSTestServer, mark: int, suffix: str) -> list:
    return [r for r in server.requests[mark:] if r.path.endswith(suffix)]


# Pagination.


def test_every_listing_walks_several_pages_with_after(
    store: LakeFSStore, repo: str, server: LakeFSTestServer, put
) -> None:
    initial = store.get_commit(repo, "main").id
    for i in range(5):
        store.create_branch(repo, f"b{i}", source_ref="main")
        put("main", f"obj/{i}", bytes([i]))
        commit = store.commit(repo, "main", message=f"c{i}", metadata={})
        store.create_tag(repo, f"v{i}", commit.id)
    listings = {
        "/branches": lambda a: store.list_branches(repo, after=a, amount=2),
        "/tags": lambda a: store.list_tags(repo, after=a, amount=2),
        "/objects/ls": lambda a: store.list_objects(repo, "main", after=a, amount=2),
        "/commits": lambda a: store.log(repo, "main", after=a, amount=2),
        "/diff/main": lambda a: store.diff(repo, initial, "main", after=a, amount=2),
    }
    for suffix, fetch in listings.items():
        mark = len(server.requests)
        items = list(paginate(fetch))
        requests = _requests_since(server, mark, suffix)
        assert len(requests) == 3, suffix  # 5 or 6 items, 2 per page
        assert [r.query.get("amount") for r in requests] == [["2"]] * len(requests)
        afters = [r.query.get("after", [""])[0] for r in requests]
        assert afters[0] == "" and all(afters[1:]), suffix
        assert len(items) == len({repr(i) for i in items})  # no item twice
    assert [b for b in paginate(lambda a: store.list_branches(repo, after=a, amount=2))] == [
        "b0",
        "b1",
        "b2",
        "b3",
        "b4",
        "main",
    ]
    assert [
        o.path for o in paginate(lambda a: store.list_objects(repo, "main", after=a, amount=2))
    ] == [f"obj/{i}" for i in range(4 + 1)]
    assert [c.message for c in paginate(lambda a: store.log(repo, "main", after=a, amount=2))] == [
        "c4",
        "c3",
        "c2",
        "c1",
        "c0",
        "Repository created",
    ]


def test_pages_larger_than_lakefs_maximum_are_capped_at_1000(
    store: LakeFSStore, repo: str, server: LakeFSTestServer
) -> None:
    for i in range(1205):  # seeded directly: this test is about the listing
        server.model.put_object(
            repo,
            "main",
            f"shard-{i:05d}",
            b"",
            content_type="application/octet-stream",
            metadata={"sha256": "0" * 64},
            if_none_match=None,
        )
    page = store.list_objects(repo, "main", amount=5000)
    assert len(page.results) == 1000 and page.has_more and page.next_offset == "shard-00999"
    rest = store.list_objects(repo, "main", after=page.next_offset, amount=5000)
    assert len(rest.results) == 205 and not rest.has_more and rest.next_offset == ""
    assert len(list(paginate(lambda a: store.list_objects(repo, "main", after=a)))) == 1205


def test_amount_below_one_is_a_programming_error(store: LakeFSStore, repo: str) -> None:
    with pytest.raises(ValueError, match="amount must be at least 1"):
        store.list_branches(repo, amount=0)


# Objects.


def test_sha256_travels_as_lakefs_user_metadata(
    store: LakeFSStore, repo: str, server: LakeFSTestServer, tmp_path: Path
) -> None:
    local = tmp_path / "shard"
    local.write_bytes(b"example bytes")
    sha = hashlib.sha256(b"example bytes").hexdigest()
    mark = len(server.requests)
    store.upload_object(repo, "main", "data/shard", local_path=str(local), sha256=sha.upper())
    (upload,) = _requests_since(server, mark, "/branches/main/objects")
    assert upload.method == "POST" and upload.query["path"] == ["data/shard"]
    assert upload.headers["content-type"] == "application/octet-stream"
    assert upload.headers["x-lakefs-meta-sha256"] == sha
    entry = server.model.stat_object(repo, "main", "data/shard")
    assert (
        entry.metadata == {"sha256": sha}
        and entry.checksum == hashlib.md5(b"example bytes").hexdigest()
    )
    assert store.stat_object(repo, "main", "data/shard").sha256 == sha


def test_object_without_sha256_metadata_reports_an_empty_sha256(
    store: LakeFSStore, repo: str, server: LakeFSTestServer
) -> None:
    server.model.put_object(
        repo, "main", "foreign", b"x", content_type="text/plain", metadata={}, if_none_match=None
    )
    assert store.stat_object(repo, "main", "foreign").sha256 == ""


def test_wrong_sha256_sends_nothing(
    store: LakeFSStore, repo: str, server: LakeFSTestServer, tmp_path: Path
) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"real")
    mark = len(server.requests)
    with pytest.raises(
        IntegrityError, match=f"{local}: sha256 is {hashlib.sha256(b'real').hexdigest()}"
    ):
        store.upload_object(repo, "main", "f", local_path=str(local), sha256="ab" * 32)
    assert _requests_since(server, mark, "/objects") == []


def test_large_objects_are_streamed_both_ways(
    store: LakeFSStore, repo: str, server: LakeFSTestServer, tmp_path: Path
) -> None:
    data = os.urandom(20 * 1024 * 1024 + 123)
    local = tmp_path / "big"
    local.write_bytes(data)
    mark = len(server.requests)
    store.upload_object(
        repo, "main", "big", local_path=str(local), sha256=hashlib.sha256(data).hexdigest()
    )
    (upload,) = _requests_since(server, mark, "/objects")
    assert upload.headers.get("transfer-encoding") == "chunked" and upload.body_bytes == len(data)
    mark = len(server.requests)
    store.download_object(repo, "main", "big", dest_path=str(tmp_path / "copy"))
    reads = _requests_since(server, mark, "/objects")
    assert [r.headers["range"] for r in reads] == [
        "bytes=0-8388607",
        "bytes=8388608-16777215",
        "bytes=16777216-25165823",
    ]
    assert (tmp_path / "copy").read_bytes() == data


def test_failed_download_leaves_no_file(store: LakeFSStore, repo: str, tmp_path: Path) -> None:
    dest = tmp_path / "dl" / "x"
    dest.parent.mkdir()
    with pytest.raises(NotFoundError):
        store.download_object(repo, "main", "absent", dest_path=str(dest))
    assert list(dest.parent.iterdir()) == []


def test_many_threads_upload_through_one_store(
    store: LakeFSStore,
    repo: str,
    server: LakeFSTestServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store.create_branch(repo, "build", source_ref="main")
    shards = {f"data/train-{i:05d}-of-00064": os.urandom(50_000 + i) for i in range(64)}
    for path, data in shards.items():
        (tmp_path / path.replace("/", "_")).write_bytes(data)

    def upload(item: tuple[str, bytes]) -> str:
        path, data = item
        local = tmp_path / path.replace("/", "_")
        return store.upload_object(
            repo, "build", path, local_path=str(local), sha256=hashlib.sha256(data).hexdigest()
        ).path

    caplog.set_level(logging.WARNING, logger="urllib3")
    with ThreadPoolExecutor(max_workers=16) as pool:
        assert sorted(pool.map(upload, shards.items())) == sorted(shards)
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
    store.commit(repo, "build", message="64 shards", metadata={})
    listed = {
        o.path: o.sha256 for o in paginate(lambda a: store.list_objects(repo, "build", after=a))
    }
    assert listed == {p: hashlib.sha256(d).hexdigest() for p, d in shards.items()}
    for path, data in list(shards.items())[:3]:
        assert server.model.blobs[server.model.stat_object(repo, "build", path).address] == data


# Refs, commits, merges, diffs: lakeFS semantics the protocol maps onto.


def test_get_commit_accepts_branch_tag_full_and_short_commit_id(
    store: LakeFSStore, repo: str, put
) -> None:
    put("main", "a", b"a")
    commit = store.commit(repo, "main", message="m", metadata={"k": "v"})
    store.create_tag(repo, "v1", "main")
    for ref in ("main", "v1", commit.id, commit.id[:12]):
        assert store.get_commit(repo, ref) == commit


def test_merge_commits_hide_lakefs_internal_metadata(
    store: LakeFSStore, repo: str, server: LakeFSTestServer, put
) -> None:
    store.create_branch(repo, "build", source_ref="main")
    put("build", "a", b"a")
    store.commit(repo, "build", message="build", metadata={})
    merged = store.merge(repo, "build", "main", message="merge", metadata={"curate.version": "v1"})
    assert server.model.get_commit(repo, merged).metadata == {
        "curate.version": "v1",
        ".lakefs.merge.strategy": "default",
    }
    assert dict(store.get_commit(repo, merged).metadata) == {"curate.version": "v1"}


def test_log_follows_first_parents_only(
    store: LakeFSStore, repo: str, server: LakeFSTestServer, put
) -> None:
    store.create_branch(repo, "side", source_ref="main")
    for i in range(2):
        put("side", f"s{i}", b"s")
        store.commit(repo, "side", message=f"side {i}", metadata={})
    merged = store.merge(repo, "side", "main", message="merge side", metadata={})
    messages = [c.message for c in paginate(lambda a: store.log(repo, "main", after=a))]
    assert messages == ["merge side", "Repository created"]
    everything, _ = server.model.log(repo, merged, "", None, first_parent=False)
    assert {c.message for c in everything} == {
        "merge side",
        "side 1",
        "side 0",
        "Repository created",
    }


def test_diff_is_two_dot_from_left_to_right(store: LakeFSStore, repo: str, put) -> None:
    base = store.get_commit(repo, "main").id
    store.create_branch(repo, "ahead", source_ref="main")
    put("ahead", "new", b"n")
    ahead = store.commit(repo, "ahead", message="ahead", metadata={}).id
    # lakeFS's default (three-dot) diff of ahead..base would be empty; two-dot shows the removal.
    assert store.diff(repo, ahead, base).results == [DiffEntry(path="new", type=DiffType.REMOVED)]
    assert store.diff(repo, base, ahead).results == [DiffEntry(path="new", type=DiffType.ADDED)]


def test_repository_namespace_is_root_plus_name(
    server: LakeFSTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURATE_LAKEFS_STORAGE_NAMESPACE", "s3://bucket/prefix/")
    store = LakeFSStore(
        endpoint_url=server.endpoint_url,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
    )
    name = f"ns-{uuid.uuid4().hex[:12]}"
    store.create_repository(name, default_branch="trunk")
    repository = server.model.repository(name)
    assert (repository.storage_namespace, repository.default_branch) == (
        f"s3://bucket/prefix/{name}",
        "trunk",
    )


def test_creating_a_repository_without_a_namespace_names_the_setting(
    server: LakeFSTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CURATE_LAKEFS_STORAGE_NAMESPACE", raising=False)
    store = LakeFSStore(
        endpoint_url=server.endpoint_url,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
    )
    with pytest.raises(RegistryError, match="CURATE_LAKEFS_STORAGE_NAMESPACE") as info:
        store.create_repository("needs-namespace")
    assert "storage_namespace_root=" in str(info.value)
    assert not store.repository_exists("needs-namespace")
