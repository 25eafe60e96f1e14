"""A build on a base version: what the build asks of the version it starts from, the checks
made before anything is written, and the base's records as the workers read them.

The base is a registered version. This library does not import the registry: it asks for a
:class:`BaseVersion` (``registry.dataset.DatasetVersion`` has exactly that shape, as
``Registry(uri).open("name@v3")`` returns it), and its workers read the base's files through a
picklable :class:`BaseFiles` (the registry's commit-keyed, verified cache; each worker fetches
only the files its step needs).

:func:`plan_base` decides, in the launcher, how the base is used:

* **incremental**: inputs that match the base's are carried over, unchanged shards are kept
  (:mod:`curate.carry`, :mod:`curate.plan`, :mod:`curate.shard_writer`);
* **full**: the settings that decide an example's bytes (:mod:`curate.settings`), the splits or
  the shard formats differ from the base's, or a filter changed while VAD trimming is on (the
  base recorded the trimmed audio's signals only): nothing can be carried, and the build says so
  in one line before it starts.

A base of another dataset or of an older layout (:data:`curate.layout.SCHEMA_VERSION`) is a
:class:`~curate.errors.UsageError`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import apache_beam as beam

from curate.errors import Stage, UsageError
from curate.fsio import open_read
from curate.layout import REJECTED_FILE, SCHEMA_VERSION, ShardFormat, manifest_file, shard_index
from curate.pickling import fast_pickle
from curate.records import BY_KEY, SIGNAL_FIELDS
from curate.settings import settings_changes, settings_sha256

if TYPE_CHECKING:
    from curate.config import BuildConfig

__all__ = [
    "BaseExample",
    "BaseFiles",
    "BaseMode",
    "BasePlan",
    "BaseRejection",
    "BaseShard",
    "BaseVersion",
    "ReadBaseExamples",
    "ReadBaseRejections",
    "base_shards",
    "check_layout",
    "plan_base",
]

# Rejections a later build decides again (the others are re-derived by the sources every build).
_DECIDED_AFTER_READING = frozenset({Stage.DECODE.value, Stage.FILTER.value, Stage.MODEL.value,
                                    Stage.DEDUPE.value})


@runtime_checkable
class BaseFiles(Protocol):
    """How a worker reads the base's files; picklable (a worker gets its own copy)."""

    def fetch(self, rel: str, sha256: str) -> str:
        """A path or URI (for :func:`curate.fsio.open_read`) holding the base's file ``rel``,
        verified against ``sha256``."""

    def place(self, rel: str, sha256: str, dest: str) -> None:
        """The base's file ``rel`` byte for byte at ``dest`` (a build's output file), without
        reading its bytes where the registry can (a kept shard is not read, only placed)."""


@runtime_checkable
class BaseVersion(Protocol):
    """What a build needs of its base: a registered version."""

    @property
    def ref(self) -> str:
        """``name@v3``."""

    @property
    def commit_id(self) -> str: ...

    @property
    def registry(self) -> str:
        """Where it is registered: a registry URI (credentials never in it), or ""."""

    @property
    def info(self) -> Mapping[str, Any]:
        """Its ``dataset_info.json``."""

    def base_files(self) -> BaseFiles: ...


class BaseMode(str, enum.Enum):
    INCREMENTAL = "incremental"
    FULL = "full"  # nothing carried: see plan_base


@dataclass(frozen=True, kw_only=True, slots=True)
class BaseShard:
    """One shard of a base split: its index, examples, file in every format and manifest file."""

    index: int
    num_examples: int
    files: Mapping[ShardFormat, Mapping[str, Any]]  # format -> {"path", "sha256", "size_bytes"}
    manifest: Mapping[str, Any] | None = None  # {"path", "sha256", "size_bytes", …}

    @property
    def size_bytes(self) -> int:
        return max(int(f["size_bytes"]) for f in self.files.values())


@dataclass(frozen=True, kw_only=True, slots=True)
class BasePlan:
    """How a build uses its base (made by :func:`plan_base`; picklable)."""

    ref: str
    commit_id: str
    fingerprint: str
    mode: BaseMode
    reason: str  # why a full rebuild; "" when incremental
    files: BaseFiles = field(repr=False)
    shards: Mapping[str, tuple[BaseShard, ...]] = field(default_factory=dict, repr=False)
    rejected: tuple[str, str] | None = None  # (path, sha256)
    registry: str = ""  # where the base was read from (a hint for registering into another)

    @property
    def incremental(self) -> bool:
        return self.mode is BaseMode.INCREMENTAL

    def first_free(self) -> dict[str, int]:
        """Per split, the index after the base's last shard: where new shards start."""
        return {split: 1 + max(s.index for s in shards)
                for split, shards in self.shards.items() if shards}

    def shard_table(self) -> dict[str, dict[int, BaseShard]]:
        return {split: {s.index: s for s in shards} for split, shards in self.shards.items()}

    def record(self) -> dict[str, Any]:
        """What ``dataset_info.json`` says of the base."""
        out = {"ref": self.ref, "commit_id": self.commit_id, "fingerprint": self.fingerprint,
               "mode": self.mode.value, "registry": self.registry}
        if self.reason:
            out["reason"] = self.reason
        return out


