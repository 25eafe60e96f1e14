"""Registers racing each other, and what a killed one leaves, on every store (issue 16).

Three concurrent registers of one build used to make v1, v2 and v3 with one fingerprint. lakeFS
merges a branch whose changes main already holds into a commit that changes nothing (the
contract suite shows it), so the registry itself sees that: before merging (main already holds
the build's files) and before tagging (the latest version is the same build). Each case runs
against the local store, the in-process lakeFS server and a real lakeFS.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from registry.api import Registry
from registry.leftovers import STALE_AFTER_S, build_branch
from registry.store import Store, paginate
from tests.registry.conftest import Builds


def _name() -> str:
    return f"race-{secrets.token_hex(6)}"


def _branches(store: Store, repo: str) -> list[str]:
    return list(paginate(lambda after: store.list_branches(repo, after=after)))


class _Overtaken:
    """``store``, but just before the first call of ``method`` another register of ``build``
    runs to its end: the register using this store is overtaken at that point."""

    def __init__(self, store: Store, *, method: str, build: Path, dataset: str) -> None:
        self._store, self._method, self._build, self._dataset = store, method, build, dataset
        self.overtaken: Any = None

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._store, name)
        if name != self._method:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.overtaken is None:
                self.overtaken = Registry(self._store).register(self._build, dataset=self._dataset)
            return real(*args, **kwargs)

        return call


@pytest.mark.parametrize("at", ["diff", "merge"])
def test_a_register_overtaken_by_the_same_build_makes_no_second_version(
    store: Store, builds: Builds, tmp_path: Path, at: str
) -> None:
    """Overtaken before its check of main: the check sees main holds the build and merges
    nothing. Overtaken after it, at the merge: lakeFS (and every store, alike) merges into a
    commit that changes nothing, which is not tagged as a second version."""
    name = _name()
    racing = _Overtaken(store, method=at, build=builds.v1, dataset=name)
    version = Registry(racing, cache_dir=tmp_path / "cache").register(builds.v1, dataset=name)
    assert racing.overtaken is not None and racing.overtaken.tag == "v1"
    assert version == racing.overtaken
    reg = Registry(store, cache_dir=tmp_path / "cache")
    assert [v.tag for v in reg.versions(name)] == ["v1"]
    head = store.get_commit(name, "main").id
    if at == "diff":
        assert head == version.commit_id  # nothing merged
    else:  # the empty merge commit is on main, untagged; a later register still finds v1
        assert head != version.commit_id
        assert list(paginate(lambda a: store.diff(name, version.commit_id, head, after=a))) == []
        assert reg.register(builds.v1_again, dataset=name) == version
    assert _branches(store, name) == ["main"]
    v2 = reg.register(builds.v2, dataset=name)
    assert [v.tag for v in reg.versions(name)] == ["v1", "v2"] and v2.tag == "v2"


def test_three_threads_registering_one_build_make_one_version(
    store: Store, builds: Builds, tmp_path: Path
) -> None:
    name = _name()
    Registry(store).register(builds.v2, dataset=name)  # the repository exists: no create race
    start = threading.Barrier(3)
    results: list[Any] = []

    def register(i: int) -> None:
        start.wait()
        reg = Registry(store, cache_dir=tmp_path / f"cache-{i}")
        results.append(reg.register(builds.v1, dataset=name))

    threads = [threading.Thread(target=register, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(results) == 3, "a register failed (its traceback is above)"
    assert {(v.tag, v.commit_id) for v in results} == {("v2", results[0].commit_id)}
    versions = Registry(store).versions(name)
    assert [v.tag for v in versions] == ["v1", "v2"]
    assert _branches(store, name) == ["main"]


def test_a_killed_registers_branch_is_deleted_by_the_next_register_once_stale(
    store: Store, builds: Builds, tmp_path: Path
) -> None:
    """A register killed after its upload leaves its build branch with staged objects. The
    next register deletes it once it is older than any register takes (a day by default),
    and leaves a younger one alone: it may belong to a register still running."""
    name = _name()
    reg = Registry(store, cache_dir=tmp_path / "cache")
    v1 = reg.register(builds.v1, dataset=name)
    now = time.time()
    dead = build_branch(v1.fingerprint, started=now - STALE_AFTER_S - 60)
    running = build_branch(v1.fingerprint, started=now - 60)
    info = builds.v2 / "dataset_info.json"
    for branch in (dead, running):
        store.create_branch(name, branch, source_ref="main")
        store.upload_object(name, branch, "dataset_info.json", local_path=str(info),
                            sha256=hashlib.sha256(info.read_bytes()).hexdigest())
    v2 = reg.register(builds.v2, dataset=name)
    assert v2.tag == "v2"
    assert _branches(store, name) == sorted(["main", running])
    Registry(store, stale_after_s=30).register(builds.v3, dataset=name)
    assert _branches(store, name) == ["main"]
