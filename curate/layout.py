"""The layout of a build directory: every relative path in it, the shard formats and names, and
the build fingerprint. The one module that knows them; everything that writes or reads a build
(the pipeline, validation, the registry, the test fixtures) asks here.

::

    dataset_info.json                    INFO_FILE: written last; a build is complete with it
    data/<split>/<name>-<split>.<format>-<index>   shard_file(): indices are stable, gaps allowed
    manifest/<split>/<index>.parquet     manifest_file(): one per shard, the shard's index
    rejected.parquet                     REJECTED_FILE
    stats.json                           STATS_FILE
    CARD.md                              CARD_FILE
    report.html                          REPORT_FILE: the build report, not fingerprinted
    validation/result.json               VALIDATION_RESULT   written by ``curate validate``
    validation/docs/                     VALIDATION_DOCS
    .staging/                            STAGING_DIR: a build in progress, gone once it is done
    .staging/progress/                   PROGRESS_DIR: its steps' counts (curate.build_progress)

Paths are relative and ``/``-separated, as ``dataset_info.json`` lists them; join them to a
build's root with :func:`curate.fsio.join`. Pure: nothing here touches a filesystem.

A shard's name holds its index and not the split's shard count (layout 2, :data:`SCHEMA_VERSION`):
a build on a base version keeps the base's unchanged shards under their names and appends new
ones after the highest index, and a shard whose examples were all removed leaves a gap
(compaction, :mod:`curate.compact`, leaves gaps too: a run of small shards becomes fewer shards
under the run's first indices). The shards of a split, in index order, are the ones
``dataset_info.json`` lists.

>>> shard_file("asr", "train", ShardFormat.TFRECORD, 3)
'data/train/asr-train.tfrecord-00003'
>>> shard_index("data/train/asr-train.tfrecord-00003")
3
>>> manifest_file("test", 3)
'manifest/test/00003.parquet'

Each shard has its own manifest file (layout 3), under the shard's index: a build on a base keeps
an unchanged shard's manifest file byte for byte as it keeps the shard, so registering stores
nothing for either. ``dataset_info.json`` lists a split's manifest files in shard order
(``splits.<split>.manifest``); :func:`manifest_files` reads that list, and
:func:`curate.build_info.read_manifest` gives a split's manifest as one table. A split with no
examples has no manifest file (its table is empty, with the manifest's schema).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CARD_FILE",
    "DATA_DIR",
    "INFO_FILE",
    "MANIFEST_DIR",
    "PROGRESS_DIR",
    "REJECTED_FILE",
    "REPORT_FILE",
    "STAGING_DIR",
    "SCHEMA_VERSION",
    "STATS_FILE",
    "VALIDATION_DIR",
    "VALIDATION_DOCS",
    "VALIDATION_DOCS_INDEX",
    "VALIDATION_RESULT",
    "ShardFormat",
    "fingerprint",
    "info_digest",
    "is_build_file",
    "manifest_file",
    "manifest_files",
    "shard_file",
    "shard_index",
    "staged_records_file",
]

SCHEMA_VERSION = 3
"""The layout's version, in ``dataset_info.json``. 2: shard names without the shard count,
fingerprints of every input in the manifests and ``rejected.parquet`` (what a build on a base
version matches). 3: one manifest file per shard (``manifest/<split>/<index>.parquet``) instead
of one per split. A build refuses a base of an older layout; readers still read a layout-2
version's single manifest file (:func:`manifest_files`)."""

INFO_FILE = "dataset_info.json"
STATS_FILE = "stats.json"
CARD_FILE = "CARD.md"
REPORT_FILE = "report.html"
REJECTED_FILE = "rejected.parquet"
MANIFEST_DIR = "manifest"
DATA_DIR = "data"
STAGING_DIR = ".staging"
PROGRESS_DIR = f"{STAGING_DIR}/progress"
VALIDATION_DIR = "validation"
VALIDATION_RESULT = f"{VALIDATION_DIR}/result.json"
VALIDATION_DOCS = f"{VALIDATION_DIR}/docs"
VALIDATION_DOCS_INDEX = f"{VALIDATION_DOCS}/index.html"


class ShardFormat(str, enum.Enum):
    """A shard file format; its value is also the shard's file extension."""

    TFRECORD = "tfrecord"  # TFRecord framing of serialized tf.train.Example
    ARRAY_RECORD = "array_record"  # the same records in ArrayRecord, one per group


