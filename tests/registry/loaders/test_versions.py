"""Every training loader of ``DatasetVersion`` reads ``NAME@v1`` as the build wrote it, exposes
its commit id, and refuses a cache file that does not match the version's sha256 (every reader
of a split: the training loaders, ``examples``, ``array_record_source``, ``tf_dataset``; Ray's and
Spark's reads of ``NAME@v1`` are in their modules, beside the engine they start once)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from registry.api import Registry
from registry.errors import IntegrityError, MissingDependencyError, RegistryError
from tests.extras import require
from tests.registry.conftest import Builds
from tests.registry.loaders.conftest import DS, Expected, expected


def _samples(encoded: bytes) -> np.ndarray:
    import soundfile as sf

    return sf.read(io.BytesIO(encoded), dtype="float32")[0]


def _torch(ds, exp: Expected) -> list[str]:
    require("torch", "torch")
    keys = []
    for fmt in ("array_record", "tfrecord"):
        data = ds.torch_dataset("train", format=fmt)
        assert data.commit_id == ds.commit_id
        got = [k for b in data.loader(batch_size=4, num_workers=2) for k in b["key"]]
        assert got == exp.keys if fmt == "array_record" else sorted(got) == sorted(exp.keys)
        for i in (0, 7, 19):
            ex = data[i] if fmt == "array_record" else None
            if ex is not None:
                exp.check(ex["key"], ex["text"], ex["audio"].numpy())
        keys = got
    return keys


def _grain(ds, exp: Expected) -> list[str]:
    require("grain", "grain")
    source = ds.grain_source("train")
    assert source.commit_id == ds.commit_id
    for i in range(len(source)):
        exp.check(source[i]["key"], source[i]["text"], source[i]["audio"])
    return [source[i]["key"] for i in range(len(source))]


def _hf(ds, exp: Expected) -> list[str]:
    require("datasets", "hf")
    data = ds.to_hf_dataset("train", decode_audio=False)
    assert ds.commit_id in data.info.description
    rows = data.to_list()
    for r in rows:
        exp.check(r["key"], r["text"], _samples(r["audio"]["bytes"]))
    return [r["key"] for r in rows]


STACKS = {"torch": _torch, "grain": _grain, "hf": _hf}  # Ray, Spark: in their own modules


@pytest.mark.parametrize("stack", list(STACKS))
def test_every_loader_reads_v1_as_the_build_wrote_it(stack: str, reg: Registry,
                                                     builds: Builds) -> None:
    ds = reg.open(f"{DS}@v1")
    exp = expected(builds, "train")
    keys = STACKS[stack](ds, exp)
    assert sorted(keys) == sorted(exp.keys)


LOADERS = {
    "torch": lambda ds: list(ds.torch_dataset("train").loader(batch_size=4)),
    "torch-tfrecord": lambda ds: list(ds.torch_dataset("train", format="tfrecord")),
    "grain": lambda ds: ds.grain_source("train")[0],
    "hf": lambda ds: ds.to_hf_dataset("train"),
    "ray": lambda ds: ds.ray_dataset("train"),
    "spark": lambda ds: ds.spark_dataframe(None, "train"),
    "examples": lambda ds: list(ds.examples("train")),
    "array_record_source": lambda ds: ds.array_record_source("train")[0],
    "tf_dataset": lambda ds: list(ds.tf_dataset("train", batch_size=4)),
}


@pytest.mark.parametrize("loader", list(LOADERS))
def test_every_loader_refuses_a_cache_file_that_does_not_match(
    loader: str, reg: Registry, tmp_path: Path
) -> None:
    """A cached shard corrupted in place is fetched again; when the registry's copy is bad
    too, the loader refuses the version instead of reading it."""
    ds = reg.open(f"{DS}@v1")
    fmt = "tfrecord" if loader in ("torch-tfrecord", "tf_dataset", "examples") else "array_record"
    rel = ds.info["splits"]["train"]["shards"][fmt][1]["path"]
    cached = Path(ds.cache.path(rel))
    ds.split_files("train")  # cached, verified
    good = cached.read_bytes()
    cached.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    reg.store.victim = rel
    with pytest.raises(IntegrityError, match=f"'{rel}' of {DS}@.*downloaded sha256"):
        LOADERS[loader](reg.open(f"{DS}@v1"))
    reg.store.victim = ""
    ds = reg.open(f"{DS}@v1")
    if loader in ("spark", "ray"):
        ds.split_files("train")  # what they do first (without starting Ray or Spark)
    else:
        LOADERS[loader](ds)  # fetched again, intact
    assert cached.read_bytes() == good


def test_a_loader_whose_library_is_missing_says_which_extra(reg: Registry, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyspark" else real(name, *a))
    with pytest.raises(MissingDependencyError,
                       match=r"spark_dataframe needs PySpark, .*pip install 'curate-speech\[spark\]'"):
        reg.open(f"{DS}@v1").spark_dataframe(None, "train")


def test_the_loaders_need_a_local_cache(reg: Registry) -> None:
    ds = reg.open(f"{DS}@v1")
    ds.cache.local = False  # as for an s3:// cache
    with pytest.raises(RegistryError, match="grain_source needs local files"):
        require("grain", "grain") and ds.grain_source("train")


def test_a_loader_fetches_only_the_shards_of_the_format_it_reads(reg: Registry) -> None:
    """The loaders once fetched (and hashed) both formats' shards to read one of them."""
    ds = reg.open(f"{DS}@v1")
    shards = ds.info["splits"]["train"]["shards"]

    def cached(fmt: str) -> list[bool]:
        return [Path(ds.cache.path(s["path"])).exists() for s in shards[fmt]]

    assert not any(cached("tfrecord") + cached("array_record"))
    assert len(list(ds.examples("train", decode_audio=False))) == 20
    assert all(cached("tfrecord")) and not any(cached("array_record"))  # examples: TFRecord
    files = ds.split_files("train", formats=["array_record"])
    assert files.tfrecord == () and len(files.array_record) == len(shards["array_record"])
    assert all(cached("array_record")) and files.num_examples == 20
    with pytest.raises(ValueError, match="'parquet' is not a valid ShardFormat"):
        ds.split_files("train", formats=["parquet"])

