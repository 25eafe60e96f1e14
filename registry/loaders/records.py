"""Reading a split's records and decoding them: what every loader shares.

:class:`ArrayRecordShards` gives random access by index over the split's ArrayRecord shards;
:func:`read_tfrecords` streams chosen records of TFRecord shards, seeking past the others.
Both open files only when first read, in the process that reads (a DataLoader or Grain worker
opens its own), and check each file against its pin before opening it. :class:`Decoder` turns
a record into a dict of plain values, without TensorFlow.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from curate.example_decode import AUDIO_DTYPES, ExampleDecoder
from curate.example_decode import decode_audio as decode_audio_of
from curate.layout import ShardFormat, manifest_file, shard_index
from curate.writers import check_tfrecord_data, tfrecord_length
from registry.errors import IntegrityError
from registry.loaders.split import AUDIO, PinnedFile, SplitFiles, text_features

__all__ = [
    "ArrayRecordShards",
    "Decoder",
    "PCM16_CODECS",
    "PCM16_SCALE",
    "Segment",
    "iter_examples",
    "flat_batch",
    "manifest_by_shard",
    "manifest_rows",
    "pad_batch",
    "pad_flat",
    "pad_rows",
    "pcm16_exact",
    "read_tfrecords",
    "shard_table",
]

PCM16_SCALE = 32768
"""A 16-bit PCM sample ``k`` decodes to the float32 ``k / 32768``, exactly (a power of two):
float32 audio of a 16-bit source goes between processes as int16 at half the bytes, and comes
back bit for bit."""

# The codecs the build writes, as 16-bit PCM (curate/audio.py), decoded losslessly: the values
# of curate.config.AudioCodec, spelled out since that module imports pydantic (300 ms more to
# start a worker); tests/registry/loaders/test_records.py checks they agree.
PCM16_CODECS = frozenset({"flac", "wav"})

# For random access: no read-ahead, no thread pool (so a forked worker inherits no threads).
_READER_OPTIONS = "readahead_buffer_size:0,max_parallelism:0"


class ArrayRecordShards:
    """Records ``0..n-1`` of a split, in shard order, from its ArrayRecord shards.

    Picklable: readers are not pickled, and a process that did not open them (a forked or
    spawned worker) opens its own."""

    def __init__(self, files: Sequence[PinnedFile], *, ref: str = "") -> None:
        self._files = tuple(files)
        self._ref = ref
        self._starts = [0]
        for f in self._files:
            self._starts.append(self._starts[-1] + f.num_examples)
        self._readers: dict[int, Any] = {}
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._starts[-1]

    def __repr__(self) -> str:
        return f"ArrayRecordShards({len(self._files)} shards, {len(self)} records of {self._ref})"

    def __getstate__(self) -> dict[str, Any]:
        return {"files": self._files, "ref": self._ref}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["files"], ref=state["ref"])  # type: ignore[misc]

    def locate(self, index: int) -> tuple[int, int]:
        """(shard, position in it) of record ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} out of range: {self._ref} has {len(self)} records")
        shard = bisect.bisect_right(self._starts, index) - 1
        return shard, index - self._starts[shard]

    def _reader(self, shard: int) -> Any:
        if self._pid != os.getpid():  # forked: the parent's readers are not ours
            self._readers, self._pid, self._lock = {}, os.getpid(), threading.Lock()
        reader = self._readers.get(shard)
        if reader is None:
            with self._lock:
                reader = self._readers.get(shard)
                if reader is None:
                    from array_record.python.array_record_module import ArrayRecordReader

                    f = self._files[shard]
                    f.check(self._ref)
                    reader = ArrayRecordReader(f.path, _READER_OPTIONS)
                    if reader.num_records() != f.num_examples:
                        raise IntegrityError(
                            f"{f.path}: {reader.num_records()} records, but {self._ref} "
                            f"recorded {f.num_examples} for '{f.rel}'"
                        )
                    self._readers[shard] = reader
        return reader

    def __getitem__(self, index: int) -> bytes:
        shard, position = self.locate(int(index))
        return self._reader(shard).read([position])[0]

    def read(self, indices: Iterable[int]) -> list[bytes]:
        """Records at ``indices`` (in that order), one read call per shard touched."""
        indices = [int(i) for i in indices]
        by_shard: dict[int, list[tuple[int, int]]] = {}
        for slot, index in enumerate(indices):
            shard, position = self.locate(index)
            by_shard.setdefault(shard, []).append((position, slot))
        out: list[bytes] = [b""] * len(indices)
        for shard, wanted in by_shard.items():
            records = self._reader(shard).read([p for p, _ in wanted])
            for (_, slot), record in zip(wanted, records):
                out[slot] = record
        return out