def shard_file(dataset: str, split: str, fmt: ShardFormat, index: int) -> str:
    """``data/<split>/<dataset>-<split>.<ext>-00003``: the shard's index, not the count."""
    return f"{DATA_DIR}/{split}/{dataset}-{split}.{fmt.value}-{index:05d}"


def shard_index(path: str) -> int:
    """The index in a shard's name (:func:`shard_file`)."""
    return int(path.rsplit("-", 1)[1])


def manifest_file(split: str, index: int) -> str:
    """``manifest/<split>/00003.parquet``: one row per example of shard ``index`` of the split,
    in position order."""
    return f"{MANIFEST_DIR}/{split}/{index:05d}.parquet"


def manifest_files(info: Mapping[str, Any], split: str) -> list[str]:
    """The manifest files of ``split`` in shard order, as ``dataset_info.json`` (``info``) lists
    them; for a version of layout 2, its one ``manifest/<split>.parquet``.

    >>> manifest_files({"splits": {"a": {"manifest": [{"path": "manifest/a/00000.parquet"}]}},
    ...                 "files": {}}, "a")
    ['manifest/a/00000.parquet']
    >>> manifest_files({"splits": {"a": {}}, "files": {"manifest/a.parquet": {}}}, "a")
    ['manifest/a.parquet']
    """
    entry = info["splits"][split]
    if "manifest" in entry:
        return [str(m["path"]) for m in entry["manifest"]]
    legacy = f"{MANIFEST_DIR}/{split}.parquet"  # layout 2
    return [legacy] if legacy in info.get("files", {}) else []


def staged_records_file(token: str) -> str:
    """A file of serialized Examples staged by one bundle of the build (``token``: unique)."""
    return f"{STAGING_DIR}/{token}.records"


_BUILD_FILE = re.compile(
    rf"({re.escape(INFO_FILE)}|{re.escape(STATS_FILE)}|{re.escape(CARD_FILE)}"
    rf"|{re.escape(REJECTED_FILE)}|{re.escape(REPORT_FILE)}|{MANIFEST_DIR}/[^/]+/\d{{5}}\.parquet"
    rf"|{MANIFEST_DIR}/[^/]+\.parquet"  # layout 2's one manifest per split
    # shard names: layout 2 (an index) and layout 1 (index-of-count), so an older build is
    # recognised as a build too
    rf"|{DATA_DIR}/[^/]+/[^/]+\.({'|'.join(f.value for f in ShardFormat)})-\d{{5}}(-of-\d{{5}})?"
    rf"|{VALIDATION_DIR}/.+|{re.escape(STAGING_DIR)}/.+)"
    r"(\.tmp-[0-9a-f]{12})?"  # a temporary sibling left by a killed write
)


def is_build_file(rel: str) -> bool:
    """Whether the relative path ``rel`` is one a build (or ``curate validate``) writes: what
    may be deleted from an output directory, and nothing else.

    >>> [is_build_file(p) for p in ("dataset_info.json", "manifest/train.parquet",
    ...  "data/train/asr-train.tfrecord-00003", "data/train/asr-train.tfrecord-00000-of-00004",
    ...  ".staging/ab.records", "report.html", "stats.json.tmp-0123456789ab", "notes.txt",
    ...  "data/train/x.flac", "manifest/a/b.parquet", "manifest/train/00003.parquet")]
    [True, True, True, True, True, True, True, False, False, False, True]
    """
    return _BUILD_FILE.fullmatch(rel) is not None


def fingerprint(files: Mapping[str, Mapping[str, Any]]) -> str:
    """The build fingerprint: sha256 over each listed file's path and sha256, in path order
    (``files``: path -> at least ``{"sha256": …}``, as in ``dataset_info.json``). Equal
    fingerprints mean equal builds."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(f"{path}\t{files[path]['sha256']}\n".encode())
    return h.hexdigest()


def info_digest(info: Mapping[str, Any]) -> str:
    """sha256 of ``dataset_info.json``'s content (canonical JSON: sorted keys, no whitespace),
    which a validation result records: counts, splits or the file list edited after
    ``curate validate`` no longer match it. (The file holds nothing volatile, no timestamp and
    no host name: a build is deterministic, so the digest covers all of it.)"""
    data = json.dumps(info, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return hashlib.sha256(data.encode()).hexdigest()
