"""PyTorch datasets over a pinned split, decoded without TensorFlow.

* :class:`ExampleDataset` (map-style, over ArrayRecord): ``len()`` and ``[i]`` over this
  rank's examples, ``sampler`` for a deterministic per-epoch order that resumes mid-epoch.
* :class:`ExampleStream` (iterable, over TFRecord): this rank's examples, split between the
  DataLoader's workers record by record, shards visited in a per-epoch order and mixed through
  a seeded shuffle buffer.

Both give one dict per example: ``index`` (the example's row in the manifest), the text
features as ``str``, ``audio`` as a float32 tensor (``[n]`` or ``[n, channels]``; int16 PCM
with ``audio_dtype="int16"``, half the bytes a worker sends; the encoded bytes without
``decode_audio``) and every number as a 0-d tensor (int64 or float32, as the
feature spec says). :func:`pad_collate` pads audio and adds ``audio_lengths``.
:class:`ResumableDataLoader` is a ``torch.utils.data.DataLoader`` that counts what it has
handed out, so ``state_dict()`` names exactly where to resume, whatever ``num_workers``; with
workers, they send each batch's audio unpadded (:func:`flat_collate`) and it pads them
(:func:`pad_flat`), giving :func:`pad_collate`'s batches.

A DataLoader worker opens its own readers; each file is checked against its pin when opened.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, get_worker_info

from curate.layout import ShardFormat
from registry.loaders.order import epoch_permutation, rank_range, resolve_rank
from registry.loaders.records import (
    PCM16_CODECS,
    PCM16_SCALE,
    ArrayRecordShards,
    Decoder,
    Segment,
    pad_rows,
    pcm16_exact,
    read_tfrecords,
)
from registry.loaders.split import AUDIO, SplitFiles

__all__ = ["EpochSampler", "ExampleDataset", "ExampleStream", "FlatAudio", "ResumableDataLoader",
           "flat_collate", "pad_collate", "pad_flat"]

INDEX = "index"
_STATE_VERSION = 1


class _Tensors:
    """Decoded values -> tensors, by the feature spec's dtypes."""

    def __init__(self, files: SplitFiles, decode_audio: bool, audio_dtype: str) -> None:
        self._decode = Decoder(files, decode_audio=decode_audio, audio_dtype=audio_dtype)
        self._decode_audio = decode_audio

    def __call__(self, index: int, record: bytes) -> dict[str, Any]:
        # 0-d tensors made from numpy scalars: 1.1 us each against 3.8 for torch.tensor()
        ex = self._decode(record)
        for name in self._decode.ints:
            ex[name] = torch.from_numpy(np.array(ex[name], dtype=np.int64))
        for name in self._decode.floats:
            ex[name] = torch.from_numpy(np.array(ex[name], dtype=np.float32))
        if self._decode_audio:
            ex[AUDIO] = torch.from_numpy(ex[AUDIO])
        ex[INDEX] = torch.from_numpy(np.array(index, dtype=np.int64))
        return ex


def _collate(examples: Sequence[dict[str, Any]], audio: Any,
             numbers: Any = lambda t: t) -> dict[str, Any]:
    batch: dict[str, Any] = {}
    for name in examples[0]:
        values = [ex[name] for ex in examples]
        if name == AUDIO and isinstance(values[0], torch.Tensor):
            batch[AUDIO] = audio(values)
            batch["audio_lengths"] = numbers(
                torch.tensor([v.shape[0] for v in values], dtype=torch.int64))
        elif isinstance(values[0], torch.Tensor):
            batch[name] = numbers(torch.stack(values))
        else:
            batch[name] = values
    return batch


def _empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """In a DataLoader worker, made in shared memory (as default_collate does: the batch
    goes there anyway). Not ``empty().share_memory_()``, which writes the tensor twice (its
    heap pages, then a copy into new shared memory): 34 against 19 ms a 15 MB batch."""
    if get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    proto = torch.empty(0, dtype=dtype)
    storage = proto._typed_storage()._new_shared(math.prod(shape))
    return proto.new(storage).view(shape)


def _padded(values: Sequence[torch.Tensor]) -> torch.Tensor:
    # Rows copied through numpy views (plain copies): torch's pad_sequence and zeros run
    # intra-op threads, several times slower on busy cores.
    lengths = [v.shape[0] for v in values]
    out = _empty((len(values), max(lengths), *values[0].shape[1:]), values[0].dtype)
    rows = out.numpy()
    for row, v, n in zip(rows, values, lengths):
        row[:n] = v.numpy()
        row[n:] = 0
    return out


