"""The layout of a build directory: every relative path in it, the shard formats and names, and
the build fingerprint. The one module that knows them; everything that writes or reads a build
(the pipeline, validation, the registry, the test fixtures) asks here.

::

    dataset_info.json                    INFO_FILE: written last; a build is complete with it
    data/<split>/<name>-<split>.<format>-<index>-of-<count>     shard_file()
    manifest/<split>.parquet             manifest_file()
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

>>> shard_file("asr", "train", ShardFormat.TFRECORD, 3, 10)
'data/train/asr-train.tfrecord-00003-of-00010'
>>> manifest_file("test")
'manifest/test.parquet'
"""

from __future__ import annotations

import enum
import hashlib
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
    "STATS_FILE",
    "VALIDATION_DIR",
    "VALIDATION_DOCS",
    "VALIDATION_DOCS_INDEX",
    "VALIDATION_RESULT",
    "ShardFormat",
    "fingerprint",
    "manifest_file",
    "manifest_part_file",
    "shard_file",
    "staged_records_file",
]

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


def shard_file(dataset: str, split: str, fmt: ShardFormat, index: int, count: int) -> str:
    """``data/<split>/<dataset>-<split>.<ext>-00003-of-00010``, TFDS style."""
    return f"{DATA_DIR}/{split}/{dataset}-{split}.{fmt.value}-{index:05d}-of-{count:05d}"


def manifest_file(split: str) -> str:
    """``manifest/<split>.parquet``: one row per example of the split, in shard order."""
    return f"{MANIFEST_DIR}/{split}.parquet"


def staged_records_file(token: str) -> str:
    """A file of serialized Examples staged by one bundle of the build (``token``: unique)."""
    return f"{STAGING_DIR}/{token}.records"


def manifest_part_file(split: str, index: int) -> str:
    """The staged manifest rows of one shard, merged into :func:`manifest_file` at the end."""
    return f"{STAGING_DIR}/{MANIFEST_DIR}/{split}-{index:05d}.parquet"


def fingerprint(files: Mapping[str, Mapping[str, Any]]) -> str:
    """The build fingerprint: sha256 over each listed file's path and sha256, in path order
    (``files``: path -> at least ``{"sha256": …}``, as in ``dataset_info.json``). Equal
    fingerprints mean equal builds."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(f"{path}\t{files[path]['sha256']}\n".encode())
    return h.hexdigest()
