"""Grain (JAX): a ``RandomAccessDataSource`` over a pinned split, decoded without TensorFlow.

    source = GrainSource(files)                      # or DatasetVersion.grain_source(split)
    loader = source.loader(16, worker_count=2, shuffle=True, seed=0)   # what follows, in one
    # or, by hand:
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
:meth:`GrainSource.loader` is the cheapest way measured here (``bench/README.md``): with
workers, :class:`FlatBatch` in them, padded in the main process, and each worker reading in its
own thread (Grain's default of 16 reading threads a process costs up to 0.6 CPU ms an example).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from curate.layout import ShardFormat
from registry.loaders.order import resolve_rank
from registry.loaders.records import (
    ArrayRecordShards,
    Decoder,
    flat_batch,
    pad_batch,
    pad_flat,
    pcm16_exact,
)
from registry.loaders.split import SplitFiles

__all__ = ["FlatBatch", "GrainSource", "PadBatch", "PaddedBatches", "pad_batch", "read_options",
           "shard_options"]

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

    def loader(self, batch_size: int, *, worker_count: int = 0, rank: int | None = None,
               world_size: int | None = None, shuffle: bool = False, seed: int = 0,
               num_epochs: int = 1, drop_remainder: bool = False, read: Any = None) -> Any:
        """A ``grain.DataLoader`` of padded batches (:class:`PadBatch`'s) over this source, its
        iterator checkpointing (``get_state()`` / ``set_state()``): this host's share
        (``rank``/``world_size``, else JAX's or ``torch.distributed``'s, as
        :func:`shard_options`; ``drop_remainder``: the same count on every host), shuffled per
        epoch from ``seed``. With ``worker_count`` processes, they make :class:`FlatBatch`-es
        (float32 audio of a 16-bit source as its int16 PCM), padded here
        (:class:`PaddedBatches`), and read as :func:`read_options` says unless
        ``read`` (a ``grain.ReadOptions``) is given."""
        import grain

        sampler = grain.samplers.IndexSampler(
            len(self), shard_options=shard_options(rank, world_size, drop_remainder=drop_remainder),
            shuffle=shuffle, seed=seed, num_epochs=num_epochs)
        flat = worker_count > 0 and self._decode.decode_audio
        pcm16 = flat and pcm16_exact(self.files, self._decode)
        batch = grain.transforms.Batch(
            batch_size, batch_fn=FlatBatch(pcm16=pcm16) if flat else PadBatch())
        loader = grain.DataLoader(data_source=self, sampler=sampler, worker_count=worker_count,
                                  operations=[batch],
                                  read_options=read or read_options(worker_count, batch_size))
        return PaddedBatches(loader, dtype="float32" if pcm16 else None) if flat else loader


class PadBatch:
    """A Grain ``batch_fn``: :func:`pad_batch` (audio zero-padded, ``audio_lengths``). Grain
    calls :meth:`enable_shared_memory_output` on it when the loader has worker processes; the
    workers then pad into shared memory, which the main process maps without a copy (one
    allocation and one copy of the largest array fewer per batch). Make one per loader."""

    _make = staticmethod(pad_batch)

    def __init__(self) -> None:
        self.shared_memory = False

    def enable_shared_memory_output(self) -> None:
        self.shared_memory = True

    def _options(self) -> dict[str, Any]:
        return {}

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if not self.shared_memory:
            return self._make(examples, **self._options())
        from grain._src.python.ipc.shared_memory_array import SharedMemoryArray

        return self._make(examples, empty=lambda shape, dtype: SharedMemoryArray(shape, dtype),
                          **self._options())


class FlatBatch(PadBatch):
    """A Grain ``batch_fn`` for worker processes: :func:`flat_batch`, the batch's audio
    unpadded (every example's samples one after another, with ``audio_lengths``), in shared
    memory when Grain enables it. A padded float32 batch is mostly zeros here (a mean of 91k
    samples padded to 239k), and writing fresh shared memory is what a worker pays most for
    after decoding: the flat batch is a third of it. Iterate the loader through
    :class:`PaddedBatches` to get :class:`PadBatch`'s batches, padded in the main process.
    ``pcm16``: float32 audio of a 16-bit source (:func:`~registry.loaders.records.pcm16_exact`)
    goes as its int16 PCM, half the bytes again; ``PaddedBatches(loader, dtype="float32")``
    gives it back bit for bit."""

    _make = staticmethod(flat_batch)

    def __init__(self, *, pcm16: bool = False) -> None:
        super().__init__()
        self.pcm16 = pcm16

    def _options(self) -> dict[str, Any]:
        return {"pcm16": self.pcm16}


class PaddedBatches:
    """A Grain ``DataLoader`` whose batches :class:`FlatBatch` made, giving them padded
    (:func:`pad_flat`: exactly :class:`PadBatch`'s batches, in the same order). Its iterator
    keeps ``get_state()`` / ``set_state()``: checkpoints are the loader's own.

        loader = PaddedBatches(grain.DataLoader(..., operations=[
            grain.transforms.Batch(16, batch_fn=FlatBatch())], worker_count=2))

    ``dtype="float32"`` with ``FlatBatch(pcm16=True)``: the audio made float32 again.
    """

    def __init__(self, loader: Any, *, dtype: str | None = None) -> None:
        self.loader = loader
        self.dtype = dtype

    def __iter__(self) -> _PaddedIterator:
        return _PaddedIterator(iter(self.loader), self.dtype)


class _PaddedIterator:
    def __init__(self, it: Any, dtype: str | None = None) -> None:
        self._it = it
        self._dtype = dtype

    def __iter__(self) -> _PaddedIterator:
        return self

    def __next__(self) -> dict[str, Any]:
        return pad_flat(next(self._it), dtype=self._dtype)

    def get_state(self) -> Any:
        return self._it.get_state()

    def set_state(self, state: Any) -> None:
        self._it.set_state(state)


def read_options(worker_count: int, batch_size: int = 16) -> Any:
    """Grain ``ReadOptions`` for a loader of ``worker_count`` processes: with workers, one
    reading thread each, two batches ahead (the processes are the parallelism: Grain's 16
    threads a process contend for the GIL, up to 0.6 CPU ms an example more here; with no
    thread a worker stops decoding while its output waits, 30-50% slower); in-process,
    Grain's default (its threads decode in parallel, soundfile releasing the GIL)."""
    import grain

    if worker_count > 0:
        return grain.ReadOptions(num_threads=1, prefetch_buffer_size=2 * batch_size)
    return grain.ReadOptions()


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