def pad_collate(examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A batch: audio zero-padded to the longest (``[batch, time]`` or ``[batch, time,
    channels]``) with ``audio_lengths`` (int64 ``[batch]``), numbers stacked, text as lists."""
    return _collate(examples, _padded)


class FlatAudio(NamedTuple):
    """A batch's audio unpadded: every example's samples one after another (``[total]`` or
    ``[total, channels]``); ``audio_lengths`` beside it says where each ends. ``pcm16``:
    float32 audio sent as its 16-bit PCM (``samples`` int16, the float32 times
    :data:`~registry.loaders.records.PCM16_SCALE`)."""

    samples: torch.Tensor
    pcm16: bool = False


def _flat(values: Sequence[torch.Tensor], pcm16: bool = False) -> FlatAudio:
    dtype = torch.int16 if pcm16 else values[0].dtype
    out = _empty((sum(v.shape[0] for v in values), *values[0].shape[1:]), dtype)
    flat, start, scale = out.numpy(), 0, np.float32(PCM16_SCALE)
    for v in values:
        if pcm16:  # k / 32768 * 32768 is k: exact
            np.multiply(v.numpy(), scale, out=flat[start:start + v.shape[0]], casting="unsafe")
        else:
            flat[start:start + v.shape[0]] = v.numpy()
        start += v.shape[0]
    return FlatAudio(out, pcm16)


def flat_collate(examples: Sequence[dict[str, Any]], *, pcm16: bool = False) -> dict[str, Any]:
    """:func:`pad_collate`'s batch with ``audio`` as :class:`FlatAudio` (no padding) and the
    numbers as numpy arrays: what DataLoader workers send cheaply (a padded batch is mostly
    zeros, a worker pays most for writing fresh shared memory, and each tensor it sends is
    a shared-memory segment and a file descriptor of its own, where an array goes in the
    message); :func:`pad_flat` makes :func:`pad_collate`'s batch of it. ``pcm16``: float32
    audio of a 16-bit source (:func:`~registry.loaders.records.pcm16_exact`) goes as its
    int16 PCM, half the bytes, and comes back bit for bit."""
    return _collate(examples, functools.partial(_flat, pcm16=pcm16),
                    numbers=lambda t: t.numpy())


def pad_flat(batch: Any) -> Any:
    """A :func:`flat_collate` batch as :func:`pad_collate` makes it (the same keys in the same
    order, equal tensors), padded in this process; any other batch unchanged."""
    if not isinstance(batch, dict) or not any(isinstance(v, (FlatAudio, np.ndarray))
                                              for v in batch.values()):
        return batch
    out = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in batch.items()}
    if isinstance(batch.get(AUDIO), FlatAudio):
        samples, lengths = batch[AUDIO].samples, out["audio_lengths"]
        padded = torch.empty((len(lengths), int(lengths.max()) if len(lengths) else 0,
                              *samples.shape[1:]),
                             dtype=torch.float32 if batch[AUDIO].pcm16 else samples.dtype)
        pad_rows(padded.numpy(), samples.numpy(), lengths.tolist())
        out[AUDIO] = padded
    return out


def _check_state(state: dict[str, Any], **expected: Any) -> None:
    if state.get("version") != _STATE_VERSION:
        raise ValueError(f"not a loader state of version {_STATE_VERSION}: {state!r}")
    for name, value in expected.items():
        if state.get(name) != value:
            raise ValueError(
                f"cannot resume: the state has {name}={state.get(name)!r}, this loader "
                f"{name}={value!r} (the order would differ)"
            )


class EpochSampler(Sampler[int]):
    """Indices ``0..n-1`` of a rank's examples, in an order fixed by ``(seed, epoch)``,
    starting from a resume position (see :meth:`load_state_dict`)."""

    def __init__(self, num_examples: int, *, shuffle: bool, seed: int) -> None:
        self.num_examples = num_examples
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.resume_at = 0  # where the next iteration starts; consumed by it

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch``; a resume position loaded for this epoch is kept."""
        if epoch != self.epoch:
            self.epoch, self.resume_at = epoch, 0

    def order(self) -> np.ndarray:
        if self.shuffle:
            return epoch_permutation(self.num_examples, seed=self.seed, epoch=self.epoch)
        return np.arange(self.num_examples)

    def __len__(self) -> int:
        return self.num_examples - self.resume_at

    def __iter__(self) -> Iterator[int]:
        start, self.resume_at = self.resume_at, 0
        return iter(self.order()[start:].tolist())

    def state_dict(self) -> dict[str, Any]:
        return {"version": _STATE_VERSION, "epoch": self.epoch, "position": self.resume_at,
                "seed": self.seed, "shuffle": self.shuffle,
                "num_examples": self.num_examples}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _check_state(state, seed=self.seed, shuffle=self.shuffle, num_examples=self.num_examples)
        if not 0 <= state["position"] <= self.num_examples:
            raise ValueError(f"resume position {state['position']} outside 0..{self.num_examples}")
        self.epoch, self.resume_at = int(state["epoch"]), int(state["position"])


class ExampleDataset(Dataset):
    """Map-style: example ``i`` of this rank's share of the split (ArrayRecord, random access).

    ``rank``/``world_size`` default to ``torch.distributed``'s; rank ``r`` holds the split's
    examples ``[r*n//w, (r+1)*n//w)``. Use ``sampler`` (or :meth:`loader`) for the shuffled,
    resumable order; ``DataLoader(ds)`` alone reads the share in shard order."""

    def __init__(self, files: SplitFiles, *, decode_audio: bool = True,
                 audio_dtype: str = "float32", shuffle: bool = False,
                 seed: int = 0, rank: int | None = None, world_size: int | None = None,
                 drop_remainder: bool = False) -> None:
        self.files = files
        self.commit_id = files.commit_id
        self.rank, self.world_size = resolve_rank(rank, world_size)
        self._start, self._stop = rank_range(files.num_examples, self.rank, self.world_size,
                                             drop_remainder=drop_remainder)
        self._records = ArrayRecordShards(files.shards(ShardFormat.ARRAY_RECORD), ref=files.ref)
        self._tensors = _Tensors(files, decode_audio, audio_dtype)
        self.sampler = EpochSampler(len(self), shuffle=shuffle, seed=seed)

    def __repr__(self) -> str:
        return (f"ExampleDataset({self.files.ref} '{self.files.split}', rank {self.rank} of "
                f"{self.world_size}: examples {self._start}..{self._stop - 1})")

    def __len__(self) -> int:
        return self._stop - self._start

    def _index(self, i: int) -> int:
        if not 0 <= i < len(self):
            raise IndexError(f"example {i} out of range: this rank holds {len(self)}")
        return self._start + i

    def __getitem__(self, i: int) -> dict[str, Any]:
        index = self._index(int(i))
        return self._tensors(index, self._records[index])

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """A batch at once (the DataLoader calls this): one read per shard touched."""
        wanted = [self._index(int(i)) for i in indices]
        return [self._tensors(index, r) for index, r in zip(wanted, self._records.read(wanted))]

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        return {**self.sampler.state_dict(), "rank": self.rank, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _check_state(state, rank=self.rank, world_size=self.world_size)
        self.sampler.load_state_dict(state)

    def loader(self, **kwargs: Any) -> ResumableDataLoader:
        """A :class:`ResumableDataLoader` over this dataset (``batch_size``, ``num_workers``…
        as for ``DataLoader``)."""
        return ResumableDataLoader(self, **kwargs)


class ExampleStream(IterableDataset):
    """Iterable: this rank's share of the split, read from its TFRecord shards.

    Rank ``r`` reads the same range as :class:`ExampleDataset`; a DataLoader worker ``k`` of
    ``K`` takes every ``K``-th record of it (seeking past the others). With ``shuffle`` the
    rank's shard segments are visited in an order drawn from ``(seed, epoch)`` and each worker
    mixes its records through a buffer of ``shuffle_buffer`` seeded by ``(seed, epoch, rank,
    worker)``: the order depends on ``num_workers``, never on timing."""

    def __init__(self, files: SplitFiles, *, decode_audio: bool = True,
                 audio_dtype: str = "float32", shuffle: bool = False,
                 seed: int = 0, shuffle_buffer: int = 1024, rank: int | None = None,
                 world_size: int | None = None, drop_remainder: bool = False) -> None:
        self.files = files
        self.commit_id = files.commit_id
        self.rank, self.world_size = resolve_rank(rank, world_size)
        self._shards = files.shards(ShardFormat.TFRECORD)
        self._start, self._stop = rank_range(files.num_examples, self.rank, self.world_size,
                                             drop_remainder=drop_remainder)
        self.shuffle, self.seed, self.shuffle_buffer = shuffle, seed, max(1, shuffle_buffer)
        self.epoch = 0
        self._skip: list[int] | None = None  # records each worker already delivered
        # [epoch, resuming, skip of worker 0, 1, ...] in shared memory: what a loader's
        # workers read at each iteration (persistent workers keep their copy of the dataset)
        self._shared: Any = None
        self._tensors = _Tensors(files, decode_audio, audio_dtype)
        starts = np.cumsum([0] + [f.num_examples for f in self._shards])
        self._shard_starts = starts.tolist()

    def __repr__(self) -> str:
        return (f"ExampleStream({self.files.ref} '{self.files.split}', rank {self.rank} of "
                f"{self.world_size}: examples {self._start}..{self._stop - 1})")

    def __len__(self) -> int:
        return self._stop - self._start

    def segments(self, epoch: int) -> list[Segment]:
        """This rank's (shard, start, stop) pieces, in the order ``epoch`` reads them."""
        pieces = []
        for shard, f in enumerate(self._shards):
            lo = max(self._start, self._shard_starts[shard])
            hi = min(self._stop, self._shard_starts[shard] + f.num_examples)
            if lo < hi:
                base = self._shard_starts[shard]
                pieces.append((shard, lo - base, hi - base))
        if self.shuffle:
            pieces = [pieces[i] for i in epoch_permutation(len(pieces), seed=self.seed, epoch=epoch)]
        return pieces

    def worker_of(self, indices: Sequence[int], *, epoch: int, num_workers: int) -> np.ndarray:
        """The worker that reads each of ``indices`` (manifest rows) in ``epoch``."""
        offset = np.zeros(len(self._shards), dtype=np.int64)  # stream position - shard row
        base = 0
        for shard, start, stop in self.segments(epoch):
            offset[shard] = base - start
            base += stop - start
        starts = np.asarray(self._shard_starts, dtype=np.int64)
        rows = np.asarray(indices, dtype=np.int64)
        shards = np.searchsorted(starts, rows, side="right") - 1
        return (offset[shards] + rows - starts[shards]) % num_workers

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self._skip = epoch, None

    def state_dict(self, delivered: Sequence[int] = ()) -> dict[str, Any]:
        """Where to resume, given how many records each worker has delivered."""
        return {"version": _STATE_VERSION, "epoch": self.epoch, "delivered": list(delivered),
                "seed": self.seed, "shuffle": self.shuffle, "shuffle_buffer": self.shuffle_buffer,
                "rank": self.rank, "world_size": self.world_size,
                "num_examples": len(self)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _check_state(state, seed=self.seed, shuffle=self.shuffle, rank=self.rank,
                     world_size=self.world_size, shuffle_buffer=self.shuffle_buffer,
                     num_examples=len(self))
        self.epoch = int(state["epoch"])
        self._skip = [int(n) for n in state["delivered"]] or None

    def _check_workers(self, workers: int) -> None:
        if self._skip is not None and len(self._skip) != workers:
            raise ValueError(
                f"cannot resume: the state was saved with num_workers={len(self._skip)} "
                f"(in-process counts as 1), this DataLoader has {workers}"
            )

    def share_with_workers(self, shared: Any) -> None:
        """Write this epoch and resume position into ``shared`` (a shared int64 array of
        ``2 + num_workers``, made by :class:`ResumableDataLoader`), which the workers read
        each time they iterate: what persistent workers need to see ``set_epoch`` and
        ``load_state_dict``."""
        workers = len(shared) - 2
        self._check_workers(workers)
        shared[:] = [self.epoch, self._skip is not None, *(self._skip or [0] * workers)]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        if info is not None and self._shared is not None:
            epoch, resuming, *skips = self._shared[:]
            return self._examples(epoch, worker, workers, skips[worker] if resuming else 0)
        self._check_workers(workers)  # read now: a loader clears it once its workers have it
        skip = self._skip[worker] if self._skip is not None else 0
        return self._examples(self.epoch, worker, workers, skip)

    def _examples(self, epoch: int, worker: int, workers: int,
                  skip: int) -> Iterator[dict[str, Any]]:
        starts = self._shard_starts
        rows = ((starts[shard] + position, record) for _, shard, position, record in read_tfrecords(
            self._shards, self.segments(epoch), ref=self.files.ref,
            wanted=lambda p: p % workers == worker))
        if self.shuffle:
            rng = np.random.default_rng([self.seed, epoch, self.rank, worker])
            rows = _buffer_shuffle(rows, self.shuffle_buffer, rng)
        for n, (index, record) in enumerate(rows):
            if n >= skip:
                yield self._tensors(index, record)

    def loader(self, **kwargs: Any) -> ResumableDataLoader:
        return ResumableDataLoader(self, **kwargs)


def _buffer_shuffle(items: Iterator[Any], size: int, rng: np.random.Generator) -> Iterator[Any]:
    buffer: list[Any] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        j = int(rng.integers(size))
        buffer[j], item = item, buffer[j]
        yield item
    for j in rng.permutation(len(buffer)):
        yield buffer[j]


def _worker_context() -> Any:
    """Workers started by a fork server, not forked from this process: a process that has
    TensorFlow, Beam (gRPC) or Arrow loaded runs native threads, and a child forked from it can
    crash on a lock one of them held (seen here: workers killed by SIGSEGV at start). The
    server preloads this module, so each worker starts with torch already imported."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` over an :class:`ExampleDataset` or :class:`ExampleStream` (with
    :func:`pad_collate` and, map-style, the dataset's sampler unless given) that counts the
    examples it hands out: ``state_dict()`` is exactly where it stands, and a new loader that
    ``load_state_dict``-s it yields exactly the examples not yet seen.

    With worker processes and the default collate, ``pad_in_main`` (default: on unless
    ``pin_memory``) has the workers send each batch's audio unpadded (:func:`flat_collate`)
    and pads it here (:func:`pad_flat`): the batches are :func:`pad_collate`'s, equal and in
    the same order, and the workers move a third of the bytes. Float32 audio of a 16-bit
    build then goes as its int16 PCM (``pcm16``, default on where exact), half that again.
    With ``persistent_workers=True`` an :class:`ExampleStream`'s workers still follow
    ``set_epoch`` and ``load_state_dict`` (read from a small shared array each epoch)."""

    def __init__(self, dataset: ExampleDataset | ExampleStream, *,
                 pad_in_main: bool | None = None, pcm16: bool | None = None,
                 **kwargs: Any) -> None:
        if pad_in_main is None:
            pad_in_main = "collate_fn" not in kwargs and not kwargs.get("pin_memory", False)
        elif pad_in_main and ("collate_fn" in kwargs or kwargs.get("pin_memory", False)):
            raise ValueError("pad_in_main=True replaces the collate function and pads after "
                             "the pinning thread: give neither collate_fn nor pin_memory=True")
        self._pad_in_main = bool(pad_in_main and kwargs.get("num_workers", 0) > 0)
        exact = pcm16_exact(dataset.files, dataset._tensors._decode)
        if pcm16 and not exact:
            raise ValueError("pcm16=True needs float32 audio decoded from a 16-bit codec "
                             f"({', '.join(sorted(PCM16_CODECS))})")
        pcm16 = self._pad_in_main and exact and pcm16 is not False
        kwargs.setdefault("collate_fn", functools.partial(flat_collate, pcm16=pcm16)
                          if self._pad_in_main else pad_collate)
        if kwargs.get("num_workers", 0) > 0 and kwargs.get("multiprocessing_context") is None:
            kwargs["multiprocessing_context"] = _worker_context()
        if isinstance(dataset, ExampleDataset):
            kwargs.setdefault("sampler", dataset.sampler)
        super().__init__(dataset, **kwargs)
        self._shared: Any = None  # the stream's epoch and resume position, for its workers
        if isinstance(dataset, ExampleStream) and self.num_workers > 0:
            ctx = self.multiprocessing_context or multiprocessing
            self._shared = ctx.RawArray("q", 2 + self.num_workers)
        self._delivered: list[int] = [0]  # map-style: [position]; stream: per worker
        self._epoch = dataset.sampler.epoch if isinstance(dataset, ExampleDataset) else dataset.epoch

    def _workers(self) -> int:
        return max(1, self.num_workers)

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        ds = self.dataset
        if isinstance(ds, ExampleDataset):
            self._epoch = ds.sampler.epoch
            self._delivered = [ds.sampler.resume_at]
        else:
            self._epoch = ds.epoch
            self._delivered = list(ds._skip or [0] * self._workers())
            if self._shared is not None:
                ds.share_with_workers(self._shared)
                ds._shared = self._shared  # (pickled into workers started now)
        try:
            it = super().__iter__()  # the workers now hold their copy of the dataset
        finally:
            if isinstance(ds, ExampleStream):
                ds._shared = None
        if isinstance(ds, ExampleStream):
            ds._skip = None
        for batch in it:
            if self._pad_in_main:
                batch = pad_flat(batch)
            indices = batch[INDEX].tolist() if isinstance(batch, dict) else []
            if isinstance(ds, ExampleDataset):
                self._delivered[0] += len(indices)
            else:
                owners = ds.worker_of(indices, epoch=self._epoch, num_workers=self._workers())
                for k in owners.tolist():
                    self._delivered[k] += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        ds = self.dataset
        if isinstance(ds, ExampleDataset):
            return {**ds.state_dict(), "epoch": self._epoch, "position": self._delivered[0]}
        return {**ds.state_dict(self._delivered), "epoch": self._epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.dataset.load_state_dict(state)  # type: ignore[union-attr]
