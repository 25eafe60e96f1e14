"""Grain (JAX): a ``RandomAccessDataSource`` over a pinned split, decoded without TensorFlow.

    source = GrainSource(files)                      # or DatasetVersion.grain_source(split)
    loader = grain.DataLoader(
        data_source=source,
        sampler=grain.samplers.IndexSampler(len(source), shard_options=shard_options(),
                                            shuffle=True, seed=0, num_epochs=1),
        operations=[grain.transforms.Batch(8, batch_fn=PadBatch())],
        worker_count=2)
    it = iter(loader); state = it.get_state(); …; it.set_state(state)   # checkpoints

A record is a dict of numpy values: ``index`` (the manifest row), text as ``str``, ``audio`` as
float32 samples (``[n]`` or ``[n, channels]``; int16 PCM with ``audio_dtype="int16"``, half
the bytes to move between processes; the encoded bytes without ``decode_audio``), numbers as
int64 / float32 scalars. Worker processes open their own readers (the source pickles without
them) and import neither TensorFlow nor Beam. :class:`PadBatch` pads a batch; in a worker it
writes the padded audio straight into shared memory (Grain would otherwise copy it there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from curate.layout import ShardFormat
from registry.loaders.order import resolve_rank
from registry.loaders.records import ArrayRecordShards, Decoder, pad_batch
from registry.loaders.split import SplitFiles

__all__ = ["GrainSource", "PadBatch", "pad_batch", "shard_options"]

INDEX = "index"


class GrainSource:
    """``len()`` and ``[i]`` over the split's examples in shard order (Grain's
    ``RandomAccessDataSource`` protocol)."""

    def __init__(self, files: SplitFiles, *, decode_audio: bool = True,
                 audio_dtype: str = "float32") -> None:
        self.files = files
        self.commit_id = files.commit_id
        self._records = ArrayRecordShards(files.shards(ShardFormat.ARRAY_RECORD), ref=files.ref)
        self._decode = Decoder(files, decode_audio=decode_audio, audio_dtype=audio_dtype)

    def __repr__(self) -> str:  # Grain checks it when it restores a checkpoint
        return (f"GrainSource(ref={self.files.ref!r}, split={self.files.split!r}, "
                f"commit_id={self.commit_id!r}, len={len(self)})")

    def __len__(self) -> int:
        return len(self._records)

    def _example(self, index: int, record: bytes) -> dict[str, Any]:
        ex = self._decode(record)
        for name in self._decode.ints:
            ex[name] = np.int64(ex[name])
        for name in self._decode.floats:
            ex[name] = np.float32(ex[name])
        ex[INDEX] = np.int64(index)
        return ex

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        return self._example(index, self._records[index])

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        indices = [int(i) for i in indices]
        return [self._example(i, r) for i, r in zip(indices, self._records.read(indices))]


class PadBatch:
    """A Grain ``batch_fn``: :func:`pad_batch` (audio zero-padded, ``audio_lengths``). Grain
    calls :meth:`enable_shared_memory_output` on it when the loader has worker processes; the
    workers then pad into shared memory, which the main process maps without a copy (one
    allocation and one copy of the largest array fewer per batch). Make one per loader."""

    def __init__(self) -> None:
        self.shared_memory = False

    def enable_shared_memory_output(self) -> None:
        self.shared_memory = True

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if not self.shared_memory:
            return pad_batch(examples)
        from grain._src.python.ipc.shared_memory_array import SharedMemoryArray

        return pad_batch(examples, empty=lambda shape, dtype: SharedMemoryArray(shape, dtype))


def shard_options(rank: int | None = None, world_size: int | None = None, *,
                  drop_remainder: bool = False):
    """Grain ``ShardOptions`` for this host: ``rank``/``world_size`` as given, else JAX's
    process index and count (as ``ShardByJaxProcess``) when JAX runs several processes, else
    ``torch.distributed``'s, else one shard. Host ``r`` of ``w`` reads the same examples as
    rank ``r`` of the PyTorch loaders."""
    import grain

    index, count = resolve_rank(rank, world_size)
    return grain.sharding.ShardOptions(shard_index=index, shard_count=count,
                                       drop_remainder=drop_remainder)
