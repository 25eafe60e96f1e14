"""Registry API: register, versions, resolve, show, diff (on the local store unless noted)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from registry.api import Registry, Version
from registry.build import META_DATASET, META_FINGERPRINT, META_VALIDATION
from registry.errors import IntegrityError, NotFoundError, ReferenceError_
from registry.local import LocalStore
from registry.store import Store, paginate
from tests.registry.build_fixture import make_examples, write_build
from tests.registry.conftest import Builds

DS = "asr-demo"


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def reg(local: LocalStore, tmp_path: Path) -> Registry:
    return Registry(local, cache_dir=tmp_path / "cache")


def _objects(store: LocalStore) -> dict[str, int]:
    """sha256 -> size of every object file in the store."""
    return {
        p.parent.name + p.name: p.stat().st_size
        for p in (store.root / "objects").glob("*/*")
        if not p.name.startswith(".")
    }


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def _info(build: Path) -> dict:
    return json.loads((build / "dataset_info.json").read_text())


def _build_files(build: Path) -> dict[str, str]:
    """path -> sha256 of everything a registered build holds."""
    import hashlib

    files = {p: f["sha256"] for p, f in _info(build)["files"].items()}
    for extra in [build / "dataset_info.json", *sorted((build / "validation").rglob("*"))]:
        if extra.is_file():
            files[extra.relative_to(build).as_posix()] = hashlib.sha256(extra.read_bytes()).hexdigest()
    return files


def test_register_creates_v1_with_the_build_and_its_metadata(reg: Registry, builds: Builds) -> None:
    v = reg.register(builds.v1, dataset=DS, message="first")
    info = _info(builds.v1)
    assert (v.dataset, v.tag, v.number, v.message) == (DS, "v1", 1, "first")
    assert re.fullmatch(r"[0-9a-f]{64}", v.commit_id)
    assert v.fingerprint == info["fingerprint"] == v.metadata[META_FINGERPRINT]
    assert v.metadata[META_DATASET] == DS
    assert v.metadata["curate.split.train.examples"] == "20"
    assert v.metadata["curate.split.test.examples"] == "6"
    assert v.metadata["curate.counts.rejected"] == "1"
    assert v.metadata["curate.config_hash"] == info["config_hash"]
    assert v.examples == 26 and v.hours == pytest.approx(
        sum(s["duration_s"] for s in info["splits"].values()) / 3600, rel=1e-5)
    assert all(isinstance(x, str) for x in v.metadata.values())
    assert reg.versions(DS) == [v]
    assert reg.resolve(f"{DS}@v1") == reg.resolve(f"{DS}@latest") == v.commit_id
    assert reg.resolve(f"{DS}@{v.commit_id[:8]}") == v.commit_id
    assert reg.show(f"{DS}@{v.commit_id}") == v
    listing = paginate(lambda a: reg.store.list_objects(DS, v.commit_id, after=a))
    objects = {o.path: o.sha256 for o in listing}
    assert objects == _build_files(builds.v1)
    # The build branch is gone; main is the tagged merge commit.
    assert reg.store.list_branches(DS).results == ["main"]
    assert reg.store.get_commit(DS, "main").id == v.commit_id
    assert reg.datasets() == [DS]


def test_identical_rebuild_returns_the_same_version_and_writes_nothing(
    reg: Registry, local: LocalStore, builds: Builds
) -> None:
    v1 = reg.register(builds.v1, dataset=DS)
    before = _snapshot(local.root)
    again = reg.register(builds.v1_again, dataset=DS)
    assert again == v1
    assert _snapshot(local.root) == before  # not one byte, not one lock file
    assert [v.tag for v in reg.versions(DS)] == ["v1"]


def test_v2_changing_one_split_stores_only_the_changed_files(
    reg: Registry, local: LocalStore, builds: Builds
) -> None:
    reg.register(builds.v1, dataset=DS)
    after_v1 = _objects(local)
    v1_files, v2_files = _build_files(builds.v1), _build_files(builds.v2)
    assert set(after_v1) == set(v1_files.values())
    v2 = reg.register(builds.v2, dataset=DS)
    new = set(_objects(local)) - set(after_v1)
    changed = {p for p, sha in v2_files.items() if v1_files.get(p) != sha}
    assert new == {v2_files[p] for p in changed}
    assert changed  # the test split's shards and manifest, stats and dataset_info
    assert all(p.startswith(("data/test/", "manifest/test", "stats.json", "dataset_info", "validation/"))
               for p in changed)
    assert not any(p.startswith("data/train/") for p in changed)
    assert v2.tag == "v2" and v2.metadata["curate.split.test.examples"] == "7"
    v1_bytes = sum(after_v1.values())
    new_bytes = sum(s for k, s in _objects(local).items() if k in new)
    print(f"\nstored bytes: v1 {v1_bytes}, v2 adds {new_bytes}, identical rebuild adds 0")
    assert new_bytes < v1_bytes


def test_a_file_dropped_from_the_build_is_dropped_from_the_version(
    reg: Registry, builds: Builds, tmp_path: Path
) -> None:
    reg.register(builds.v1, dataset=DS)
    only_train = write_build(tmp_path / "only-train", {"train": builds.examples["v1"]["train"]})
    v = reg.register(only_train, dataset=DS)
    paths = {o.path for o in paginate(lambda a: reg.store.list_objects(DS, v.commit_id, after=a))}
    assert paths == set(_build_files(only_train))
    assert not any(p.startswith(("data/test/", "manifest/test")) for p in paths)


def test_versions_resolve_and_show(reg: Registry, builds: Builds) -> None:
    v1 = reg.register(builds.v1, dataset=DS)
    v2 = reg.register(builds.v2, dataset=DS)
    v3 = reg.register(builds.v3, dataset=DS)
    assert [v.tag for v in reg.versions(DS)] == ["v1", "v2", "v3"]
    assert [v.commit_id for v in reg.versions(DS)] == [v1.commit_id, v2.commit_id, v3.commit_id]
    assert len({v1.commit_id, v2.commit_id, v3.commit_id}) == 3
    assert reg.resolve(f"{DS}@latest") == v3.commit_id
    assert reg.latest(DS) == v3
    assert reg.show(f"{DS}@v2") == v2
    assert reg.show(f"{DS}@{v2.commit_id[:10].upper()}").tag == "v2"
    with pytest.raises(NotFoundError, match=r"dataset 'asr-demo' has no version v9 \(latest is v3\)"):
        reg.resolve(f"{DS}@v9")
    with pytest.raises(NotFoundError, match="unknown dataset 'no-such-set'"):
        reg.resolve("no-such-set@v1")
    with pytest.raises(NotFoundError, match="has no commit starting with"):
        reg.resolve(f"{DS}@{'f' * 12}" if not v1.commit_id.startswith("f") else f"{DS}@{'0' * 12}")
    with pytest.raises(NotFoundError, match="has no commit"):
        reg.resolve(f"{DS}@{'0' * 64}")
    with pytest.raises(ReferenceError_, match="missing version"):
        reg.resolve(f"{DS}@")


@pytest.mark.parametrize("damage", ["tamper", "truncate", "delete"])
def test_a_damaged_build_is_refused_and_nothing_is_written(
    reg: Registry, local: LocalStore, builds: Builds, tmp_path: Path, damage: str
) -> None:
    build = builds.copy("v1", tmp_path / "build")
    shard = build / "data/train/asr-demo-train.tfrecord-00001"
    if damage == "tamper":
        data = bytearray(shard.read_bytes())
        data[100] ^= 0xFF
        shard.write_bytes(bytes(data))
    elif damage == "truncate":
        shard.write_bytes(shard.read_bytes()[:-1])
    else:
        shard.unlink()
    with pytest.raises(IntegrityError, match="data/train/asr-demo-train.tfrecord-00001"):
        reg.register(build, dataset=DS)
    assert not local.root.exists()


def test_a_damaged_build_does_not_touch_an_existing_dataset(
    reg: Registry, local: LocalStore, builds: Builds, tmp_path: Path
) -> None:
    reg.register(builds.v1, dataset=DS)
    before = _snapshot(local.root)
    build = builds.copy("v2", tmp_path / "build")
    (build / "manifest" / "test" / "00000.parquet").write_bytes(b"not parquet")
    with pytest.raises(IntegrityError, match="manifest/test/00000.parquet"):
        reg.register(build, dataset=DS)
    assert _snapshot(local.root) == before
    with pytest.raises(NotFoundError, match="no dataset_info.json"):
        reg.register(tmp_path, dataset=DS)
    with pytest.raises(NotFoundError, match="not found"):
        reg.register(tmp_path / "nowhere", dataset=DS)


def test_validation_summary_goes_into_the_metadata(
    reg: Registry, builds: Builds, tmp_path: Path
) -> None:
    examples = builds.examples["v1"]
    build = write_build(tmp_path / "validated", examples, validation={
        "suite": "asr_default", "success": True, "evaluated": 12, "successful": 12, "failed": 0,
        "results": [],
    })
    v = reg.register(build, dataset=DS)
    assert {k: v.metadata[k] for k in v.metadata if k.startswith(META_VALIDATION)} == {
        "curate.validation.suite": "asr_default", "curate.validation.success": "true",
        "curate.validation.evaluated": "12", "curate.validation.successful": "12",
        "curate.validation.failed": "0",
    }
    assert reg.store.stat_object(DS, v.commit_id, "validation/result.json").size_bytes > 0


def test_diff_reports_keys_counts_and_hours_per_split(reg: Registry, builds: Builds) -> None:
    for name in ("v1", "v2", "v3"):
        reg.register(getattr(builds, name), dataset=DS)
    d12 = reg.diff(f"{DS}@v1", f"{DS}@v2")
    test, train = d12.split("test"), d12.split("train")
    assert (test.added, test.removed, test.changed) == (("te-0006",), (), ())
    assert (test.examples_before, test.examples_after, test.examples_delta) == (6, 7, 1)
    extra = make_examples("te", 7)[6]
    assert test.hours_delta == pytest.approx(extra.duration_s / 3600, rel=1e-6)
    assert train.unchanged and not train.added
    assert "stats.json" in d12.files_changed
    assert any(p.startswith("manifest/test/") for p in d12.files_changed)
    means = {name: (a, b) for name, a, b in test.signals}  # the split whose examples changed
    durations = [ex.duration_s for ex in make_examples("te", 7)]
    assert means["duration_s"] == (pytest.approx(np.mean(durations[:6]), rel=1e-6),
                                   pytest.approx(np.mean(durations), rel=1e-6))
    assert "snr_db" in means and train.signals == ()  # an unchanged manifest is not read
    assert d12.models == () and d12.to_dict()["models"] == {}
    assert not [p for p in d12.files_changed if p.startswith("data/train")]
    d23 = reg.diff(f"{DS}@v2", f"{DS}@latest")
    train = d23.split("train")
    assert (train.added, train.removed, train.changed) == ((), ("tr-0019",), ("tr-0018",))
    assert train.examples_delta == -1
    assert d23.split("test").unchanged
    assert d23.to_dict()["splits"]["train"]["removed"] == ["tr-0019"]
    assert d23.before == f"{DS}@v2" and d23.after == f"{DS}@v3"


def test_register_and_read_back_on_every_store(store: Store, builds: Builds, tmp_path: Path) -> None:
    """The registry over each store: land two versions, revert to v1's content, read v1 back."""
    import secrets

    name = f"rt-{secrets.token_hex(6)}"
    reg = Registry(store, cache_dir=tmp_path / "cache")
    v1 = reg.register(builds.v1, dataset=name)
    v2 = reg.register(builds.v2, dataset=name)
    assert reg.register(builds.v2, dataset=name) == v2
    v3 = reg.register(builds.v1_again, dataset=name)  # a revert is a new version
    assert (v3.tag, v3.fingerprint) == ("v3", v1.fingerprint)
    assert [v.tag for v in reg.versions(name)] == ["v1", "v2", "v3"]
    assert isinstance(v1, Version) and reg.resolve(f"{name}@v1") == v1.commit_id
    ds = reg.open(f"{name}@v1")
    assert ds.manifest("test").num_rows == 6
    for path in map(Path, ds.files("train")):
        rel = path.relative_to(tmp_path / "cache" / name / v1.commit_id)
        assert path.read_bytes() == (builds.v1 / rel).read_bytes()
    assert reg.diff(f"{name}@v1", f"{name}@v2").split("test").added == ("te-0006",)
    assert reg.diff(f"{name}@v2", f"{name}@v3").split("test").removed == ("te-0006",)


