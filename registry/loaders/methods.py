"""``DatasetVersion``'s training-stack loaders: PyTorch, Grain, Hugging Face, Ray, Spark.

Each reads one split of the version through its commit-keyed cache, pinned (see
:func:`TrainingLoaders.split_files`), decodes without TensorFlow, and carries the version's
``commit_id``. The stacks are extras, imported only when their loader is called.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from curate.extras import require
from curate.layout import ShardFormat, manifest_files
from registry.errors import MissingDependencyError, RegistryError
from registry.loaders.split import PinnedFile, SplitFiles

if TYPE_CHECKING:
    from registry.loaders.grain_data import GrainSource
    from registry.loaders.torch_data import ExampleDataset, ExampleStream

__all__ = ["TrainingLoaders"]


def _need(module: str, what: str) -> None:
    """MissingDependencyError, in one line naming the extra, if ``module`` is missing."""
    require(module, what, error=MissingDependencyError)


class TrainingLoaders:
    """Mixed into :class:`registry.dataset.DatasetVersion` (it provides ``info``, ``cache``,
    ``ref``, ``commit_id``, ``files`` and ``_fetch``)."""

    def split_files(self, split: str, *, what: str = "this loader",
                    formats: Sequence[ShardFormat | str] | None = None) -> SplitFiles:
        """The pinned files of ``split``: each fetched through the cache (downloaded and checked
        against the version's sha256 unless cached intact; a cached file whose size or mtime
        changed since it was verified is hashed again and fetched again if corrupted), then
        pinned to its size and mtime now, which every reader checks before opening it. Only the
        shards of ``formats`` (default: every format) are fetched."""
        if not self.cache.local:
            raise RegistryError(
                f"{what} needs local files, and the cache of {self.ref} is {self.cache.dir}: set "
                "CURATE_CACHE_DIR to a local directory (or pull the version) to read it"
            )
        self.files(split)  # NotFoundError naming the splits, for a split there is not
        info = self.info
        shards = info["splits"][split].get("shards", {})
        wanted = tuple(ShardFormat) if formats is None else tuple(map(ShardFormat, formats))
        counts = {s["path"]: int(s["num_examples"]) for fmt in wanted
                  for s in shards.get(fmt.value, [])}
        rels = [*counts, *manifest_files(info, split)]
        paths = self._fetch(rels)
        pinned = []
        for rel, path in zip(rels, paths):
            st = os.stat(path)
            pinned.append(PinnedFile(path=path, rel=rel, sha256=info["files"][rel]["sha256"],
                                     size_bytes=st.st_size, num_examples=counts.get(rel, 0),
                                     mtime_ns=st.st_mtime_ns))
        return SplitFiles.from_info(info, split, dict(zip(rels, paths)), ref=self.ref,
                                    commit_id=self.commit_id, verified=pinned, formats=wanted)

    def _first_format(self, split: str, *preferred: ShardFormat) -> tuple[ShardFormat]:
        """The first of ``preferred`` that ``split`` has shards in (the last if none: its
        loader then says what is missing), as ``split_files``'s ``formats``."""
        self.files(split)  # NotFoundError naming the splits, for a split there is not
        shards = self.info["splits"][split].get("shards", {})
        return (next((f for f in preferred if shards.get(f.value)), preferred[-1]),)

    def _whole_shards(self, split: str) -> tuple[ShardFormat]:
        """What the loaders that read whole shards read (``SplitFiles.format``): ArrayRecord
        where the version has it, else TFRecord."""
        return self._first_format(split, ShardFormat.ARRAY_RECORD, ShardFormat.TFRECORD)

    def examples(self, split: str, *, decode_audio: bool = True,
                 audio_dtype: str = "float32") -> Iterator[dict[str, Any]]:
        """The examples of ``split`` in shard order as plain values (text ``str``, numbers
        ``int``/``float``, ``audio`` float32 numpy samples or, without ``decode_audio``, the
        encoded bytes), read and decoded in this process: no extra needed.
        :func:`registry.loaders.records.pad_batch` makes a padded numpy batch of a few."""
        from registry.loaders.records import iter_examples

        formats = self._first_format(split, ShardFormat.TFRECORD, ShardFormat.ARRAY_RECORD)
        return iter_examples(self.split_files(split, what="examples", formats=formats),
                             decode_audio=decode_audio, audio_dtype=audio_dtype)

    def torch_dataset(self, split: str, *, format: ShardFormat | str = ShardFormat.ARRAY_RECORD,
                      decode_audio: bool = True, audio_dtype: str = "float32",
                      shuffle: bool = False, seed: int = 0, rank: int | None = None,
                      world_size: int | None = None, drop_remainder: bool = False,
                      shuffle_buffer: int = 1024) -> ExampleDataset | ExampleStream:
        """A PyTorch dataset of ``split``: map-style over ArrayRecord (``format="array_record"``)
        or iterable over TFRecord (``"tfrecord"``), this rank's share (``rank``/``world_size``,
        else ``torch.distributed``'s), shuffled per epoch from ``seed``; ``.loader(batch_size=…,
        num_workers=…)`` gives a resumable ``DataLoader``. See :mod:`registry.loaders.torch_data`."""
        _need("torch", "torch_dataset")
        from registry.loaders import torch_data

        try:
            fmt = ShardFormat(format)
        except ValueError:
            raise ValueError(f"format must be one of {', '.join(f.value for f in ShardFormat)}, "
                             f"not {format!r}") from None
        files = self.split_files(split, what="torch_dataset", formats=(fmt,))
        common = dict(decode_audio=decode_audio, audio_dtype=audio_dtype, shuffle=shuffle, seed=seed, rank=rank,
                      world_size=world_size, drop_remainder=drop_remainder)
        if fmt is ShardFormat.ARRAY_RECORD:
            return torch_data.ExampleDataset(files, **common)
        return torch_data.ExampleStream(files, shuffle_buffer=shuffle_buffer, **common)

    def grain_source(self, split: str, *, decode_audio: bool = True,
                     audio_dtype: str = "float32") -> GrainSource:
        """A Grain ``RandomAccessDataSource`` of ``split`` (shard order), decoding without
        TensorFlow; ``registry.loaders.grain_data.shard_options()`` shards it per host."""
        _need("grain", "grain_source")
        from registry.loaders.grain_data import GrainSource

        files = self.split_files(split, what="grain_source", formats=(ShardFormat.ARRAY_RECORD,))
        return GrainSource(files, decode_audio=decode_audio, audio_dtype=audio_dtype)

    def to_hf_dataset(self, split: str, *, decode_audio: bool = True) -> Any:
        """``split`` as a ``datasets.Dataset``: the manifest's columns and an ``Audio`` column
        (built without PyTorch; kept as an Arrow file beside the version's cached files)."""
        _need("datasets", "to_hf_dataset")
        from registry.loaders.hf_data import to_hf_dataset

        files = self.split_files(split, what="to_hf_dataset", formats=self._whole_shards(split))
        cache_file = os.path.join(self.cache.dir, ".derived", "hf", f"{split}.arrow")
        return to_hf_dataset(files, cache_file=cache_file, decode_audio=decode_audio)

    def ray_dataset(self, split: str, *, decode_audio: bool = True, start: int = 0,
                    **read_args: Any) -> Any:
        """``split`` as a ``ray.data.Dataset``, one read task per shard (see
        :mod:`registry.loaders.ray_data`)."""
        _need("ray", "ray_dataset")
        from registry.loaders.ray_data import ray_dataset

        files = self.split_files(split, what="ray_dataset", formats=self._whole_shards(split))
        return ray_dataset(files, decode_audio=decode_audio, start=start, **read_args)

    def spark_dataframe(self, spark: Any, split: str) -> Any:
        """``split`` as a ``pyspark.sql.DataFrame``, one partition per shard: the manifest's
        columns plus the encoded audio bytes (see :mod:`registry.loaders.spark_data`)."""
        _need("pyspark", "spark_dataframe")
        from registry.loaders.spark_data import spark_dataframe

        files = self.split_files(split, what="spark_dataframe", formats=self._whole_shards(split))
        return spark_dataframe(spark, files)