def base_shards(info: Mapping[str, Any]) -> dict[str, tuple[BaseShard, ...]]:
    """Per split of a version's ``dataset_info.json``, its shards in index order (with their
    manifest files, layout 3)."""
    out = {}
    for split, entry in info["splits"].items():
        by_index: dict[int, dict[ShardFormat, Mapping[str, Any]]] = {}
        counts: dict[int, int] = {}
        for fmt, shards in entry.get("shards", {}).items():
            for s in shards:
                index = shard_index(s["path"])
                by_index.setdefault(index, {})[ShardFormat(fmt)] = s
                counts[index] = int(s["num_examples"])
        manifests = {str(m["path"]): m for m in entry.get("manifest", [])}
        out[split] = tuple(BaseShard(index=i, num_examples=counts[i], files=by_index[i],
                                     manifest=manifests.get(manifest_file(split, i)))
                           for i in sorted(by_index))
    return out


def _full_rebuild_reason(base: BaseVersion, config: BuildConfig,
                         settings: Mapping[str, Any]) -> str:
    info, current = base.info, config.resolved()
    old = info.get("config", {})
    if info.get("settings_sha256") != settings_sha256(settings):
        changes = settings_changes(info.get("settings", {}), settings)
        what = "; ".join(changes[:3]) + (f" (and {len(changes) - 3} more)" if len(changes) > 3
                                         else "")
        return f"settings changed since {base.ref}: {what or 'not recorded'}"
    if old.get("splits") != current["splits"]:
        return f"the splits differ from {base.ref}'s ({old.get('splits')} -> {current['splits']})"
    formats = current["shards"]["formats"]
    if old.get("shards", {}).get("formats") != formats:
        return (f"the shard formats differ from {base.ref}'s "
                f"({old.get('shards', {}).get('formats')} -> {formats})")
    vad = (current.get("signals") or {}).get("vad") or {}
    if vad.get("enabled") and vad.get("trim_margin_s") is not None and (
            old.get("filters") != current["filters"]):
        return (f"the filters differ from {base.ref}'s and VAD trimming is on: {base.ref} "
                "recorded the signals of the trimmed audio only")
    return ""


def check_layout(base: BaseVersion, older: str) -> None:
    """UsageError unless ``base`` was built with this curate's layout; ``older``: what to do
    about an older one."""
    version = base.info.get("schema_version")
    if not isinstance(version, int) or version < SCHEMA_VERSION:
        raise UsageError(f"base {base.ref} was built with layout {version}, this build writes "
                         f"layout {SCHEMA_VERSION}: {older}")
    if version > SCHEMA_VERSION:
        raise UsageError(f"base {base.ref} was built with layout {version}, newer than this "
                         f"curate's ({SCHEMA_VERSION}): upgrade curate-speech")


def plan_base(config: BuildConfig, base: BaseVersion, settings: Mapping[str, Any]) -> BasePlan:
    """How a build of ``config`` with ``settings`` uses ``base`` (see the module docstring).
    UsageError, before anything is written, for a base of another dataset or layout."""
    info = base.info
    name = info.get("name")
    if name != config.name:
        raise UsageError(f"base {base.ref} is a version of {name!r}, and this config builds "
                         f"{config.name!r}")
    check_layout(base, "build it again without --base (then build on that version)")
    reason = _full_rebuild_reason(base, config, settings)
    files = info["files"]
    rejected = (REJECTED_FILE, files[REJECTED_FILE]["sha256"]) if REJECTED_FILE in files else None
    return BasePlan(
        ref=base.ref,
        commit_id=base.commit_id,
        fingerprint=str(info.get("fingerprint", "")),
        mode=BaseMode.FULL if reason else BaseMode.INCREMENTAL,
        reason=reason,
        files=base.base_files(),
        shards=base_shards(info),
        rejected=rejected,
        registry=base.registry,
    )


# -- the base's records, read a row group at a time by the workers ----------------------------


@fast_pickle
@dataclass(frozen=True, kw_only=True, slots=True)
class BaseExample:
    """One example of the base: its split and manifest row."""

    split: str
    row: Mapping[str, Any]