def test_lakefs_actions_on_main_survive_a_register(reg: Registry, builds: Builds, tmp_path: Path) -> None:
    import hashlib

    reg.register(builds.v1, dataset=DS)
    action = tmp_path / "pre-merge-validate.yaml"
    action.write_text("name: validate\non:\n  pre-merge:\n    branches: [main]\n")
    sha = hashlib.sha256(action.read_bytes()).hexdigest()
    reg.store.upload_object(DS, "main", "_lakefs_actions/validate.yaml", local_path=str(action), sha256=sha)
    reg.store.commit(DS, "main", message="add the validation hook", metadata={})
    v2 = reg.register(builds.v2, dataset=DS)
    assert reg.store.stat_object(DS, v2.commit_id, "_lakefs_actions/validate.yaml").sha256 == sha


def test_register_refuses_an_unvalidated_build_unless_allowed(
    reg: Registry, builds: Builds, tmp_path: Path
) -> None:
    from curate.validation.result import NotValidatedError

    build = write_build(tmp_path / "never", builds.examples["v1"], validation=None)
    with pytest.raises(NotValidatedError, match="never validated"):
        reg.register(build, dataset=DS)
    assert not reg.store.repository_exists(DS)
    v = reg.register(build, dataset=DS, allow_unvalidated=True)
    assert "never validated" in v.metadata[META_VALIDATION + "unvalidated"]


def test_diff_names_the_signal_models_that_changed() -> None:
    from registry.diff import _model_changes

    before = {"models": {"asr": {"model_id": "pocketsphinx==5.1.1@ab"}, "vad": {"model_id": "v"}}}
    after = {"models": {"asr": {"model_id": "whisper-tiny.en==0.1.0@cd"}, "vad": {"model_id": "v"},
                        "dnsmos": {"model_id": "dnsmos==0.0.1.1@ef"}}}
    assert _model_changes(before, after) == (
        ("asr", "pocketsphinx==5.1.1@ab", "whisper-tiny.en==0.1.0@cd"),
        ("dnsmos", "", "dnsmos==0.0.1.1@ef"),
    )
    assert _model_changes({}, {}) == ()