Segment = tuple[int, int, int]  # (shard, start, stop): records start..stop-1 of one shard


def _records_of(f: BinaryIO, name: str, start: int, stop: int,
                wanted: Callable[[int], bool]) -> Iterator[tuple[int, bytes]]:
    """(position, record) for positions ``start..stop-1`` of one TFRecord file that
    ``wanted(position)``; the others are skipped by their length (their header's CRC checked),
    the wanted ones read and checked whole."""
    offset = 0
    try:
        for position in range(stop):
            head = f.read(12)
            if not head:
                raise IntegrityError(f"{name}: ends after {position} records, expected {stop}")
            length = tfrecord_length(head, name=name, pos=offset)
            if position >= start and wanted(position):
                yield position, check_tfrecord_data(f.read(length + 4), length, name=name,
                                                    pos=offset)
            else:
                f.seek(length + 4, os.SEEK_CUR)
            offset += 16 + length
    except ValueError as e:  # the framing's own checks: corrupt or truncated
        raise IntegrityError(str(e)) from e


def read_tfrecords(files: Sequence[PinnedFile], segments: Iterable[Segment], *, ref: str = "",
                   wanted: Callable[[int], bool] = lambda p: True,
                   ) -> Iterator[tuple[int, int, int, bytes]]:
    """``(stream position, shard, position in the shard, record)`` of the records of
    ``segments`` in order, for the stream positions (0, 1, … across all segments) that
    ``wanted``."""
    base = 0
    for shard, start, stop in segments:
        f = files[shard]
        f.check(ref)
        here = base - start  # stream position = here + position in the shard

        def take(position: int, here: int = here) -> bool:
            return wanted(here + position)

        with open(f.path, "rb") as fh:
            for position, record in _records_of(fh, f.path, start, stop, take):
                yield here + position, shard, position, record
        base += stop - start


class Decoder:
    """A record as a dict of plain values: ``str`` text, ``int`` and ``float`` scalars, and
    ``audio`` as samples of ``audio_dtype`` (float32 in [-1, 1] or int16 PCM; ``[n]`` mono,
    ``[n, channels]`` otherwise) or, without ``decode_audio``, the encoded bytes."""

    def __init__(self, files: SplitFiles, *, decode_audio: bool = True,
                 audio_dtype: str = "float32") -> None:
        spec = files.feature_spec
        self.feature_spec = spec
        self.decode_audio = decode_audio
        if audio_dtype not in AUDIO_DTYPES:
            raise ValueError(f"audio_dtype must be one of {', '.join(AUDIO_DTYPES)}, "
                             f"not {audio_dtype!r}")
        self.audio_dtype = audio_dtype
        self.ints = [n for n, f in spec.items() if f["dtype"] == "int64"]  # int64 features
        self.floats = [n for n, f in spec.items() if f["dtype"] == "float32"]  # float32 ones
        self._decoder = ExampleDecoder(spec, text=text_features(spec))

    def __call__(self, record: bytes) -> dict[str, Any]:
        example = self._decoder.decode(record)
        if self.decode_audio:
            example[AUDIO] = decode_audio_of(example[AUDIO], self.audio_dtype)
        return example


def pcm16_exact(files: SplitFiles, decoder: Decoder) -> bool:
    """Whether ``decoder``'s float32 audio is exactly 16-bit samples over :data:`PCM16_SCALE`
    (decoded float32 audio of a codec the build writes as 16-bit PCM)."""
    return (decoder.decode_audio and decoder.audio_dtype == "float32"
            and files.audio_codec in PCM16_CODECS)


