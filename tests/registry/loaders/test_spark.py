"""PySpark: the split as a DataFrame on a local Spark (local[2]), one partition per shard,
and refused when a file changed."""

from __future__ import annotations

import io
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.loaders.split import SplitFiles
from tests.extras import require
from tests.registry.loaders.conftest import Expected

pyspark = require("pyspark", "spark")

from registry.loaders.spark_data import spark_dataframe  # noqa: E402


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the executors' Python: this one
    session = (SparkSession.builder.master("local[2]").appName("curate-loader-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.driver.host", "127.0.0.1").getOrCreate())
    try:
        yield session
    finally:
        session.stop()


def test_the_dataframe_holds_the_builds_examples_one_partition_per_shard(
    spark, train: SplitFiles, train_expected: Expected
) -> None:
    """Also the ranks' split for Spark: each partition (an executor task, here one of the two
    cores of local[2]) holds exactly one shard, so they are disjoint and together the split."""
    import soundfile as sf
    from pyspark.sql import functions as F

    df = spark_dataframe(spark, train)
    assert df.rdd.getNumPartitions() == len(train.array_record) == 2
    assert dict(df.dtypes)["audio"] == "binary" and dict(df.dtypes)["snr_db"] == "double"
    rows = df.withColumn("partition", F.spark_partition_id()).collect()
    assert [r["key"] for r in rows] == train_expected.keys  # partition = shard, in order
    for r in rows:
        train_expected.check(r["key"], r["text"], sf.read(io.BytesIO(r["audio"]), dtype="float32")[0])
    parts = {p: [r["key"] for r in rows if r["partition"] == p] for p in (0, 1)}
    assert [r["shard"] for r in rows] == [r["partition"] for r in rows]
    assert not set(parts[0]) & set(parts[1])
    assert [len(parts[i]) for i in (0, 1)] == [f.num_examples for f in train.array_record]


def test_a_file_changed_after_verification_is_refused(spark, builds, tmp_path: Path) -> None:
    root = Path(shutil.copytree(builds.v1, tmp_path / "build"))
    split = SplitFiles.from_build(root, "train")
    victim = Path(split.array_record[0].path)
    victim.write_bytes(victim.read_bytes()[:-1] + b"\1")
    with pytest.raises(Exception, match="changed after it was verified"):
        spark_dataframe(spark, split).collect()


def test_v1_from_the_registry_is_the_build(spark, reg, builds) -> None:
    import soundfile as sf

    from tests.registry.loaders.conftest import DS, expected

    exp = expected(builds, "train")
    ds = reg.open(f"{DS}@v1")
    df = ds.spark_dataframe(spark, "train")
    assert df.commit_id == ds.commit_id
    assert df.select("key", "audio").schema["audio"].metadata == {
        "commit_id": ds.commit_id, "ref": ds.ref}
    rows = df.collect()
    assert [r["key"] for r in rows] == exp.keys
    for r in rows:
        exp.check(r["key"], r["text"], sf.read(io.BytesIO(r["audio"]), dtype="float32")[0])
