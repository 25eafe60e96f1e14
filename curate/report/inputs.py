"""What a report reads: a build directory (local or in a bucket) or a registered version.

Both give ``dataset_info.json``, ``stats.json``, ``rejected.parquet``, the manifests and the
shards through one small interface, :class:`ReportInput`. A registered version comes from a
:data:`VersionOpener` the caller gives (the command line's reads the registry's commit-keyed
cache, each file checked against its sha256 when fetched).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from curate.layout import STATS_FILE, VALIDATION_DOCS_INDEX, VALIDATION_RESULT
from curate.validation.errors import BuildReadError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ReportInput", "VersionOpener", "open_input"]


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
        result = self.json(VALIDATION_RESULT)
        return result if isinstance(result, dict) else None

    def docs_link(self) -> str | None:
        """The Data Docs index, relative to the build directory, if it has one."""
        if self.root is None or self.read(VALIDATION_DOCS_INDEX) is None:
            return None
        return VALIDATION_DOCS_INDEX


VersionOpener = Callable[[str], ReportInput]
"""``NAME@VERSION`` -> that version's files (``curate.report.cli`` makes one over a registry)."""


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


def open_input(spec: str, *, versions: VersionOpener | None = None) -> ReportInput:
    """``spec`` is a build directory (a path or a URI such as ``s3://bucket/builds/b1``) or a
    registered version ``NAME@VERSION``, opened by ``versions`` (this package does not know
    the registry: the command line hands it the opener)."""
    from curate.errors import UsageError
    from curate.fsio import is_local

    if os.path.isdir(spec) or not is_local(spec):
        return _open_dir(spec)
    if "@" not in spec:
        raise UsageError(f"{spec}: neither a build directory nor a NAME@VERSION reference")
    if versions is None:
        raise UsageError(f"{spec}: a registered version, and no registry to open it from")
    return versions(spec)

