"""The four tables a suite validates, made from a build's manifests and ``dataset_info.json``.

GX validates one batch (a DataFrame) at a time, and an expectation sees only its own batch. Row
checks belong to the manifest; dataset-level facts (examples per split, the share of rejected
inputs, speakers that cross splits) do not, so they are computed here into small tables of their
own and validated as batches of their own:

========== ======================== ===============================================================
table      one row per              columns
========== ======================== ===============================================================
examples   manifest row, all splits every manifest column (``curate.build_info.MANIFEST_SCHEMA``)
                                    and ``split``
speakers   speaker                  speaker, num_splits, splits (sorted, comma-joined),
                                    num_examples
splits     split of the config      split, num_examples, num_speakers, duration_s, hours
dataset    (a single row)           read, accepted, rejected, rejected_share, num_examples,
                                    num_speakers, num_splits, duration_s, hours
========== ======================== ===============================================================

A split named by the config but absent from the build gets a row of zeros in ``splits``, so a
minimum per split catches it.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from curate.build_info import MANIFEST_SCHEMA
from curate.config import split_name_problem
from curate.fsio import is_local, list_files
from curate.layout import INFO_FILE
from curate.validation import storage
from curate.validation.errors import BuildReadError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "COLUMNS",
    "INDEX_COLUMNS",
    "BuildDir",
    "BuildLike",
    "Table",
    "Tables",
    "build_tables",
    "manifest_frame",
    "split_names",
]


class Table(str, enum.Enum):
    """The batches a suite's expectations are routed to by their ``meta.table``."""

    EXAMPLES = "examples"
    SPEAKERS = "speakers"
    SPLITS = "splits"
    DATASET = "dataset"


COLUMNS: dict[Table, tuple[str, ...]] = {
    Table.EXAMPLES: (*MANIFEST_SCHEMA.names, "split"),
    Table.SPEAKERS: ("speaker", "num_splits", "splits", "num_examples"),
    Table.SPLITS: ("split", "num_examples", "num_speakers", "duration_s", "hours"),
    Table.DATASET: (
        "read", "accepted", "rejected", "rejected_share", "num_examples", "num_speakers",
        "num_splits", "duration_s", "hours",
    ),
}

# Columns that identify a failing row in results and Data Docs (GX unexpected_index_column_names).
INDEX_COLUMNS: dict[Table, tuple[str, ...]] = {
    Table.EXAMPLES: ("key", "split"),
    Table.SPEAKERS: ("speaker", "splits"),
    Table.SPLITS: ("split",),
    Table.DATASET: (),
}


