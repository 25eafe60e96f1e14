"""The Store contract: what every store (local, lakeFS test server, real lakeFS) must do.

Each test works in its own repository (``repo_name``), so the suite can share a real server.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from registry.errors import ConflictError, IntegrityError, NotFoundError
from registry.store import Commit, DiffEntry, DiffType, ObjectInfo, Store, paginate


@pytest.fixture
def repo(store: Store, repo_name: str) -> str:
    store.create_repository(repo_name)
    return repo_name


@pytest.fixture
def put(store: Store, repo: str, tmp_path: Path):
    """put(branch, path, data) uploads ``data`` and returns its ObjectInfo."""

    def _put(branch: str, path: str, data: bytes) -> ObjectInfo:
        local = tmp_path / "upload" / hashlib.sha256(path.encode() + data).hexdigest()
        local.parent.mkdir(exist_ok=True)
        local.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        return store.upload_object(repo, branch, path, local_path=str(local), sha256=sha)

    return _put


def _paths(store: Store, repo: str, ref: str, prefix: str = "") -> list[str]:
    return [o.path for o in paginate(lambda a: store.list_objects(repo, ref, prefix=prefix, after=a))]


def _read(store: Store, repo: str, ref: str, path: str, tmp_path: Path) -> bytes:
    dest = tmp_path / f"download-{hashlib.sha256((ref + path).encode()).hexdigest()[:12]}"
    store.download_object(repo, ref, path, dest_path=str(dest))
    return dest.read_bytes()


# -- repositories ------------------------------------------------------------------------------


def test_create_repository_has_main_with_a_commit(store: Store, repo_name: str) -> None:
    assert not store.repository_exists(repo_name)
    store.create_repository(repo_name)
    assert store.repository_exists(repo_name)
    head = store.get_commit(repo_name, "main")
    assert isinstance(head, Commit) and head.id
    assert "main" in list(paginate(lambda a: store.list_branches(repo_name, after=a)))
    assert _paths(store, repo_name, "main") == []
    with pytest.raises(ConflictError):
        store.create_repository(repo_name)


def test_list_repositories_paginates_with_after_and_has_more(store: Store, repo_name: str) -> None:
    names = [f"{repo_name[:55]}-{i}" for i in range(3)]
    for name in names:
        store.create_repository(name)
    first = store.list_repositories(amount=1)
    assert len(first.results) == 1 and first.has_more and first.next_offset == first.results[0]
    second = store.list_repositories(after=first.next_offset, amount=1)
    assert second.results[0] > first.results[0]
    everything = list(paginate(lambda a: store.list_repositories(after=a, amount=2)))
    assert everything == sorted(set(everything))
    assert [n for n in everything if n in names] == names


# -- branches ----------------------------------------------------------------------------------


def test_branches_create_list_delete(store: Store, repo: str) -> None:
    main = store.get_commit(repo, "main").id
    assert store.create_branch(repo, "feature-b", source_ref="main") == main
    assert store.create_branch(repo, "feature-a", source_ref=main) == main
    with pytest.raises(ConflictError):
        store.create_branch(repo, "feature-a", source_ref="main")
    page = store.list_branches(repo, amount=1)
    assert page.results == ["feature-a"] and page.has_more and page.next_offset == "feature-a"
    assert list(paginate(lambda a: store.list_branches(repo, after=a, amount=1))) == [
        "feature-a", "feature-b", "main"]
    store.delete_branch(repo, "feature-a")
    assert list(paginate(lambda a: store.list_branches(repo, after=a))) == ["feature-b", "main"]
    with pytest.raises(NotFoundError):
        store.get_commit(repo, "feature-a")
    with pytest.raises(NotFoundError):
        store.delete_branch(repo, "feature-a")
    with pytest.raises(NotFoundError):
        store.create_branch(repo, "feature-c", source_ref="no-such-ref")


# -- objects -----------------------------------------------------------------------------------


def test_upload_stat_list_download(store: Store, repo: str, put, tmp_path: Path) -> None:
    files = {"data/train/a.tfrecord": b"a" * 1000, "data/train/b.tfrecord": b"bb",
             "data/test/c.tfrecord": b"", "dataset_info.json": b'{"x": 1}'}
    for path, data in files.items():
        info = put("main", path, data)
        assert info == ObjectInfo(path=path, size_bytes=len(data),
                                  sha256=hashlib.sha256(data).hexdigest())
    stat = store.stat_object(repo, "main", "data/train/a.tfrecord")
    assert (stat.size_bytes, stat.sha256) == (1000, hashlib.sha256(b"a" * 1000).hexdigest())
    assert _paths(store, repo, "main") == sorted(files)
    assert _paths(store, repo, "main", prefix="data/train/") == [
        "data/train/a.tfrecord", "data/train/b.tfrecord"]
    page = store.list_objects(repo, "main", amount=2)
    assert [o.path for o in page.results] == sorted(files)[:2] and page.has_more
    rest = store.list_objects(repo, "main", after=page.next_offset, amount=10)
    assert [o.path for o in rest.results] == sorted(files)[2:] and not rest.has_more
    for path, data in files.items():
        assert _read(store, repo, "main", path, tmp_path) == data


def test_upload_with_wrong_sha256_is_rejected(store: Store, repo: str, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"real bytes")
    with pytest.raises(IntegrityError):
        store.upload_object(repo, "main", "f", local_path=str(local),
                            sha256=hashlib.sha256(b"other bytes").hexdigest())
    with pytest.raises(NotFoundError):
        store.stat_object(repo, "main", "f")


def test_staged_objects_are_visible_on_the_branch_only(store: Store, repo: str, put) -> None:
    store.create_branch(repo, "work", source_ref="main")
    base = store.get_commit(repo, "work").id
    put("work", "new.bin", b"new")
    assert store.stat_object(repo, "work", "new.bin").size_bytes == 3
    assert _paths(store, repo, "work") == ["new.bin"]
    for ref in ("main", base):
        with pytest.raises(NotFoundError):
            store.stat_object(repo, ref, "new.bin")
    assert store.get_commit(repo, "work").id == base  # staging does not move the head
    c = store.commit(repo, "work", message="add new.bin", metadata={})
    assert store.stat_object(repo, c.id, "new.bin").size_bytes == 3


def test_delete_object_is_staged_until_commit(store: Store, repo: str, put) -> None:
    put("main", "keep", b"1")
    put("main", "drop", b"2")
    first = store.commit(repo, "main", message="two files", metadata={})
    store.delete_object(repo, "main", "drop")
    assert _paths(store, repo, "main") == ["keep"]
    assert _paths(store, repo, first.id) == ["drop", "keep"]
    second = store.commit(repo, "main", message="drop one", metadata={})
    assert _paths(store, repo, second.id) == ["keep"]


# -- commits and log ---------------------------------------------------------------------------


def test_commit_records_message_metadata_and_parent(store: Store, repo: str, put) -> None:
    parent = store.get_commit(repo, "main").id
    put("main", "a", b"a")
    metadata = {"curate.fingerprint": "ab" * 32, "curate.split.train.hours": "1.5"}
    c = store.commit(repo, "main", message="first build", metadata=metadata)
    assert c.message == "first build" and dict(c.metadata) == metadata
    assert c.parents == (parent,) and c.creation_date > 0
    again = store.get_commit(repo, c.id)
    assert (again.id, again.message, dict(again.metadata), again.parents) == (
        c.id, "first build", metadata, (parent,))
    assert store.get_commit(repo, "main").id == c.id


def test_commit_without_changes_is_a_conflict(store: Store, repo: str, put) -> None:
    with pytest.raises(ConflictError):
        store.commit(repo, "main", message="nothing", metadata={})
    put("main", "a", b"a")
    store.commit(repo, "main", message="a", metadata={})
    with pytest.raises(ConflictError):
        store.commit(repo, "main", message="nothing again", metadata={})


def test_log_is_newest_first_and_paginates(store: Store, repo: str, put) -> None:
    initial = store.get_commit(repo, "main").id
    ids = []
    for i in range(3):
        put("main", f"f{i}", bytes([i]))
        ids.append(store.commit(repo, "main", message=f"c{i}", metadata={}).id)
    expected = [*reversed(ids), initial]
    assert [c.id for c in paginate(lambda a: store.log(repo, "main", after=a))] == expected
    page = store.log(repo, "main", amount=2)
    assert [c.id for c in page.results] == expected[:2] and page.has_more
    rest = store.log(repo, "main", after=page.next_offset, amount=10)
    assert [c.id for c in rest.results] == expected[2:] and not rest.has_more
    assert [c.id for c in store.log(repo, ids[1], amount=10).results] == expected[1:]


# -- merges ------------------------------------------------------------------------------------


def test_merge_when_destination_did_not_move(store: Store, repo: str, put) -> None:
    store.create_branch(repo, "build", source_ref="main")
    put("build", "data/a", b"a")
    source = store.commit(repo, "build", message="build", metadata={"k": "v"})
    merged = store.merge(repo, "build", "main", message="merge build", metadata={"m": "1"})
    head = store.get_commit(repo, "main")
    assert head.id == merged
    assert source.id in (head.id, *head.parents)
    if head.id != source.id:  # a merge commit carries the merge's message and metadata
        assert head.message == "merge build" and dict(head.metadata) == {"m": "1"}
    assert _paths(store, repo, "main") == ["data/a"]


def test_merge_combines_changes_to_different_paths(store: Store, repo: str, put, tmp_path) -> None:
    put("main", "shared", b"base")
    store.commit(repo, "main", message="base", metadata={})
    store.create_branch(repo, "side", source_ref="main")
    put("side", "from-side", b"side")
    side = store.commit(repo, "side", message="side", metadata={})
    put("main", "from-main", b"main")
    store.delete_object(repo, "main", "shared")
    main = store.commit(repo, "main", message="main", metadata={})
    merged = store.merge(repo, "side", "main", message="merge side", metadata={"why": "test"})
    head = store.get_commit(repo, "main")
    assert head.id == merged and head.parents == (main.id, side.id)
    assert head.message == "merge side" and dict(head.metadata) == {"why": "test"}
    assert _paths(store, repo, "main") == ["from-main", "from-side"]
    assert _read(store, repo, "main", "from-side", tmp_path) == b"side"


def test_merge_of_conflicting_changes_fails_and_changes_nothing(store: Store, repo: str, put) -> None:
    put("main", "dataset_info.json", b"v1")
    store.commit(repo, "main", message="v1", metadata={})
    store.create_branch(repo, "build-a", source_ref="main")
    store.create_branch(repo, "build-b", source_ref="main")
    put("build-a", "dataset_info.json", b"v2-a")
    store.commit(repo, "build-a", message="a", metadata={})
    put("build-b", "dataset_info.json", b"v2-b")
    store.commit(repo, "build-b", message="b", metadata={})
    store.merge(repo, "build-a", "main", message="merge a", metadata={})
    head = store.get_commit(repo, "main").id
    with pytest.raises(ConflictError):
        store.merge(repo, "build-b", "main", message="merge b", metadata={})
    assert store.get_commit(repo, "main").id == head
    assert store.stat_object(repo, "main", "dataset_info.json").sha256 == hashlib.sha256(
        b"v2-a").hexdigest()


def test_merge_of_changes_main_has_already_makes_a_commit_that_changes_nothing(
    store: Store, repo: str, put
) -> None:
    """Two branches with the same changes (two registers of one build): lakeFS merges the
    second one too, into a merge commit with main's content unchanged (it refuses only a
    source without changes since the merge base). So the registry, not the store, must see
    that such a commit is no new version (issue 16: ``test_faults``)."""
    put("main", "base", b"base")
    store.commit(repo, "main", message="base", metadata={})
    for branch in ("build-a", "build-b"):
        store.create_branch(repo, branch, source_ref="main")
        put(branch, "dataset_info.json", b"same build")
        store.commit(repo, branch, message=branch, metadata={})
    first = store.merge(repo, "build-a", "main", message="merge a", metadata={})
    second = store.merge(repo, "build-b", "main", message="merge b", metadata={})
    assert second != first and store.get_commit(repo, "main").id == second
    assert store.get_commit(repo, second).parents[0] == first
    assert list(paginate(lambda after: store.diff(repo, first, second, after=after))) == []


# -- tags and diffs ----------------------------------------------------------------------------


def test_tags_name_commits_and_cannot_be_taken_twice(store: Store, repo: str, put) -> None:
    put("main", "a", b"1")
    c1 = store.commit(repo, "main", message="1", metadata={}).id
    put("main", "a", b"2")
    c2 = store.commit(repo, "main", message="2", metadata={}).id
    assert store.create_tag(repo, "v1", c1) == c1
    assert store.create_tag(repo, "v2", "main") == c2
    assert store.get_commit(repo, "v1").id == c1
    with pytest.raises(ConflictError):
        store.create_tag(repo, "v1", c2)
    assert store.get_commit(repo, "v1").id == c1
    with pytest.raises(NotFoundError):
        store.create_tag(repo, "v3", "no-such-ref")
    page = store.list_tags(repo, amount=1)
    assert page.results == [("v1", c1)] and page.has_more
    assert list(paginate(lambda a: store.list_tags(repo, after=a, amount=1))) == [
        ("v1", c1), ("v2", c2)]


def test_a_tag_and_a_branch_cannot_share_a_name(store: Store, repo: str) -> None:
    """As in lakeFS (found against lakeFS 1.86: "branch name x: conflict found", and "tag ID x:
    conflict found" the other way round); a ref name means one thing."""
    main = store.get_commit(repo, "main").id
    store.create_branch(repo, "shared", source_ref="main")
    with pytest.raises(ConflictError):
        store.create_tag(repo, "shared", main)
    assert store.create_tag(repo, "v1", "main") == main
    with pytest.raises(ConflictError):
        store.create_branch(repo, "v1", source_ref="main")
    assert list(paginate(lambda a: store.list_tags(repo, after=a))) == [("v1", main)]
    assert list(paginate(lambda a: store.list_branches(repo, after=a))) == ["main", "shared"]


def test_diff_lists_added_removed_changed_sorted(store: Store, repo: str, put) -> None:
    for path in ("same", "changed", "removed"):
        put("main", path, path.encode())
    left = store.commit(repo, "main", message="left", metadata={}).id
    put("main", "changed", b"new content")
    put("main", "added", b"added")
    store.delete_object(repo, "main", "removed")
    right = store.commit(repo, "main", message="right", metadata={}).id
    entries = list(paginate(lambda a: store.diff(repo, left, right, after=a, amount=1)))
    assert entries == [
        DiffEntry(path="added", type=DiffType.ADDED),
        DiffEntry(path="changed", type=DiffType.CHANGED),
        DiffEntry(path="removed", type=DiffType.REMOVED),
    ]
    assert store.diff(repo, left, left).results == []


# -- not found ---------------------------------------------------------------------------------


def test_unknown_repository_branch_ref_object_are_not_found(
    store: Store, repo: str, repo_name: str, put, tmp_path: Path
) -> None:
    missing = f"{repo_name[:50]}-nope"
    for call in (
        lambda: store.get_commit(missing, "main"),
        lambda: store.list_branches(missing),
        lambda: store.list_tags(missing),
        lambda: store.list_objects(missing, "main"),
        lambda: store.log(missing, "main"),
        lambda: store.create_branch(missing, "b", source_ref="main"),
    ):
        with pytest.raises(NotFoundError):
            call()
    put("main", "exists", b"x")
    store.commit(repo, "main", message="one object", metadata={})
    local = tmp_path / "exists"
    local.write_bytes(b"x")
    sha = hashlib.sha256(b"x").hexdigest()
    for call in (
        lambda: store.get_commit(repo, "no-such-branch"),
        lambda: store.get_commit(repo, "0" * 64),
        lambda: store.log(repo, "no-such-branch"),
        lambda: store.list_objects(repo, "no-such-branch"),
        lambda: store.stat_object(repo, "main", "no/such/object"),
        lambda: store.download_object(repo, "main", "no/such/object",
                                      dest_path=str(tmp_path / "dl")),
        lambda: store.upload_object(repo, "no-such-branch", "x", local_path=str(local),
                                    sha256=sha),
        lambda: store.commit(repo, "no-such-branch", message="m", metadata={}),
        lambda: store.merge(repo, "no-such-branch", "main", message="m", metadata={}),
        lambda: store.merge(repo, "main", "no-such-branch", message="m", metadata={}),
        lambda: store.diff(repo, "main", "no-such-branch"),
    ):
        with pytest.raises(NotFoundError):
            call()
