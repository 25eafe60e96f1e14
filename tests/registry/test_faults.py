"""Faults during ``register``: concurrent registers, and processes killed at every stage.

The children run ``tests/registry/register_child.py``: a real process (forked from a fork
server), SIGKILLed at a named call.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from pathlib import Path

import pytest

from registry.api import Registry
from registry.local import LocalStore
from tests.registry.conftest import Builds

DS = "asr-demo"


# Children are forked from a fork server that has imported the registry once (a fresh
# interpreter per child spent seconds importing Beam): each is still a process of its own,
# killed with SIGKILL, that shares nothing with this one.
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(["tests.registry.register_child"])


class _Child:
    """One ``register_child.main`` in a forked process."""

    def __init__(self, argv: list[str]) -> None:
        from tests.registry.register_child import run_child

        self._conn, child_conn = _FORKS.Pipe(duplex=False)
        self._process = _FORKS.Process(target=run_child, args=(argv, child_conn))
        self._process.start()
        child_conn.close()
        self.returncode: int | None = None

    def communicate(self, timeout: float) -> tuple[str, str]:
        """(what it printed, "") once it has ended; the code is in ``returncode``."""
        out = ""
        if self._conn.poll(timeout):
            try:
                out = self._conn.recv()
            except EOFError:  # killed before it could say anything
                pass
        self._process.join(timeout)
        if self._process.exitcode is None:
            self._process.kill()
            self._process.join()
        self.returncode = self._process.exitcode
        return out, ""


def _child(store: Path, build: Path, *extra: str) -> _Child:
    return _Child([str(store), str(build), DS, *extra])


def _assert_consistent(store: LocalStore, tmp_path: Path) -> list:
    """Every ref leads to complete commits whose objects exist; every version reads back
    byte-exact against its own dataset_info.json. Returns the versions."""
    assert store.check() == []
    reg = Registry(store, cache_dir=tmp_path / f"verify-cache-{os.urandom(4).hex()}")
    versions = reg.versions(DS)
    for v in versions:
        ds = reg.open(v)
        for path in ds.info["files"]:
            ds.cache.fetch(path, sha256=ds.info["files"][path]["sha256"])  # verifies
        assert ds.info["fingerprint"] == v.fingerprint
    return versions


@pytest.fixture
def with_v1(tmp_path: Path, builds: Builds) -> Path:
    """A local store directory holding v1."""
    store_dir = tmp_path / "store"
    Registry(LocalStore(store_dir)).register(builds.v1, dataset=DS)
    return store_dir


def test_two_concurrent_registers_both_land_or_one_fails_cleanly(
    with_v1: Path, builds: Builds, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    children = [_child(with_v1, b, "--gate", str(gate)) for b in (builds.v2, builds.v3)]
    gate.touch()
    outputs = [c.communicate(timeout=120) for c in children]
    results = []
    for child, (out, err) in zip(children, outputs):
        assert child.returncode in (0, 1), err
        if child.returncode == 1:
            assert out.startswith("ERROR ConflictError:"), out + err
        else:
            results.append(json.loads(out))
    assert results, "at least one register must land"
    versions = _assert_consistent(LocalStore(with_v1), tmp_path)
    assert [v.tag for v in versions] == [f"v{i}" for i in range(1, len(results) + 2)]
    landed = {r["fingerprint"]: r["tag"] for r in results}
    assert {v.fingerprint: v.tag for v in versions[1:]} == landed
    assert len({r["tag"] for r in results}) == len(results)
    print(f"\nconcurrent registers: {len(results)} landed as {sorted(landed.values())}")


def _count_replaces(store_dir: Path, build: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many atomic renames registering ``build`` into a copy of ``store_dir`` takes."""
    calls = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda *a, **k: (calls.append(a), real(*a, **k))[1])
    Registry(LocalStore(store_dir)).register(build, dataset=DS)
    monkeypatch.undo()
    return len(calls)


