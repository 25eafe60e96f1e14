"""Compaction: a registered version whose splits end in many small appended shards (what builds
on a base add, one batch at a time) rewritten into target-size shards, without changing any
example.

In each split, a *run* is two or more shards next to each other in index order, each holding
less than :data:`SMALL_FRACTION` of the target size (a fresh build's shards average more than
half the target: ``ceil(bytes / target)`` of them share a split's bytes). A run of ``B`` bytes
becomes ``ceil(B / target)`` shards (:func:`curate.shards.shards_for`), which take the run's
first indices; its other indices become gaps (layout 2 allows them). The run's records are
copied in order, never decoded: output shard ``j`` takes them until the run's bytes so far reach
``(j + 1) / n`` of ``B``. So a split's examples keep their order (row ``i`` of the manifest is
still the ``i``-th example read from the split's shards) and their bytes; only their shard and
position change. Every other shard is kept byte for byte under its name (a hard link from the
registry's cache when both are local), with its manifest file, and so are
``rejected.parquet``, ``stats.json`` and ``CARD.md``: registering the result stores the
rewritten shards and their manifest files only.

The output is a complete build directory: ``dataset_info.json`` is the version's own, with its
``base`` naming the compacted version (``"mode": "compaction"``), a ``compaction`` record (the
target, each run's indices before and after), the new shard lists and files, and counts that
say nothing was processed. It is written last, as a build writes it: a compaction killed midway
leaves no ``dataset_info.json``, and the next one into the same output clears what it left
(:func:`curate.output_dir.prepare_output`).

Plain Python, not a Beam pipeline: nothing is decoded or encoded, so the work is copying the
small shards' bytes once, which one process does at disk speed; it streams a record at a time
and an output shard's manifest rows at a time, so memory stays flat; and the output depends on the version
and the target only (no runner, worker count or bundle can change a byte).

With nothing to compact (no split has a run), :func:`compact` says so and writes nothing, not
even the output directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from curate import fsio
from curate.base import BaseFiles, BaseShard, BaseVersion, base_shards, check_layout
from curate.errors import InconsistentVersionError, UsageError
from curate.layout import (
    CARD_FILE,
    REJECTED_FILE,
    STATS_FILE,
    ShardFormat,
    fingerprint,
    shard_file,
)

__all__ = ["COMPACTION", "SMALL_FRACTION", "CompactionPlan", "Run", "compact", "plan_compaction",
           "shard_size"]

SMALL_FRACTION = 0.5
"""A shard holding less than this share of the target size is small: a run of them is rewritten."""

COMPACTION = "compaction"  # dataset_info.json: base.mode of a compacted version
_COPIED = (REJECTED_FILE, STATS_FILE, CARD_FILE)  # the same examples: the same files


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    """Small shards next to each other in a split, rewritten into ``outputs`` shards."""

    split: str
    shards: tuple[BaseShard, ...]  # in index order
    outputs: int
    size_bytes: int

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(s.index for s in self.shards)

    @property
    def num_examples(self) -> int:
        return sum(s.num_examples for s in self.shards)


@dataclass(frozen=True, kw_only=True, slots=True)
class CompactionPlan:
    """What compacting a version rewrites (made by :func:`plan_compaction`)."""

    ref: str
    commit_id: str
    target_size_mb: float
    runs: tuple[Run, ...]
    shards: Mapping[str, tuple[BaseShard, ...]] = field(repr=False)

    @property
    def nothing(self) -> bool:
        return not self.runs

    def describe(self) -> str:
        if self.nothing:
            return (f"nothing to compact in {self.ref}: no split has two adjacent shards under "
                    f"{SMALL_FRACTION * self.target_size_mb:g} MB "
                    f"({SMALL_FRACTION:g} of the {self.target_size_mb:g} MB target)")
        rewritten = sum(len(r.shards) for r in self.runs)
        outputs = sum(r.outputs for r in self.runs)
        size = sum(r.size_bytes for r in self.runs)
        return (f"compacting {self.ref} (commit {self.commit_id[:12]}): {rewritten} small "
                f"shards ({size / 1e6:.1f} MB) into {outputs} of about "
                f"{self.target_size_mb:g} MB, in {len(self.runs)} run(s)")


def shard_size(shard: BaseShard) -> int:
    """A shard's size as compaction weighs it: its TFRecord file's (the records and 16 bytes
    each; an ArrayRecord file is padded to its blocks), else its largest file's."""
    if ShardFormat.TFRECORD in shard.files:
        return int(shard.files[ShardFormat.TFRECORD]["size_bytes"])
    return shard.size_bytes