def manifest_rows(files: SplitFiles, pinned: Sequence[PinnedFile] | None = None) -> Any:
    """The rows of the split's manifest files ``pinned`` (default: all of them), each checked
    against what was verified, as one Arrow table in the order given
    (:func:`curate.build_info.read_manifest`)."""
    from curate.build_info import read_manifest

    pinned = files.manifests if pinned is None else pinned
    for m in pinned:
        m.check(files.ref)
    listing = {"splits": {files.split: {"manifest": [{"path": m.rel} for m in pinned]}},
               "feature_spec": files.feature_spec}
    paths = {m.rel: m.path for m in pinned}
    return read_manifest(listing, files.split, paths.__getitem__)


def manifest_by_shard(files: SplitFiles) -> Any:
    """The split's manifest as one Arrow table sorted by (shard, position): what
    :func:`shard_table` takes as ``manifest`` when it reads every shard in one process."""
    return manifest_rows(files).sort_by([("shard", "ascending"), ("position", "ascending")])


def shard_table(files: SplitFiles, shard: int, *, fmt: ShardFormat | None = None,
                manifest: Any = None) -> Any:
    """One shard's examples as an Arrow table: the manifest's rows of that shard (every
    column, in position order) plus ``audio``, the encoded bytes read from the shard
    (``shard``: its place in the split's shard list). Each record's key must be its manifest
    row's: IntegrityError otherwise. ``manifest`` (:func:`manifest_by_shard`) saves reading
    the manifest files again for each shard; without it, only this shard's is read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fmt = ShardFormat(fmt or files.format)
    shards = files.shards(fmt)
    f = shards[shard]
    index = shard_index(f.rel)
    if manifest is None:
        own = [m for m in files.manifests if m.rel == manifest_file(files.split, index)]
        manifest = manifest_rows(files, own or files.manifests)  # or layout 2's one file
    rows = manifest.filter(pc.equal(manifest.column("shard"), index)).sort_by("position")
    if rows.num_rows != f.num_examples or rows.column("position").to_pylist() != list(
            range(f.num_examples)):
        raise IntegrityError(
            f"{files.ref} '{files.split}': the manifest's rows of shard {shard} are not "
            f"positions 0..{f.num_examples - 1} of '{f.rel}'"
        )
    if fmt is ShardFormat.ARRAY_RECORD:
        records = ArrayRecordShards([f], ref=files.ref).read(range(f.num_examples))
    else:
        records = [r for *_, r in read_tfrecords([f], [(0, 0, f.num_examples)], ref=files.ref)]
    spec = {name: files.feature_spec[name] for name in ("key", AUDIO)}
    decoder = ExampleDecoder(spec, text=("key",))
    keys = rows.column("key").to_pylist()
    audio = []
    for position, (key, record) in enumerate(zip(keys, records)):
        ex = decoder.decode(record)
        if ex["key"] != key:
            raise IntegrityError(
                f"{f.path}: record {position} is '{ex['key']}', the manifest says '{key}'"
            )
        audio.append(ex[AUDIO])
    return rows.append_column(AUDIO, pa.array(audio, type=pa.binary()))


def iter_examples(files: SplitFiles, *, decode_audio: bool = True,
                  audio_dtype: str = "float32") -> Iterator[dict[str, Any]]:
    """Every example of the split in shard order, decoded by :class:`Decoder`, read
    sequentially from its TFRecord shards (ArrayRecord when it has none)."""
    decode = Decoder(files, decode_audio=decode_audio, audio_dtype=audio_dtype)
    if files.tfrecord:
        segments = [(i, 0, f.num_examples) for i, f in enumerate(files.tfrecord)]
        for *_, record in read_tfrecords(files.tfrecord, segments, ref=files.ref):
            yield decode(record)
        return
    shards = ArrayRecordShards(files.array_record, ref=files.ref)
    for start in range(0, len(shards), 64):
        for record in shards.read(range(start, min(start + 64, len(shards)))):
            yield decode(record)


def _batch(examples: Sequence[dict[str, Any]], audio: Callable[[list[Any]], tuple[Any, Any]],
           ) -> dict[str, Any]:
    import numpy as np

    batch: dict[str, Any] = {}
    for name in examples[0]:
        values = [ex[name] for ex in examples]
        first = values[0]
        if name == AUDIO and isinstance(first, np.ndarray):
            batch[AUDIO], batch["audio_lengths"] = audio(values)
        elif isinstance(first, (str, bytes)):
            batch[name] = np.array(values, dtype=object)
        else:
            batch[name] = np.stack(values)
    return batch


def pad_rows(out: Any, flat: Any, lengths: Sequence[int]) -> Any:
    """Fill ``out`` (``[batch, time, ...]``) with the rows of ``flat`` (their samples one after
    another, ``lengths`` of them each), zeros after each row's samples. Float ``out`` from
    int16 ``flat`` is the PCM over :data:`PCM16_SCALE` (what :func:`flat_batch` sent)."""
    import numpy as np

    scale = (np.float32(1 / PCM16_SCALE) if out.dtype == np.float32 and flat.dtype == np.int16
             else None)
    start = 0
    for row, n in zip(out, lengths):
        if scale is None:
            row[:n] = flat[start:start + n]
        else:
            np.multiply(flat[start:start + n], scale, out=row[:n])
        row[n:] = 0
        start += n
    return out


def pad_batch(examples: Sequence[dict[str, Any]], *,
              empty: Callable[[tuple[int, ...], Any], Any] | None = None) -> dict[str, Any]:
    """A batch of numpy arrays: decoded audio zero-padded to the longest (with
    ``audio_lengths``), numbers stacked, text and encoded audio as object arrays. The padded
    audio is made by ``empty(shape, dtype)`` (``numpy.empty`` unless given: Grain's workers
    give shared memory) and written once: each row's samples, then zeros after them."""
    import numpy as np

    def padded(values: list[Any]) -> tuple[Any, Any]:
        lengths = np.array([len(v) for v in values], dtype=np.int64)
        shape = (len(values), int(lengths.max(initial=0)), *values[0].shape[1:])
        out = (empty or np.empty)(shape, values[0].dtype)
        for row, v in zip(out, values):
            row[: len(v)] = v
            row[len(v):] = 0
        return out, lengths

    return _batch(examples, padded)


