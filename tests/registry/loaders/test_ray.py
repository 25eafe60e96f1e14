"""Ray Data: the split read in parallel (one task per shard) on a local Ray, split between
two consumers, resumed from a count, and refused when a file changed."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from registry.errors import IntegrityError
from registry.loaders.split import SplitFiles
from tests.extras import require
from tests.registry.loaders.conftest import Expected

ray = require("ray", "ray")

from registry.loaders.ray_data import ray_dataset  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    saved = ctx.enable_progress_bars, ctx.execution_options.preserve_order
    ctx.enable_progress_bars, ctx.execution_options.preserve_order = False, True
    try:
        yield
    finally:
        ctx.enable_progress_bars, ctx.execution_options.preserve_order = saved
        ray.shutdown()


def test_rows_are_the_builds_examples(train: SplitFiles, train_expected: Expected) -> None:
    ds = ray_dataset(train)
    assert ds.count() == 20
    rows = ds.take_all()
    assert [r["key"] for r in rows] == train_expected.keys  # shard order (preserve_order)
    for r in rows:
        assert r["audio"].dtype == np.float32
        train_expected.check(r["key"], r["text"], r["audio"])
    assert {"snr_db", "duration_s", "shard", "position"} <= set(rows[0])
    raw = ray_dataset(train, decode_audio=False).take(1)[0]
    assert isinstance(raw["audio"], bytes) and raw["audio"][:4] == b"fLaC"


def test_two_consumers_see_disjoint_halves_whose_union_is_the_split(train: SplitFiles) -> None:
    """As Ray Train hands a dataset to its workers: ``streaming_split``, consumed at once."""
    parts = ray_dataset(train, decode_audio=False).streaming_split(2, equal=True)
    seen: list[list[str]] = [[], []]

    def consume(i: int) -> None:
        seen[i] = [r["key"] for r in parts[i].iter_rows()]

    threads = [threading.Thread(target=consume, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not set(seen[0]) & set(seen[1]) and len(seen[0]) == len(seen[1]) == 10
    assert sorted(seen[0] + seen[1]) == sorted(r["key"] for r in ray_dataset(
        train, decode_audio=False).take_all())


def test_a_resumed_read_yields_exactly_the_remaining_examples(train: SplitFiles) -> None:
    whole = [r["key"] for r in ray_dataset(train, decode_audio=False).iter_rows()]
    for start in (0, 7, 13, 20):
        rest = ray_dataset(train, decode_audio=False, start=start)
        assert rest.count() == 20 - start
        assert [r["key"] for r in rest.iter_rows()] == whole[start:]
    with pytest.raises(ValueError, match="start 21 is not in 0..20"):
        ray_dataset(train, start=21)


def test_a_file_changed_after_verification_is_refused(builds, tmp_path: Path) -> None:
    root = Path(shutil.copytree(builds.v1, tmp_path / "build"))
    split = SplitFiles.from_build(root, "train")
    victim = Path(split.array_record[1].path)
    victim.write_bytes(victim.read_bytes()[:-2] + b"\0\0")
    with pytest.raises(IntegrityError, match="changed after it was verified"):
        ray_dataset(split).take_all()


def test_v1_from_the_registry_is_the_build(reg, builds) -> None:
    from tests.registry.loaders.conftest import DS, expected

    ds = reg.open(f"{DS}@v1")
    exp = expected(builds, "train")
    data = ds.ray_dataset("train")
    assert data.commit_id == ds.commit_id
    rows = data.take_all()
    assert [r["key"] for r in rows] == exp.keys
    for r in rows:
        exp.check(r["key"], r["text"], r["audio"])
