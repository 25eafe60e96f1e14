"""Writing shards: each shard from its members, in one pass, every configured format at once.

A shard's members are the examples this build processed (staged by
:mod:`curate.process`), the examples a build on a base keeps from the base's shards
(:class:`curate.carry.CarriedExample`, read back from the base's shard by position, never
decoded or encoded again), and ``TOUCHED`` marks of a base shard that lost or changed an
example. A base shard whose members are all its own examples, untouched, is kept: its files
and its manifest file are the base's, byte for byte, under the same names (listed with
``"base": true``), copied from the registry's verified cache (hard links when both are local):
the build directory is complete on its own, and registering it stores nothing new for them
(the stores keep one object per content). (Its manifest file is written again only when a
carried example's source moved: its row names the new URIs.) Any other shard is written with
its members sorted by key, and its manifest file with it; a base shard left with no members
disappears.

Memory holds one record at a time, whatever the shard's size. Local staging files are read in
place; remote ones (``gs://``, ``s3://``) and the base's shards are read once, front to back,
and the records wanted from them are spooled to a local temporary file.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from curate.base import BaseFiles, BaseShard
from curate.build_info import write_shard_manifest
from curate.carry import CarriedExample
from curate.config import ShardConfig
from curate.fsio import WrittenFile, is_local, join, open_read
from curate.layout import ShardFormat, shard_file
from curate.process import StagedExample
from curate.shards import ShardResult
from curate.writers import iter_tfrecords, write_shards

__all__ = ["TOUCHED_MARK", "Touched", "WriteShards", "shard_records"]

_OPEN_FILES = 32  # staging files a shard writer keeps open at once


@dataclass(frozen=True, slots=True)
class Touched:
    """A base shard lost or changed an example: it must be rewritten."""


TOUCHED_MARK = Touched()


class _Located(NamedTuple):
    key: str
    path: str  # a local file
    offset: int
    length: int


def _read_exactly(f: Any, where: _Located) -> bytes:
    data = f.read(where.length)
    if len(data) != where.length:
        raise IOError(f"{where.path} is short at offset {where.offset} (key {where.key})")
    return data


class _Records:
    """The records of a shard's members, one at a time, in the order given; a context manager
    that removes its spool file."""

    def __init__(self, members: list[StagedExample | CarriedExample],
                 base: Mapping[int, BaseShard], files: BaseFiles | None) -> None:
        self._members, self._base, self._files = members, base, files  # base: of the split
        self._spool: Any = None
        self._where: dict[str, _Located] = {}

    def __enter__(self) -> _Records:
        remote: dict[str, list[StagedExample]] = defaultdict(list)
        carried = [m for m in self._members if isinstance(m, CarriedExample)]
        for m in self._members:
            if isinstance(m, StagedExample):
                if is_local(m.staged_path):
                    self._where[m.key] = _Located(m.key, m.staged_path, m.offset, m.length)
                else:
                    remote[m.staged_path].append(m)
        if remote or carried:
            self._spool = tempfile.NamedTemporaryFile(prefix="curate-spool-", delete=False)
            for path, group in sorted(remote.items()):
                with open_read(path) as f:
                    for e in sorted(group, key=lambda e: e.offset):
                        f.seek(e.offset)
                        self._put(e.key, _read_exactly(f, _Located(e.key, path, e.offset,
                                                                   e.length)))
            by_shard: dict[int, list[CarriedExample]] = defaultdict(list)
            for c in carried:
                by_shard[c.shard].append(c)
            for shard, group in sorted(by_shard.items()):
                self._spool_base(shard, group)
            self._spool.close()
        return self

    def _put(self, key: str, record: bytes) -> None:
        self._where[key] = _Located(key, self._spool.name, self._spool.tell(), len(record))
        self._spool.write(record)

    def _spool_base(self, shard: int, carried: list[CarriedExample]) -> None:
        """Read base shard ``shard`` once and spool the records at the carried positions."""
        base = self._base.get(shard)
        if base is None or self._files is None:
            raise ValueError(f"example {carried[0].key!r} is carried from shard {shard}, which "
                             "the base does not list")
        wanted = {c.position: c.key for c in carried}
        fmt = (ShardFormat.TFRECORD if ShardFormat.TFRECORD in base.files
               else ShardFormat.ARRAY_RECORD)
        entry = base.files[fmt]
        path = self._files.fetch(str(entry["path"]), str(entry["sha256"]))
        for position, record in shard_records(path, fmt):
            key = wanted.pop(position, None)
            if key is not None:
                self._put(key, record)
        if wanted:
            raise IOError(f"{entry['path']} of the base holds no record at positions "
                          f"{sorted(wanted)[:5]}")

    def __exit__(self, *_: Any) -> None:
        if self._spool is not None:
            os.unlink(self._spool.name)

    def __iter__(self) -> Iterator[bytes]:
        handles: dict[str, Any] = {}
        try:
            for m in self._members:
                where = self._where[m.key]
                f = handles.get(where.path)
                if f is None:
                    if len(handles) >= _OPEN_FILES:
                        handles.pop(next(iter(handles))).close()
                    f = handles[where.path] = open(where.path, "rb")
                f.seek(where.offset)
                yield _read_exactly(f, where)
        finally:
            for f in handles.values():
                f.close()


def shard_records(path: str, fmt: ShardFormat) -> Iterator[tuple[int, bytes]]:
    """(position, record) of a shard file in format ``fmt`` (a base's, from its verified
    cache), in order."""
    if fmt is ShardFormat.TFRECORD:
        with open_read(path) as f:
            yield from enumerate(iter_tfrecords(f, name=path))
        return
    from array_record.python.array_record_module import ArrayRecordReader

    if not is_local(path):
        raise ValueError(f"{path}: an ArrayRecord shard is read from a local copy only")
    reader = ArrayRecordReader(path)
    try:
        for position in range(reader.num_records()):
            yield position, reader.read([position])[0]
    finally:
        reader.close()


def _base_rows(base: BaseShard, files: BaseFiles) -> list[dict[str, Any]]:
    """A base shard's manifest rows, in position order, from its manifest file."""
    import pyarrow.parquet as pq

    m = base.manifest
    if m is None:
        raise ValueError(f"shard {base.index} of the base lists no manifest file")
    with open_read(files.fetch(str(m["path"]), str(m["sha256"]))) as f:
        return pq.read_table(f).to_pylist()