@fast_pickle
@dataclass(frozen=True, kw_only=True, slots=True)
class BaseRejection:
    """One rejected input of the base that was rejected after it was read: its row of
    ``rejected.parquet``."""

    row: Mapping[str, Any]


class _RowGroupsFn(beam.DoFn):
    """(label, path, sha256) -> (label, path, sha256, row group index), one per row group."""

    def __init__(self, files: BaseFiles) -> None:
        self._files = files

    def process(self, item: tuple[str, str, str]) -> Iterator[tuple[str, str, str, int]]:
        import pyarrow.parquet as pq

        label, rel, sha256 = item
        with open_read(self._files.fetch(rel, sha256)) as f:
            groups = pq.ParquetFile(f).metadata.num_row_groups
        for group in range(groups):
            yield label, rel, sha256, group


def _rows(files: BaseFiles, rel: str, sha256: str, group: int) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    with open_read(files.fetch(rel, sha256)) as f:
        return pq.ParquetFile(f).read_row_group(group).to_pylist()


# What classifying an input against its base example reads of the example's row (the rest of
# the row stays in the base's manifest file: a rewritten shard reads it from there): the match,
# where it is, its URIs and its recorded signals (and any model signals: the columns beyond
# the manifest's own).
_CLASSIFY_COLUMNS = frozenset({"key", "shard", "position", "input_sha256", "settings_sha256",
                               "source_uri", "audio_uri", "pcm_sha256", *SIGNAL_FIELDS})


class _ExamplesFn(beam.DoFn):
    """The index of one base shard's manifest file in ``manifests`` ((split, path, sha256) a
    shard: one small entry per shard, not per example) -> (key, BaseExample), the row holding
    what classifying needs (:data:`_CLASSIFY_COLUMNS`)."""

    def __init__(self, files: BaseFiles, manifests: tuple[tuple[str, str, str], ...]) -> None:
        self._files = files
        self._manifests = manifests

    def process(self, index: int) -> Iterator[tuple[str, BaseExample]]:
        import pyarrow.parquet as pq

        from curate.build_info import MANIFEST_SCHEMA

        split, rel, sha256 = self._manifests[index]
        with open_read(self._files.fetch(rel, sha256)) as f:
            parquet = pq.ParquetFile(f)
            columns = [n for n in parquet.schema_arrow.names
                       if n in _CLASSIFY_COLUMNS or n not in MANIFEST_SCHEMA.names]
            rows = parquet.read(columns=columns).to_pylist()
        for row in rows:
            yield row["key"], BaseExample(split=split, row=row)


class _RejectionsFn(beam.DoFn):
    def __init__(self, files: BaseFiles) -> None:
        self._files = files

    def process(self, item: tuple[str, str, str, int]) -> Iterator[tuple[str, BaseRejection]]:
        _, rel, sha256, group = item
        for row in _rows(self._files, rel, sha256, group):
            if row["stage"] in _DECIDED_AFTER_READING:
                yield row["key"], BaseRejection(row=row)


class ReadBaseExamples(beam.PTransform):
    """The base's manifest rows, ``(key, BaseExample)``, read one shard's manifest file per
    element: no worker holds a whole manifest."""

    def __init__(self, plan: BasePlan) -> None:
        super().__init__()
        self._plan = plan

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        manifests = tuple((split, str(s.manifest["path"]), str(s.manifest["sha256"]))
                          for split, shards in sorted(self._plan.shards.items())
                          for s in shards if s.manifest is not None)
        # Indices cross the Reshuffle, not the (split, path, sha256) tuples: Prism cannot decode
        # Python's coder of a 3-tuple (beam:coder:tuple:v1) inside the GroupByKey it runs.
        return (
            pbegin
            | "Manifests" >> beam.Create(range(len(manifests))).with_output_types(int)
            | "Spread" >> beam.Reshuffle()
            | "ReadRows" >> beam.ParDo(_ExamplesFn(self._plan.files, manifests))
            .with_output_types(BY_KEY)
        )  # (key, BaseExample)


class ReadBaseRejections(beam.PTransform):
    """The base's rejections made after an input was read, ``(key, BaseRejection)``, a row
    group at a time."""

    def __init__(self, plan: BasePlan) -> None:
        super().__init__()
        self._plan = plan

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        files = [("rejected", *self._plan.rejected)] if self._plan.rejected else []
        return (
            pbegin
            | "Rejected" >> beam.Create(files)  # ("rejected", path, sha256)
            | "RowGroups" >> beam.ParDo(_RowGroupsFn(self._plan.files))
            | "Spread" >> beam.Reshuffle()
            | "ReadRows" >> beam.ParDo(_RejectionsFn(self._plan.files)).with_output_types(BY_KEY)
        )  # (key, BaseRejection)