def _runs(split: str, shards: Sequence[BaseShard], target: float) -> Iterator[Run]:
    from curate.shards import shards_for

    small = SMALL_FRACTION * target
    run: list[BaseShard] = []
    for shard in [*shards, None]:
        if shard is not None and shard_size(shard) < small:
            run.append(shard)
            continue
        if len(run) >= 2:
            size = sum(shard_size(s) for s in run)
            yield Run(split=split, shards=tuple(run), size_bytes=size,
                      outputs=shards_for(size, sum(s.num_examples for s in run), target))
        run = []


def plan_compaction(version: BaseVersion, target_size_mb: float | None = None
                    ) -> CompactionPlan:
    """Which runs of small shards compacting ``version`` rewrites. ``target_size_mb``: the
    version's own ``shards.target_size_mb`` unless given. UsageError for a version of an older
    layout or a target that is not positive."""
    from curate.shards import target_bytes

    check_layout(version, "build it again without --base, register it, and compact that")
    info = version.info
    target_mb = float(target_size_mb if target_size_mb is not None
                      else info["config"]["shards"]["target_size_mb"])
    if not target_mb > 0:
        raise UsageError(f"--target-size-mb must be greater than 0, got {target_mb:g}")
    shards = base_shards(info)
    target = target_bytes(target_mb)
    runs = tuple(run for split in sorted(shards) for run in _runs(split, shards[split], target))
    return CompactionPlan(ref=version.ref, commit_id=version.commit_id, target_size_mb=target_mb,
                          runs=runs, shards=shards)


# -- writing ----------------------------------------------------------------------------------


class _Cursor:
    """The records of a run, taken an output shard at a time; counts the bytes taken."""

    def __init__(self, records: Iterable[bytes]) -> None:
        self._it = iter(records)
        self._next = next(self._it, None)
        self.taken = 0

    @property
    def done(self) -> bool:
        return self._next is None

    def take(self, until: float | None) -> Iterator[bytes]:
        """Records until the run's bytes taken reach ``until`` (None: all that are left)."""
        while self._next is not None:
            record, self._next = self._next, next(self._it, None)
            self.taken += len(record)
            yield record
            if until is not None and self.taken >= until:
                return


def _source_format(shard: BaseShard) -> ShardFormat:
    return ShardFormat.TFRECORD if ShardFormat.TFRECORD in shard.files else (
        ShardFormat.ARRAY_RECORD)


def _run_records(run: Run, files: BaseFiles) -> Iterator[bytes]:
    from curate.shard_writer import shard_records

    for shard in run.shards:
        fmt = _source_format(shard)
        entry = shard.files[fmt]
        path = files.fetch(str(entry["path"]), str(entry["sha256"]))
        count = 0
        for _, record in shard_records(path, fmt):
            count += 1
            yield record
        if count != shard.num_examples:
            raise InconsistentVersionError(f"{entry['path']} holds {count} records, its "
                                           f"version lists {shard.num_examples}")


@dataclass(frozen=True, kw_only=True, slots=True)
class _Written:
    index: int
    num_examples: int
    files: Mapping[ShardFormat, fsio.WrittenFile]  # paths relative to the build


def _manifest_of(files: BaseFiles, shard: BaseShard, ref: str) -> Any:
    """A base shard's manifest rows, read from its manifest file."""
    import pyarrow.parquet as pq

    if shard.manifest is None:
        raise InconsistentVersionError(f"{ref} lists no manifest file for shard {shard.index}")
    with fsio.open_read(files.fetch(str(shard.manifest["path"]),
                                    str(shard.manifest["sha256"]))) as f:
        return pq.read_table(f)


def _record_bytes(version: BaseVersion, files: BaseFiles, run: Run) -> int:
    """The run's record bytes, from its shards' manifest files (``record_bytes``)."""
    import pyarrow.compute as pc

    total = 0
    for shard in run.shards:
        held = _manifest_of(files, shard, version.ref).select(["record_bytes"])
        if held.num_rows and held["record_bytes"].null_count:
            raise InconsistentVersionError(f"{shard.manifest['path']} of {version.ref} "
                                           "lacks record_bytes")
        total += int(pc.sum(held["record_bytes"]).as_py() or 0)
    return total


