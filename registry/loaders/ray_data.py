"""Ray Data: a pinned split read in parallel, one read task per shard, with the project's
decoder (offline inference, preprocessing).

Rows hold every manifest column and ``audio``: float32 samples (a variable-shaped tensor
column: ``[n]`` or ``[n, channels]`` per row) or, without ``decode_audio``, the encoded bytes.
Each shard's rows come in order; shards finish in any order unless the job sets
``DataContext.get_current().execution_options.preserve_order = True``. Row counts come from
``dataset_info.json``, so ``count()`` reads nothing. ``start=k`` skips the first ``k``
examples in shard order: a job that stopped after ``k`` resumes with exactly the rest. The tasks read the
files where they are: on a cluster the version's cache must be on a filesystem every node
sees (or each node must hold the version: ``DatasetVersion.pull``).
"""

from __future__ import annotations

import functools
from typing import Any

from curate.layout import ShardFormat
from registry.loaders.records import shard_table
from registry.loaders.split import AUDIO, SplitFiles

__all__ = ["ray_dataset"]  # and SplitDatasource, made on first use (it subclasses Ray's)


def _read_shard(files: SplitFiles, shard: int, fmt: ShardFormat, decode_audio: bool,
                skip: int) -> Any:
    table = shard_table(files, shard, fmt=fmt).slice(skip)
    if not decode_audio:
        return table
    from ray.data.extensions import ArrowVariableShapedTensorArray

    from curate.example_decode import decode_audio as decode

    samples = [decode(b) for b in table.column(AUDIO).to_pylist()]
    column = ArrowVariableShapedTensorArray.from_numpy(samples)
    return table.set_column(table.schema.get_field_index(AUDIO), AUDIO, column)


@functools.cache
def _datasource_class() -> type:
    from ray.data import Datasource, ReadTask
    from ray.data.block import BlockMetadata

    class SplitDatasource(Datasource):
        """One ``ReadTask`` per shard of a :class:`SplitFiles`."""

        def __init__(self, files: SplitFiles, *, decode_audio: bool = True, start: int = 0) -> None:
            if not 0 <= start <= files.num_examples:
                raise ValueError(f"start {start} is not in 0..{files.num_examples}")
            self._files = files
            self._fmt = files.format
            self._decode = decode_audio
            self._start = start

        def get_name(self) -> str:
            return f"CurateSplit({self._files.ref}:{self._files.split})"

        def estimate_inmemory_data_size(self) -> int | None:
            return sum(f.size_bytes for f in self._files.shards(self._fmt))

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[Any]:
            tasks, shard_start = [], 0
            for shard, f in enumerate(self._files.shards(self._fmt)):
                skip = max(0, self._start - shard_start)
                shard_start += f.num_examples
                if skip >= f.num_examples:
                    continue
                meta = BlockMetadata(num_rows=f.num_examples - skip, size_bytes=f.size_bytes,
                                     input_files=(f.path,), exec_stats=None)

                def read(shard: int = shard, skip: int = skip) -> list[Any]:
                    return [_read_shard(self._files, shard, self._fmt, self._decode, skip)]

                tasks.append(ReadTask(read, meta, per_task_row_limit=per_task_row_limit))
            return tasks

    return SplitDatasource


def __getattr__(name: str) -> Any:  # SplitDatasource needs Ray: made when first asked for
    if name == "SplitDatasource":
        return _datasource_class()
    raise AttributeError(name)


def ray_dataset(files: SplitFiles, *, decode_audio: bool = True, start: int = 0,
                **read_args: Any) -> Any:
    """The split as a ``ray.data.Dataset`` (see the module doc; ``read_args`` go to
    ``ray.data.read_datasource``: ``concurrency``, ``num_cpus``…)."""
    import ray.data

    source = _datasource_class()(files, decode_audio=decode_audio, start=start)
    ds = ray.data.read_datasource(source, **read_args)
    ds.commit_id = files.commit_id  # on the Dataset as returned (a transform makes a new one)
    return ds
