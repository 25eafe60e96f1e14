"""What a report reads: a build directory (local or in a bucket) or a registered version.

Both give ``dataset_info.json``, ``stats.json``, ``rejected.parquet``, the manifests and the
shards through one small interface, :class:`ReportInput`. A registered version is read through
the registry's commit-keyed cache, each file checked against its sha256 when fetched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from curate.validation.errors import BuildReadError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["REJECTED_FILE", "STATS_FILE", "ReportInput", "open_input"]

STATS_FILE = "stats.json"
REJECTED_FILE = "rejected.parquet"
_VALIDATION_RESULT = "validation/result.json"
_DOCS_INDEX = "validation/docs/index.html"


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportInput:
    """One build as a report reads it. ``root`` is the build directory (None for a registered
    version, whose files are in the registry); ``read`` returns a file's bytes or None when
    the build has no such file; ``open`` opens a file to read in parts (shards)."""

    label: str  # the path or NAME@vN, as shown
    info: Mapping[str, Any]
    root: str | None
    read: Callable[[str], bytes | None]
    open: Callable[[str], BinaryIO]

    @property
    def name(self) -> str:
        return str(self.info.get("name", "?"))

    def json(self, rel: str) -> Any | None:
        data = self.read(rel)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError as e:
            raise BuildReadError(f"{self.label}: {rel} is not valid JSON ({e})") from e

    def stats(self) -> dict[str, Any]:
        stats = self.json(STATS_FILE)
        if not isinstance(stats, dict) or not isinstance(stats.get("splits"), dict):
            raise BuildReadError(f"{self.label}: no readable {STATS_FILE}")
        return stats

    def table(self, rel: str) -> pa.Table | None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = self.read(rel)
        if data is None:
            return None
        try:
            return pq.read_table(pa.BufferReader(data))
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise BuildReadError(f"{self.label}: {rel} is not readable Parquet ({e})") from e

    def validation(self) -> dict[str, Any] | None:
        """``validation/result.json`` if the build was validated."""
        result = self.json(_VALIDATION_RESULT)
        return result if isinstance(result, dict) else None

    def docs_link(self) -> str | None:
        """The Data Docs index, relative to the build directory, if it has one."""
        return _DOCS_INDEX if self.root is not None and self.read(_DOCS_INDEX) is not None \
            else None  # fmt: skip


def _open_dir(root: str) -> ReportInput:
    from curate.fsio import open_read
    from curate.validation import storage
    from curate.validation.tables import BuildDir

    build = BuildDir.open(root)
    root = build.root
    label = os.path.abspath(root) if "://" not in root else root
    return ReportInput(
        label=label,
        info=build.info,
        root=root,
        read=lambda rel: storage.read_bytes(storage.join(root, rel)),
        open=lambda rel: open_read(storage.join(root, rel)),
    )


def _open_version(spec: str, registry: str | None) -> ReportInput:
    from curate.fsio import open_read
    from curate.validation.validate import registry_errors

    with registry_errors(spec):
        from registry.api import Registry

        version = Registry(registry).open(spec)
        info = version.info
    files = info.get("files", {})
    cached: dict[str, str | None] = {}

    def fetch(rel: str) -> str | None:
        """The cached copy of ``rel``, or None if the version has no such file."""
        if rel not in cached:
            try:
                with registry_errors(f"{version.ref}: {rel}"):
                    cached[rel] = version.cache.fetch(rel,
                                                      sha256=files.get(rel, {}).get("sha256"))
            except BuildReadError:  # the registry's NotFoundError
                cached[rel] = None
        return cached[rel]

    def read(rel: str) -> bytes | None:
        path = fetch(rel)
        if path is None:
            return None
        with open_read(path) as f:
            return f.read()

    def open_(rel: str) -> BinaryIO:
        path = fetch(rel)
        if path is None:
            raise BuildReadError(f"{version.ref}: has no file {rel}")
        return open_read(path)

    return ReportInput(label=version.ref, info=info, root=None, read=read, open=open_)


def open_input(spec: str, *, registry: str | None = None) -> ReportInput:
    """``spec`` is a build directory (a path or a URI such as ``s3://bucket/builds/b1``) or a
    registered version ``NAME@VERSION`` (in ``registry``; default ``$CURATE_REGISTRY``)."""
    from curate.errors import UsageError
    from curate.writers import is_local

    if os.path.isdir(spec) or not is_local(spec):
        return _open_dir(spec)
    if "@" not in spec:
        raise UsageError(f"{spec}: neither a build directory nor a NAME@VERSION reference")
    return _open_version(spec, registry)

