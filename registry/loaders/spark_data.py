"""PySpark: a pinned split as a DataFrame, one partition per shard.

Columns: every manifest column (key, text, speaker, shard, position, duration, signals…) and
``audio``, the encoded bytes (FLAC or WAV) as the shards store them, read by the project's
readers inside the executors (``mapInArrow``), each record checked against its manifest row.
Executors read the files where they are: on a cluster the version's cache must be on a
filesystem every executor sees, and the executors' Python (``spark.pyspark.python`` or
``PYSPARK_PYTHON``) must have this package installed.
"""

from __future__ import annotations

from typing import Any

from curate.layout import ShardFormat
from registry.loaders.records import manifest_rows, shard_table
from registry.loaders.split import AUDIO, SplitFiles

__all__ = ["spark_dataframe"]


def _read_shards(files: SplitFiles, fmt: ShardFormat):
    def read(batches: Any) -> Any:  # RecordBatches of shard numbers -> RecordBatches of rows
        for batch in batches:
            for shard in batch.column("id").to_pylist():
                yield from shard_table(files, shard, fmt=fmt).to_batches()

    return read


def spark_dataframe(spark: Any, files: SplitFiles) -> Any:
    """The split as a ``pyspark.sql.DataFrame`` with one partition per shard, rows in shard
    order within each (see the module doc)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    fmt = files.format
    count = len(files.shards(fmt))
    schema = manifest_rows(files, files.manifests[:1]).schema.append(
        pa.field(AUDIO, pa.binary()))
    schema = schema.remove_metadata()
    ids = spark.range(count, numPartitions=count)
    # The commit goes with the audio column's metadata (kept by selects and joins) and on the
    # DataFrame as returned, as every loader exposes it.
    df = ids.mapInArrow(_read_shards(files, fmt), from_arrow_schema(schema)).withMetadata(
        AUDIO, {"commit_id": files.commit_id, "ref": files.ref})
    df.commit_id = files.commit_id
    return df