def _write_run(version: BaseVersion, files: BaseFiles, run: Run, output_dir: str,
               formats: Sequence[ShardFormat]) -> list[_Written]:
    """Write the run's records into its output shards, a record at a time."""
    from curate.writers import write_shards

    name = version.info["name"]
    total = _record_bytes(version, files, run)
    cursor = _Cursor(_run_records(run, files))
    written: list[_Written] = []
    for j, index in enumerate(run.indices[:run.outputs]):
        if cursor.done:  # one large record took more than a share: fewer, fuller shards
            break
        rels = {fmt: shard_file(name, run.split, fmt, index) for fmt in formats}
        dests = {fmt: fsio.join(output_dir, rel) for fmt, rel in rels.items()}
        last = j == run.outputs - 1
        out, count = write_shards(dests, cursor.take(None if last else total * (j + 1)
                                                     / run.outputs))
        written.append(_Written(index=index, num_examples=count, files={
            fmt: fsio.WrittenFile(path=rels[fmt], sha256=w.sha256, size_bytes=w.size_bytes)
            for fmt, w in out.items()}))
    if not cursor.done or cursor.taken != total:
        raise InconsistentVersionError(
            f"split {run.split!r} of {version.ref}: its shards {run.indices[0]}.."
            f"{run.indices[-1]} hold other records than its manifest lists")
    return written


def _run_manifests(version: BaseVersion, files: BaseFiles, run: Run,
                   written: Sequence[_Written]) -> Iterator[tuple[_Written, Any]]:
    """(output shard, its manifest rows): the run's rows in order (its shards' manifest files,
    one at a time) fill the written shards in order, each row with its new shard and
    position. Holds one output shard's rows and one input shard's."""
    import pyarrow as pa

    def rows() -> Iterator[Any]:
        for shard in run.shards:
            table = _manifest_of(files, shard, version.ref)
            if table.num_rows != shard.num_examples or table["position"].to_pylist() != list(
                    range(shard.num_examples)):
                raise InconsistentVersionError(
                    f"{shard.manifest['path']} of {version.ref}: its rows are not positions "
                    f"0..{shard.num_examples - 1} of shard {shard.index}")
            yield table

    tables = rows()
    pending: Any = None
    for w in written:
        parts, held = [], 0
        while held < w.num_examples:
            if pending is None:
                pending = next(tables, None)
                if pending is None:
                    raise InconsistentVersionError(
                        f"split {run.split!r} of {version.ref}: its manifest files list fewer "
                        "examples than its shards hold")
            take = min(w.num_examples - held, pending.num_rows)
            parts.append(pending.slice(0, take))
            pending = pending.slice(take) if take < pending.num_rows else None
            held += take
        table = pa.concat_tables(parts)
        for name, values in (("shard", [w.index] * w.num_examples),
                             ("position", list(range(w.num_examples)))):
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, pa.array(values, type=table.schema.field(i).type))
        yield w, table


def _write_manifest(output_dir: str, split: str, index: int, table: Any) -> fsio.WrittenFile:
    """Write a rewritten shard's manifest file, in the manifest's own schema (the base's
    columns), as a build writes one."""
    from curate.build_info import MANIFEST_SCHEMA, write_shard_manifest

    fields = [n for n in table.schema.names if n not in MANIFEST_SCHEMA.names]
    return write_shard_manifest(output_dir, split, index, table.to_pylist(), fields)


def _copy(files: BaseFiles, info: Mapping[str, Any], rel: str, output_dir: str
          ) -> dict[str, Any]:
    """Copy the version's file ``rel`` byte for byte; its entry in ``files`` (as it was)."""
    entry = info["files"][rel]
    files.place(rel, entry["sha256"], fsio.join(output_dir, rel))
    return dict(entry)


def _shard_entries(shard_files: Mapping[ShardFormat, Mapping[str, Any]], num_examples: int,
                   base: bool) -> dict[str, dict[str, Any]]:
    """format -> the shard's entry in ``splits.<split>.shards.<format>``."""
    out = {}
    for fmt, f in shard_files.items():
        entry = {"path": str(f["path"]), "sha256": str(f["sha256"]),
                 "size_bytes": int(f["size_bytes"]), "num_examples": num_examples}
        if base:
            entry["base"] = True
        out[fmt.value] = entry
    return out


