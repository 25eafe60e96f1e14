"""Fixtures of the loader tests: the ``builds`` of ``tests/registry/conftest.py``, read through
:class:`registry.loaders.split.SplitFiles`, and what each split must hold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from registry.loaders.split import SplitFiles
from tests.registry.build_fixture import FixtureExample
from tests.registry.conftest import Builds


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
    root = getattr(builds, build)
    rows = pq.read_table(Path(root) / "manifest" / f"{split}.parquet").to_pylist()
    rows.sort(key=lambda r: (r["shard"], r["position"]))
    return Expected(keys=[r["key"] for r in rows],
                    by_key={e.key: e for e in builds.examples[build][split]})  # fmt: skip


@pytest.fixture(scope="session")
def train(builds: Builds) -> SplitFiles:
    return SplitFiles.from_build(builds.v1, "train")


@pytest.fixture(scope="session")
def train_expected(builds: Builds) -> Expected:
    return expected(builds, "train")