def flat_batch(examples: Sequence[dict[str, Any]], *,
               empty: Callable[[tuple[int, ...], Any], Any] | None = None,
               pcm16: bool = False) -> dict[str, Any]:
    """:func:`pad_batch` without the padding: ``audio`` is every example's samples one after
    another (``[total, ...]``, made by ``empty`` as there), with ``audio_lengths``. What a
    worker process hands out cheaply (no zeros to write and send); :func:`pad_flat` then
    makes exactly :func:`pad_batch`'s batch of it. ``pcm16``: float32 audio of a 16-bit
    source (:func:`pcm16_exact`) sent as its int16 PCM, half the bytes."""
    import numpy as np

    def flat(values: list[Any]) -> tuple[Any, Any]:
        lengths = np.array([len(v) for v in values], dtype=np.int64)
        dtype = np.int16 if pcm16 else values[0].dtype
        out = (empty or np.empty)((int(lengths.sum()), *values[0].shape[1:]), dtype)
        scale = np.float32(PCM16_SCALE)
        start = 0
        for v in values:
            if pcm16:  # k / 32768 * 32768 is k: exact
                np.multiply(v, scale, out=out[start:start + len(v)], casting="unsafe")
            else:
                out[start:start + len(v)] = v
            start += len(v)
        return out, lengths

    return _batch(examples, flat)


def pad_flat(batch: dict[str, Any], *, dtype: Any = None) -> dict[str, Any]:
    """A :func:`flat_batch` batch as :func:`pad_batch` makes it (the same keys in the same
    order, the same arrays): ``audio`` zero-padded to the longest, in fresh memory of this
    process; as float32 ``dtype`` from the int16 of ``flat_batch(pcm16=True)``."""
    import numpy as np

    if "audio_lengths" not in batch:  # audio left encoded: nothing to pad
        return batch
    flat, lengths = batch[AUDIO], batch["audio_lengths"]
    out = np.empty((len(lengths), int(lengths.max(initial=0)), *flat.shape[1:]),
                   dtype or flat.dtype)
    return {**batch, AUDIO: pad_rows(out, flat, lengths.tolist())}
