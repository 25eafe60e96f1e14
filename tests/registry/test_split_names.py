"""Split names read back from a build or a version are checked with the config's rule before
they become paths (issue 16): a pushed ``dataset_info.json`` naming the split ``../../x`` must
not make any reader touch a file outside its directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from curate.fsio import sha256_of
from registry.api import Registry
from registry.build import Build
from registry.cache import CommitCache
from registry.dataset import DatasetVersion
from registry.diff import diff_versions
from registry.errors import IntegrityError
from registry.local import LocalStore
from tests.registry.conftest import Builds

DS = "asr-splits"
EVIL = "../../../../escaped"


def _with_evil_split(build: Path, dest: Path) -> Path:
    out = Path(shutil.copytree(build, dest))
    info = json.loads((out / "dataset_info.json").read_text())
    info["splits"][EVIL] = info["splits"].pop("test")
    (out / "dataset_info.json").write_text(json.dumps(info))
    return out


def test_register_refuses_a_build_whose_split_name_is_a_path(builds: Builds, tmp_path: Path):
    evil = _with_evil_split(builds.v1, tmp_path / "evil")
    with pytest.raises(IntegrityError, match="split name '../../../../escaped' must be letters"):
        Build.read(evil)


def test_version_reader_and_diff_refuse_a_stored_split_name_that_is_a_path(
    builds: Builds, tmp_path: Path
):
    store = LocalStore(tmp_path / "store")
    reg = Registry(store, cache_dir=tmp_path / "cache")
    good = reg.register(builds.v1, dataset=DS)
    evil = _with_evil_split(builds.v1, tmp_path / "evil")
    store.create_branch(DS, "pushed", source_ref="main")  # pushed past curate's checks
    info = str(evil / "dataset_info.json")
    store.upload_object(DS, "pushed", "dataset_info.json", local_path=info, sha256=sha256_of(info))
    commit = store.commit(DS, "pushed", message="evil", metadata={})
    version = DatasetVersion(store, dataset=DS, commit_id=getattr(commit, "id", commit),
                             cache_root=tmp_path / "cache")
    with pytest.raises(IntegrityError, match="split name"):
        version.manifest(EVIL)
    with pytest.raises(IntegrityError, match="split name"):
        diff_versions(reg.open(f"{DS}@{good.tag}"), version)
    assert not (tmp_path / "escaped.parquet").exists()
    assert not list(tmp_path.parent.glob("escaped*"))


def test_cache_paths_stay_below_the_commit_directory(tmp_path: Path):
    cache = CommitCache(LocalStore(tmp_path / "store"), repo=DS, commit_id="c0ffee",
                        root=tmp_path / "cache")
    assert cache.path("manifest/train.parquet").startswith(str(tmp_path / "cache" / DS / "c0ffee"))
    for bad in ("manifest/../../x.parquet", "/etc/passwd", "", ".verified/x", "a/../../b"):
        with pytest.raises(IntegrityError):
            cache.path(bad)
    for repo, commit in ((DS, ".."), ("..", "c0"), (DS, "a/../../b")):
        with pytest.raises(IntegrityError, match="bad name"):
            CommitCache(LocalStore(tmp_path / "store"), repo=repo, commit_id=commit,
                        root=tmp_path / "cache")