def _carried_rows(carried: list[CarriedExample], base: Mapping[int, BaseShard],
                  files: BaseFiles | None) -> dict[str, dict[str, Any]]:
    """key -> the manifest row of each carried example: its base row (each base shard's
    manifest file read once) with the current input's URIs."""
    by_shard: dict[int, list[CarriedExample]] = defaultdict(list)
    for c in carried:
        by_shard[c.shard].append(c)
    out = {}
    for shard, group in sorted(by_shard.items()):
        if shard not in base or files is None:
            raise ValueError(f"example {group[0].key!r} is carried from shard {shard}, which "
                             "the base does not list")
        rows = _base_rows(base[shard], files)
        for c in group:
            row = rows[c.position] if c.position < len(rows) else {}
            if row.get("key") != c.key:
                raise ValueError(f"the base's manifest of shard {shard} has "
                                 f"{row.get('key')!r} at position {c.position}, not {c.key!r}")
            out[c.key] = {**row, "source_uri": c.source_uri, "audio_uri": c.audio_uri}
    return out


def _kept(split: str, base: BaseShard, carried: list[CarriedExample], files: BaseFiles,
          output_dir: str, fields: tuple[str, ...]) -> ShardResult:
    """A base shard every example of which is carried: its files and manifest file are the
    base's, placed byte for byte under the same names, unread where the registry can
    (:meth:`curate.base.BaseFiles.place`: a hard link to a local store's object)."""
    carried.sort(key=lambda c: c.position)
    if [c.position for c in carried] != list(range(base.num_examples)):
        raise ValueError(f"shard {base.index} of split {split!r}: carried positions "
                         f"{[c.position for c in carried][:5]}… do not cover its "
                         f"{base.num_examples} examples")
    kept = []
    for fmt, f in sorted(base.files.items(), key=lambda kv: kv[0].value):
        rel, sha256 = str(f["path"]), str(f["sha256"])
        files.place(rel, sha256, join(output_dir, rel))
        kept.append((fmt, WrittenFile(path=rel, sha256=sha256, size_bytes=int(f["size_bytes"]))))
    m = base.manifest
    if m is not None and not any(c.moved for c in carried):
        rel, sha256 = str(m["path"]), str(m["sha256"])
        files.place(rel, sha256, join(output_dir, rel))
        manifest = WrittenFile(path=rel, sha256=sha256, size_bytes=int(m["size_bytes"]))
    else:
        rows = _carried_rows(carried, {base.index: base}, files)
        manifest = write_shard_manifest(output_dir, split, base.index,
                                        (rows[c.key] for c in carried), fields)
    return ShardResult(split=split, index=base.index, num_examples=len(carried),
                       files=tuple(kept), manifest=manifest, from_base=True,
                       manifest_from_base=m is not None and manifest.sha256 == m["sha256"])