def _write(version: BaseVersion, plan: CompactionPlan, output_dir: str) -> dict[str, Any]:
    from curate.build_info import code_version, manifest_entry, write_info_file

    info = version.info
    files = version.base_files()
    formats = [ShardFormat(f) for f in info["config"]["shards"]["formats"]]
    listed: dict[str, dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    runs_of = {split: [r for r in plan.runs if r.split == split] for split in plan.shards}
    record: dict[str, Any] = {"target_size_mb": plan.target_size_mb,
                              "small_fraction": SMALL_FRACTION, "code_version": code_version(),
                              "runs": []}
    for split in sorted(info["splits"]):
        shards = plan.shards.get(split, ())
        in_run = {s.index for r in runs_of.get(split, []) for s in r.shards}
        entries: dict[int, dict[str, dict[str, Any]]] = {}
        manifests: dict[int, dict[str, Any]] = {}
        for shard in shards:  # kept, with its manifest file
            if shard.index not in in_run:
                for f in shard.files.values():
                    listed[str(f["path"])] = {**_copy(files, info, str(f["path"]), output_dir),
                                              "base": True}
                entries[shard.index] = _shard_entries(shard.files, shard.num_examples, True)
                if shard.manifest is None:
                    raise InconsistentVersionError(
                        f"{version.ref} lists no manifest file for shard {shard.index} of "
                        f"split {split!r}")
                rel = str(shard.manifest["path"])
                listed[rel] = {**_copy(files, info, rel, output_dir), "base": True}
                manifests[shard.index] = {"path": rel, **listed[rel],
                                          "num_examples": shard.num_examples}
        for run in runs_of.get(split, []):
            written = _write_run(version, files, run, output_dir, formats)
            for w, rows in _run_manifests(version, files, run, written):
                as_listed = {fmt: {"path": f.path, "sha256": f.sha256,
                                   "size_bytes": f.size_bytes} for fmt, f in w.files.items()}
                entries[w.index] = _shard_entries(as_listed, w.num_examples, False)
                for f in w.files.values():
                    listed[f.path] = {"sha256": f.sha256, "size_bytes": f.size_bytes}
                m = _write_manifest(output_dir, split, w.index, rows)
                listed[m.path] = {"sha256": m.sha256, "size_bytes": m.size_bytes}
                manifests[w.index] = manifest_entry(m, w.num_examples)
            record["runs"].append({"split": split, "shards": list(run.indices),
                                   "into": [w.index for w in written],
                                   "examples": run.num_examples, "size_bytes": run.size_bytes})
        splits[split] = {**info["splits"][split], "shards": {
            fmt.value: [entries[i][fmt.value] for i in sorted(entries)] for fmt in formats},
            "manifest": [manifests[i] for i in sorted(manifests)]}
    for rel in _COPIED:
        if rel in info["files"]:
            listed[rel] = _copy(files, info, rel, output_dir)
    counts = info["counts"]
    out = {
        **info,
        "base": {"ref": version.ref, "commit_id": version.commit_id,
                 "fingerprint": str(info.get("fingerprint", "")), "mode": COMPACTION,
                 "registry": version.registry},
        "compaction": record,
        "counts": {**counts, "carried": 0, "processed": 0, "removed": 0},
        "splits": splits,
        "files": dict(sorted(listed.items())),
        "fingerprint": fingerprint(listed),
    }
    return write_info_file(output_dir, out)


def compact(
    version: BaseVersion,
    output_dir: str,
    *,
    target_size_mb: float | None = None,
    overwrite: bool = False,
    say: Callable[[str], None] = lambda s: print(s, flush=True),
    report: bool = True,
) -> dict[str, Any] | None:
    """Compact ``version`` (``Registry(uri).open("name@v7")``) into the build directory
    ``output_dir`` (see the module docstring); returns its ``dataset_info.json``, or None when
    there was nothing to compact (then nothing is written). ``report``: write its
    ``report.html`` as a build does."""
    plan = plan_compaction(version, target_size_mb)  # every check before any write
    say(plan.describe())
    if plan.nothing:
        return None
    from curate.output_dir import prepare_output

    if fsio.is_local(output_dir):
        output_dir = os.path.abspath(fsio.local_path(output_dir))
    fsio.require_client(output_dir)
    prepare_output(output_dir, overwrite=overwrite)
    info = _write(version, plan, output_dir)
    if report:
        from curate.launch import write_build_report

        write_build_report(output_dir, say=say)
    return info
