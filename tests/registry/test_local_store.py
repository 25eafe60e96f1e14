"""What the embedded store adds to the contract: content addressing, ids, checks, threads."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from registry.errors import IntegrityError
from registry.local import LocalStore
from registry.store import paginate


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def _upload(store: LocalStore, repo: str, branch: str, path: str, data: bytes, tmp: Path) -> str:
    f = tmp / hashlib.sha256(path.encode() + data).hexdigest()
    f.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    store.upload_object(repo, branch, path, local_path=str(f), sha256=sha)
    return sha


def _object_files(store: LocalStore) -> list[Path]:
    return [p for p in (store.root / "objects").glob("*/*") if not p.name.startswith(".")]


def test_identical_content_is_stored_once_across_paths_commits_and_repositories(
    local: LocalStore, tmp_path: Path
) -> None:
    for repo in ("one-repo", "two-repo"):
        local.create_repository(repo)
        for path in ("a/shard-0", "b/shard-0"):
            sha = _upload(local, repo, "main", path, b"same shard bytes", tmp_path)
        local.commit(repo, "main", message="m", metadata={})
    assert _object_files(local) == [local.object_path(sha)]
    assert local.object_path(sha).read_bytes() == b"same shard bytes"
    assert local.object_path(sha).relative_to(local.root).as_posix() == f"objects/{sha[:2]}/{sha[2:]}"


def test_commit_id_is_the_sha256_of_the_canonical_commit(local: LocalStore, tmp_path: Path) -> None:
    local.create_repository("repo-ids")
    _upload(local, "repo-ids", "main", "x", b"x", tmp_path)
    c = local.commit("repo-ids", "main", message="m", metadata={"k": "v"})
    raw = (local.root / "repositories/repo-ids/commits" / f"{c.id}.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == c.id
    record = json.loads(raw)
    assert sorted(record) == ["creation_date", "message", "metadata", "parents", "tree"]
    assert raw == json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def test_corrupted_or_missing_objects_are_detected(local: LocalStore, tmp_path: Path) -> None:
    local.create_repository("repo-rot")
    sha = _upload(local, "repo-rot", "main", "x", b"precious bytes", tmp_path)
    c = local.commit("repo-rot", "main", message="m", metadata={})
    assert local.check() == []
    local.object_path(sha).write_bytes(b"rotten bytes!!")
    with pytest.raises(IntegrityError, match="corrupted"):
        local.download_object("repo-rot", c.id, "x", dest_path=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    local.object_path(sha).unlink()
    assert local.check() == [f"repo-rot: commit {c.id[:12]}: object 'x' missing"]
    with pytest.raises(IntegrityError, match="missing"):
        local.download_object("repo-rot", c.id, "x", dest_path=str(tmp_path / "out"))


def test_parallel_uploads_to_one_branch_all_land(local: LocalStore, tmp_path: Path) -> None:
    local.create_repository("repo-par")
    local.create_branch("repo-par", "build", source_ref="main")
    files = {f"data/shard-{i:03d}": f"shard {i}".encode() for i in range(64)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: _upload(local, "repo-par", "build", *kv, tmp_path), files.items()))
    c = local.commit("repo-par", "build", message="m", metadata={})
    paths = [o.path for o in paginate(lambda a: local.list_objects("repo-par", c.id, after=a))]
    assert paths == sorted(files)
    assert local.check() == []


def test_reading_tags_and_commits_takes_no_lock(local: LocalStore, tmp_path: Path) -> None:
    """So training jobs can read a registry they cannot write to."""
    import shutil

    local.create_repository("repo-ro")
    _upload(local, "repo-ro", "main", "x", b"x", tmp_path)
    c = local.commit("repo-ro", "main", message="m", metadata={})
    local.create_tag("repo-ro", "v1", c.id)
    shutil.rmtree(local.root / "locks")
    assert local.get_commit("repo-ro", "v1").id == c.id
    assert [t for t, _ in local.list_tags("repo-ro").results] == ["v1"]
    local.download_object("repo-ro", "v1", "x", dest_path=str(tmp_path / "x.out"))
    assert (tmp_path / "x.out").read_bytes() == b"x"
    assert local.stat_object("repo-ro", c.id, "x").size_bytes == 1
    assert not (local.root / "locks").exists()


def test_link_object_links_the_verified_object_read_only(local: LocalStore, tmp_path: Path) -> None:
    local.create_repository("repo-link")
    sha = _upload(local, "repo-link", "main", "data/x", b"shard bytes", tmp_path)
    c = local.commit("repo-link", "main", message="m", metadata={})
    dest = tmp_path / "out" / "x"
    dest.parent.mkdir()
    dest.write_bytes(b"an older file")  # replaced atomically
    assert local.link_object("repo-link", c.id, "data/x", dest_path=str(dest), sha256=sha)
    assert dest.read_bytes() == b"shard bytes"
    assert dest.stat().st_ino == local.object_path(sha).stat().st_ino
    assert not local.object_path(sha).stat().st_mode & 0o222
    assert [p.name for p in dest.parent.iterdir()] == ["x"]  # no temporary left
    with pytest.raises(IntegrityError, match="expected"):
        local.link_object("repo-link", c.id, "data/x", dest_path=str(dest), sha256="0" * 64)
    local.object_path(sha).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        local.link_object("repo-link", c.id, "data/x", dest_path=str(tmp_path / "y"), sha256=sha)