class _WriteShardFn(beam.DoFn):
    def __init__(self, output_dir: str, dataset: str, cfg: ShardConfig,
                 base_shards: Mapping[str, Mapping[int, BaseShard]],
                 files: BaseFiles | None, fields: tuple[str, ...]) -> None:
        self._output_dir = output_dir
        self._dataset = dataset
        self._cfg = cfg
        self._base_shards = base_shards
        self._files = files
        self._fields = fields  # the build's model-signal fields (manifest columns)

    def process(self, item: tuple[tuple[str, int], Any]) -> Iterator[ShardResult]:
        (split, index), group = item
        members: list[StagedExample | CarriedExample] = []
        touched = False
        for m in group:
            if isinstance(m, Touched):
                touched = True
            else:
                members.append(m)
        split_base = self._base_shards.get(split, {})
        base = split_base.get(index)
        if base is not None and not touched and all(
                isinstance(m, CarriedExample) and m.shard == index for m in members):
            Metrics.counter("curate", "shards.kept").inc()
            yield _kept(split, base, members,  # type: ignore[arg-type]
                        self._files, self._output_dir, self._fields)
            return
        members.sort(key=lambda m: m.key)
        for a, b in zip(members, members[1:]):
            if a.key == b.key:  # the sources reject duplicate keys: this is a bug
                raise ValueError(f"duplicate key {a.key!r} in shard {index} of split {split!r}")
        if not members:  # every example of a base shard was removed: the shard is gone
            Metrics.counter("curate", "shards.emptied").inc()
            return
        rels = {f: shard_file(self._dataset, split, f, index) for f in self._cfg.formats}
        dests = {f: join(self._output_dir, rel) for f, rel in rels.items()}
        with _Records(members, split_base, self._files) as records:  # one record at a time
            written, num_examples = write_shards(dests, records)
        files = tuple(
            (f, WrittenFile(path=rels[f], sha256=w.sha256, size_bytes=w.size_bytes))
            for f, w in written.items()
        )
        carried = _carried_rows([m for m in members if isinstance(m, CarriedExample)],
                                split_base, self._files)
        manifest = write_shard_manifest(
            self._output_dir, split, index,
            ({**(carried[m.key] if isinstance(m, CarriedExample) else m.manifest_row()),
              "shard": index, "position": i} for i, m in enumerate(members)),
            self._fields)
        Metrics.counter("curate", "shards.written").inc()
        yield ShardResult(split=split, index=index, num_examples=num_examples, files=files,
                          manifest=manifest)


class WriteShards(beam.PTransform):
    """((split, shard index), member) -> ShardResult, one per shard of the build (see the
    module docstring); ``base_shards`` and ``files``: the base's shards and how to read them
    (empty and None for a build without a base); ``model_signal_fields``: the build's
    model-signal manifest columns."""

    def __init__(self, output_dir: str, dataset: str, cfg: ShardConfig,
                 base_shards: Mapping[str, Mapping[int, BaseShard]] | None = None,
                 files: BaseFiles | None = None, *, progress: bool = False,
                 model_signal_fields: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._output_dir, self._dataset, self._cfg = output_dir, dataset, cfg
        self._base_shards, self._files = dict(base_shards or {}), files
        self._fields = tuple(model_signal_fields)
        self._progress = progress  # count the shards that will be written (build_progress)

    def expand(self, members: beam.PCollection) -> beam.PCollection:
        if self._progress:  # only shards that hold an example are written (or kept)
            from curate.build_progress import CountStep, Step

            _ = (
                members
                | "Held" >> beam.Filter(lambda m: not isinstance(m[1], Touched))
                | "ShardKeys" >> beam.Keys()  # (split, shard)
                | "DistinctShards" >> beam.Distinct()
                | "CountPlanned" >> CountStep(self._output_dir, Step.PLANNED)
            )
        return (
            members
            | "GroupByShard" >> beam.GroupByKey()  # ((split, shard), [member])
            | "WriteShard" >> beam.ParDo(_WriteShardFn(
                self._output_dir, self._dataset, self._cfg, self._base_shards, self._files,
                self._fields))
        )
