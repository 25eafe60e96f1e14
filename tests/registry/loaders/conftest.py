"""Fixtures of the loader tests: the ``builds`` of ``tests/registry/conftest.py``, read through
:class:`registry.loaders.split.SplitFiles`, and what each split must hold."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from registry.api import Registry
from registry.local import LocalStore
from registry.loaders.split import SplitFiles
from tests.registry.build_fixture import FixtureExample
from tests.registry.conftest import Builds


DS = "asr-demo"


class TamperingStore(LocalStore):
    """A LocalStore whose downloads of one path arrive with a flipped byte."""

    victim = ""

    def download_object(self, repo: str, ref: str, path: str, *, dest_path: str) -> None:
        super().download_object(repo, ref, path, dest_path=dest_path)
        if path == self.victim:
            data = bytearray(Path(dest_path).read_bytes())
            data[len(data) // 2] ^= 0xFF
            Path(dest_path).write_bytes(bytes(data))


@pytest.fixture
def reg(tmp_path: Path, builds: Builds) -> Registry:
    """A registry holding ``builds.v1`` as ``asr-demo@v1``, in a store that can tamper."""
    reg = Registry(TamperingStore(tmp_path / "store"), cache_dir=tmp_path / "cache")
    reg.register(builds.v1, dataset=DS)
    return reg


@dataclass(frozen=True)
class Expected:
    """A split as the build wrote it, in shard order (manifest row order)."""

    keys: list[str]
    by_key: dict[str, FixtureExample]

    def check(self, key: str, text: str, audio: np.ndarray) -> None:
        ex = self.by_key[key]
        assert text == ex.text
        np.testing.assert_array_equal(np.asarray(audio), ex.float_samples())


def expected(builds: Builds, split: str, build: str = "v1") -> Expected:
    from curate.build_info import read_manifest

    root = getattr(builds, build)
    with open(Path(root) / "dataset_info.json") as f:
        info = json.load(f)
    rows = read_manifest(info, split, lambda rel: str(Path(root) / rel)).to_pylist()
    rows.sort(key=lambda r: (r["shard"], r["position"]))
    return Expected(keys=[r["key"] for r in rows],
                    by_key={e.key: e for e in builds.examples[build][split]})


@pytest.fixture(scope="session")
def train(builds: Builds) -> SplitFiles:
    return SplitFiles.from_build(builds.v1, "train")


@pytest.fixture(scope="session")
def train_expected(builds: Builds) -> Expected:
    return expected(builds, "train")
