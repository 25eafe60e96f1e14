"""``dataset_info.json`` is covered by integrity checks (issue 16): edited counts or a shard
dropped after ``curate validate`` used to register as "validation passed" with false metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.layout import fingerprint
from curate.validation.result import NotValidatedError
from registry.api import Registry
from registry.errors import IntegrityError
from registry.local import LocalStore
from tests.registry.conftest import Builds

DS = "asr-integrity"


def _edit(build: Path, change) -> None:
    path = build / "dataset_info.json"
    info = json.loads(path.read_text())
    change(info)
    path.write_text(json.dumps(info, indent=2, sort_keys=True))


def _registry(tmp_path: Path) -> Registry:
    return Registry(LocalStore(tmp_path / "store"), cache_dir=tmp_path / "cache")


def test_counts_edited_after_validation_are_refused_at_register(builds: Builds, tmp_path: Path):
    build = builds.copy("v1", tmp_path / "edited")

    def more_speakers(info):  # consistent with everything else: only the binding catches it
        info["splits"]["train"]["num_speakers"] += 100

    _edit(build, more_speakers)
    with pytest.raises(NotValidatedError, match="is not the one that was validated"):
        _registry(tmp_path).register(build, dataset=DS)


def test_counts_that_do_not_add_up_are_refused_even_unvalidated(builds: Builds, tmp_path: Path):
    build = builds.copy("v1", tmp_path / "edited")

    def inflate(info):
        info["counts"]["accepted"] += 5
        info["counts"]["read"] += 5

    _edit(build, inflate)
    with pytest.raises(IntegrityError, match="do not add up"):
        _registry(tmp_path).register(build, dataset=DS, allow_unvalidated=True)


def test_a_shard_dropped_after_validation_is_refused(builds: Builds, tmp_path: Path):
    build = builds.copy("v1", tmp_path / "dropped")
    info = json.loads((build / "dataset_info.json").read_text())
    shard = info["splits"]["train"]["shards"]["tfrecord"][-1]["path"]

    def drop(info):
        del info["files"][shard]
        for fmt in info["splits"]["train"]["shards"].values():
            fmt[:] = [s for s in fmt if s["path"] != shard]

    _edit(build, drop)
    (build / shard).unlink()
    with pytest.raises(IntegrityError, match="fingerprint is not the one of the files it lists"):
        _registry(tmp_path).register(build, dataset=DS, allow_unvalidated=True)

    def refingerprint(info):  # and with the fingerprint recomputed: the shards do not add up
        info["fingerprint"] = fingerprint(info["files"])

    _edit(build, refingerprint)
    with pytest.raises(IntegrityError, match="shards hold"):
        _registry(tmp_path).register(build, dataset=DS, allow_unvalidated=True)