def test_a_register_killed_at_any_point_leaves_v1_or_a_complete_v2(
    with_v1: Path, builds: Builds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pristine = tmp_path / "pristine"
    shutil.copytree(with_v1, pristine)
    shutil.copytree(with_v1, tmp_path / "count")
    renames = _count_replaces(tmp_path / "count", builds.v2, monkeypatch)
    points = [
        "create_branch:1",
        "upload_object:2",
        "commit:1",
        "commit:1:after",
        "merge:1",
        "merge:1:after",  # main moved, no tag yet: the re-run must finish the job
        "create_tag:1:after",  # tagged, build branch not yet deleted
        *(f"os.replace:{n}" for n in sorted({1, renames // 4, renames // 2, 3 * renames // 4, renames})),
        f"os.replace:{renames}:after",
    ]
    outcomes = {}
    for point in points:
        store_dir = tmp_path / f"store-{point.replace(':', '-')}"
        shutil.copytree(pristine, store_dir)
        child = _child(store_dir, builds.v2, "--kill-at", point)
        out, err = child.communicate(timeout=120)
        assert child.returncode == -9, f"{point}: not killed ({child.returncode}): {out}{err}"
        store = LocalStore(store_dir)
        tags = [v.tag for v in _assert_consistent(store, tmp_path)]
        assert tags in (["v1"], ["v1", "v2"]), point
        outcomes[point] = tags[-1]
        # The re-run, told no other register runs: it deletes what the killed one left.
        v2 = Registry(store, stale_after_s=0).register(builds.v2, dataset=DS)
        versions = _assert_consistent(store, tmp_path)
        assert [v.tag for v in versions] == ["v1", "v2"], point
        assert store.list_branches(DS).results == ["main"], point
        assert not list(store_dir.rglob(".tmp-*")), point
        staging = store_dir / "repositories" / DS / "staging"
        named = {json.loads(b.read_text())["staging"]
                 for b in (staging.parent / "branches").glob("*.json")}
        assert {p.name for p in staging.iterdir()} <= named, point
        assert v2.tag == "v2" and v2.fingerprint == json.loads(
            (builds.v2 / "dataset_info.json").read_text())["fingerprint"]
    # Early kills leave v1, late ones a complete v2.
    assert outcomes["create_branch:1"] == "v1" and outcomes["create_tag:1:after"] == "v2"
    assert outcomes[f"os.replace:{renames}:after"] == "v2"
    print(f"\nkilled at {len(points)} points ({renames} atomic renames in one register): {outcomes}")


class _Interleaved(LocalStore):
    """Runs another register of ``build`` just before the first call of ``method``."""

    def __init__(self, root: Path, *, method: str, build: Path) -> None:
        super().__init__(root)
        self._method, self._build, self._done = method, build, False

    def _maybe_interleave(self, method: str) -> None:
        if method == self._method and not self._done:
            self._done = True
            Registry(LocalStore(self.root)).register(self._build, dataset=DS)

    def merge(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._maybe_interleave("merge")
        return super().merge(*args, **kwargs)

    def create_tag(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._maybe_interleave("create_tag")
        return super().create_tag(*args, **kwargs)


@pytest.mark.parametrize("method", ["merge", "create_tag"])
def test_a_register_overtaken_by_another_still_lands_with_the_next_tag(
    with_v1: Path, builds: Builds, tmp_path: Path, method: str
) -> None:
    store = _Interleaved(with_v1, method=method, build=builds.v2)
    v3 = Registry(store).register(builds.v3, dataset=DS)
    versions = _assert_consistent(LocalStore(with_v1), tmp_path)
    fingerprints = [json.loads((b / "dataset_info.json").read_text())["fingerprint"]
                    for b in (builds.v1, builds.v2, builds.v3)]
    assert [(v.tag, v.fingerprint) for v in versions] == list(zip(["v1", "v2", "v3"], fingerprints))
    assert v3 == versions[2]
    assert LocalStore(with_v1).list_branches(DS).results == ["main"]


def test_three_concurrent_registers_of_one_build_make_one_version(
    builds: Builds, tmp_path: Path
) -> None:
    """Three processes registering the same build used to make v1, v2 and v3 with one
    fingerprint: the two later ones now see main holds the build (or, merged into a commit
    that changes nothing, that the latest version is it) and return the version the first
    one made (every store: ``test_register_races``)."""
    store_dir = tmp_path / "store"
    gate = tmp_path / "go"
    children = [_child(store_dir, builds.v1, "--gate", str(gate)) for _ in range(3)]
    gate.touch()
    outputs = [c.communicate(timeout=120) for c in children]
    for child, (out, err) in zip(children, outputs):
        assert child.returncode == 0, out + err
    tags = {json.loads(out)["tag"] for out, _ in outputs}
    assert tags == {"v1"}
    versions = _assert_consistent(LocalStore(store_dir), tmp_path)
    assert [v.tag for v in versions] == ["v1"]