@runtime_checkable
class BuildLike(Protocol):
    """What validation needs of a build: a build directory, or a registered version
    (``registry.dataset.DatasetVersion`` has exactly this shape)."""

    @property
    def info(self) -> Mapping[str, Any]:
        """The parsed ``dataset_info.json``."""

    def manifest(self, split: str) -> pa.Table:
        """The rows of the split's manifest files, in shard order."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildDir:
    """A build directory on the local disk or in a bucket (a URI such as
    ``s3://bucket/builds/b1``), read on demand."""

    root: str
    info: Mapping[str, Any]

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> BuildDir:
        """Read ``root/dataset_info.json``; BuildReadError names what is missing or broken."""
        root = os.fspath(root)
        if not is_local(root):
            return cls._open_remote(root.rstrip("/"))
        path = os.path.join(root, INFO_FILE)
        if not os.path.isdir(root):
            raise BuildReadError(f"{root}: build directory not found")
        if not os.path.isfile(path):
            raise BuildReadError(f"{root}: not a build directory (no {INFO_FILE})")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise BuildReadError(f"{path}: cannot be read as JSON ({e})") from e
        return cls(root=root, info=_parse_info(path, data))

    @classmethod
    def _open_remote(cls, root: str) -> BuildDir:
        path = storage.join(root, INFO_FILE)
        data = storage.read_bytes(path)
        if data is None:
            with storage.store_errors(root):
                found = bool(list_files(root))  # a prefix with no files is no directory at all
            if not found:
                raise BuildReadError(f"{root}: build directory not found")
            raise BuildReadError(f"{root}: not a build directory (no {INFO_FILE})")
        return cls(root=root, info=_parse_info(path, data))

    @property
    def ref(self) -> str:
        return self.root

    def manifest(self, split: str) -> pa.Table:
        import pyarrow as pa

        from curate.build_info import read_manifest

        problem = split_name_problem(split)
        if problem:
            raise BuildReadError(f"{self.root}: {problem}")
        if split not in self.info["splits"]:
            raise BuildReadError(f"{self.root}: no split {split!r}")
        opened: list[str] = []

        def source(rel: str) -> Any:
            path = storage.join(self.root, rel)
            opened.append(path)
            if is_local(self.root):
                if not os.path.isfile(path):
                    raise BuildReadError(f"{self.root}: split {split!r} has no manifest ({path})")
                return path
            data = storage.read_bytes(path)
            if data is None:
                raise BuildReadError(f"{self.root}: split {split!r} has no manifest ({path})")
            return pa.BufferReader(data)

        try:
            return read_manifest(self.info, split, source)
        except BuildReadError:
            raise
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise BuildReadError(f"{opened[-1] if opened else self.root}: not a readable "
                                 f"Parquet manifest ({e})") from e


def _parse_info(path: str, data: bytes) -> dict[str, Any]:
    try:
        info = json.loads(data)
    except ValueError as e:
        raise BuildReadError(f"{path}: cannot be read as JSON ({e})") from e
    if not isinstance(info, dict) or not isinstance(info.get("splits"), dict):
        raise BuildReadError(f"{path}: no 'splits' mapping")
    for name in split_names(info):  # they become paths: the config's rule, checked on reading
        problem = split_name_problem(name)
        if problem:
            raise BuildReadError(f"{path}: {problem}")
    return info


def split_names(info: Mapping[str, Any]) -> list[str]:
    """The build's splits: the config's, in config order, then any others the build has."""
    config = info.get("config")
    splits = config.get("splits") if isinstance(config, Mapping) else None
    ratios = splits.get("ratios") if isinstance(splits, Mapping) else None
    configured = list(ratios) if isinstance(ratios, Mapping) else []
    return configured + sorted(
        (s for s in info.get("splits", {}) if s not in configured), key=str
    )


def manifest_frame(build: BuildLike) -> pd.DataFrame:
    """Every split's manifest rows in one DataFrame with a ``split`` column."""
    import pandas as pd
    import pyarrow as pa

    frames = []
    for split in split_names(build.info):
        if split not in build.info["splits"]:
            continue  # configured but never written: the splits table shows it as empty
        table = build.manifest(split)
        table = table.append_column("split", pa.array([split] * table.num_rows, pa.string()))
        frames.append(table.to_pandas())
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in COLUMNS[Table.EXAMPLES]})
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class Tables:
    """One DataFrame per :class:`Table`."""

    examples: pd.DataFrame
    speakers: pd.DataFrame
    splits: pd.DataFrame
    dataset: pd.DataFrame

    def __getitem__(self, table: Table) -> pd.DataFrame:
        return getattr(self, table.value)


def build_tables(build: BuildLike) -> Tables:
    """The examples, speakers, splits and dataset tables of ``build`` (see the module doc)."""
    import pandas as pd

    info = build.info
    examples = manifest_frame(build)
    known = examples.dropna(subset=["speaker"])
    by_speaker = known.groupby("speaker", sort=True)["split"]
    speakers = pd.DataFrame(
        {
            "speaker": list(by_speaker.groups),
            "num_splits": by_speaker.nunique().to_numpy(dtype="int64"),
            "splits": by_speaker.agg(lambda s: ",".join(sorted(set(s)))).to_numpy(dtype=object),
            "num_examples": by_speaker.size().to_numpy(dtype="int64"),
        },
        columns=list(COLUMNS[Table.SPEAKERS]),
    )
    rows = []
    for split in split_names(info):
        part = examples[examples["split"] == split]
        seconds = float(part["duration_s"].sum())
        rows.append(
            {
                "split": split,
                "num_examples": int(len(part)),
                "num_speakers": int(part["speaker"].nunique()),
                "duration_s": seconds,
                "hours": seconds / 3600.0,
            }
        )
    splits = pd.DataFrame(rows, columns=list(COLUMNS[Table.SPLITS]))
    counts = info.get("counts", {})
    accepted = int(counts.get("accepted", len(examples)))
    rejected = int(counts.get("rejected", 0))
    read = int(counts.get("read", accepted + rejected))
    seconds = float(examples["duration_s"].sum())
    dataset = pd.DataFrame(
        [
            {
                "read": read,
                "accepted": accepted,
                "rejected": rejected,
                "rejected_share": rejected / read if read else 0.0,
                "num_examples": int(len(examples)),
                "num_speakers": int(examples["speaker"].nunique()),
                "num_splits": int(len(splits)),
                "duration_s": seconds,
                "hours": seconds / 3600.0,
            }
        ],
        columns=list(COLUMNS[Table.DATASET]),
    )
    return Tables(examples=examples, speakers=speakers, splits=splits, dataset=dataset)
