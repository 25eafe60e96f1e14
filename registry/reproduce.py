"""``curate reproduce NAME@vN``: rebuild a version from its own record and compare the bytes.

A version's ``dataset_info.json`` holds the resolved config (absolute source paths) and the
versions of every library its bytes depend on (``dependencies``, see
:mod:`curate.provenance`). Reproducing rebuilds that config (its sources moved under
``--sources-root`` when they are no longer where they were) into a temporary directory and
compares every file the version lists, by sha256. A version built on a base (``--base``) is
rebuilt on that base, opened in the same registry at its recorded commit, and a compacted one
is compacted again from the version it compacted (with its recorded target), so their kept
shards compare too. Identical: exit 0. Otherwise exit 1 with the
files that differ and the recorded versus installed versions of the libraries that differ.
The manifests and ``rejected.parquet`` name the source files, so with ``--sources-root`` they
are compared with the old root replaced by the new one in every text value (the fingerprint,
over their bytes, then differs by construction).

>>> config = {"sources": [{"kind": "jsonl", "path": "/old/c/m.jsonl", "audio_root": "/old/c/a"},
...                       {"kind": "librispeech", "path": "/old/ls"}]}
>>> sources_root(config)
'/old'
>>> remap_sources(config, "/old", "/new")["sources"]
[{'kind': 'jsonl', 'path': '/new/c/m.jsonl', 'audio_root': '/new/c/a'}, \
{'kind': 'librispeech', 'path': '/new/ls'}]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FileDifference",
    "Reproduction",
    "compare_files",
    "open_base",
    "remap_sources",
    "reproduce",
    "sources_root",
]

_PATH_FIELDS = ("path", "audio_root")


@dataclass(frozen=True, kw_only=True, slots=True)
class FileDifference:
    path: str
    recorded: str | None  # sha256 in the version; None: the rebuild wrote a file it lacks
    rebuilt: str | None  # sha256 of the rebuild; None: the rebuild did not write it

    def describe(self) -> str:
        if self.rebuilt is None:
            return f"{self.path}: not written by the rebuild"
        if self.recorded is None:
            return f"{self.path}: written by the rebuild, not in the version"
        return f"{self.path}: sha256 {self.recorded[:12]} recorded, {self.rebuilt[:12]} rebuilt"


@dataclass(frozen=True, kw_only=True, slots=True)
class Reproduction:
    ref: str
    commit_id: str
    fingerprint: str  # the version's
    rebuilt_fingerprint: str
    differences: tuple[FileDifference, ...]
    dependencies: tuple[tuple[str, str, str], ...] = field(default=())  # (name, recorded, now)
    moved: tuple[str, ...] = ()  # tables equal once the moved sources' paths are mapped

    @property
    def identical(self) -> bool:
        return not self.differences and (bool(self.moved)
                                         or self.fingerprint == self.rebuilt_fingerprint)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit_id": self.commit_id,
            "identical": self.identical,
            "fingerprint": self.fingerprint,
            "rebuilt_fingerprint": self.rebuilt_fingerprint,
            "files_differ": [d.path for d in self.differences],
            "files_equal_after_moving_sources": list(self.moved),
            "dependencies_differ": [
                {"name": n, "recorded": r, "installed": i} for n, r, i in self.dependencies
            ],
        }

    def lines(self) -> list[str]:
        if self.identical and self.moved:
            return [f"{self.ref} ({self.commit_id[:12]}): reproduced, every file identical but "
                    f"for the sources' new place in {', '.join(self.moved)} (their paths mapped)"]
        if self.identical:
            return [f"{self.ref} ({self.commit_id[:12]}): reproduced, every file identical "
                    f"(fingerprint {self.fingerprint[:12]})"]
        out = [f"{self.ref} ({self.commit_id[:12]}): NOT reproduced: {len(self.differences)} "
               f"file(s) differ (fingerprint {self.fingerprint[:12]} recorded, "
               f"{self.rebuilt_fingerprint[:12]} rebuilt)"]
        out += [f"  {d.describe()}" for d in self.differences]
        if self.dependencies:
            out.append("  libraries whose version differs (recorded -> installed):")
            out += [f"    {n}: {r} -> {i}" for n, r, i in self.dependencies]
        else:
            out.append("  every recorded library version equals the installed one")
        return out


def compare_files(
    recorded: Mapping[str, Mapping[str, Any]], rebuilt: Mapping[str, Mapping[str, Any]]
) -> list[FileDifference]:
    """Every path whose sha256 differs between two ``files`` maps of ``dataset_info.json``
    (or is in one only), sorted by path."""
    out = []
    for path in sorted(set(recorded) | set(rebuilt)):
        a, b = recorded.get(path), rebuilt.get(path)
        sa, sb = (a or {}).get("sha256"), (b or {}).get("sha256")
        if sa != sb:
            out.append(FileDifference(path=path, recorded=sa, rebuilt=sb))
    return out


_FILE_KINDS = frozenset({"jsonl", "tsv"})  # their path is a file; the others' a directory


def sources_root(config: Mapping[str, Any]) -> str | None:
    """The deepest directory holding every local source of a resolved config (a manifest
    counts as its directory), or None when every source is a URI."""
    dirs = []
    for src in config.get("sources", ()):
        for f in _PATH_FIELDS:
            value = src.get(f)
            if value and "://" not in value:
                is_file = f == "path" and src.get("kind") in _FILE_KINDS
                dirs.append(os.path.dirname(value) if is_file else value)
    return os.path.commonpath(dirs) if dirs else None


def remap_sources(config: Mapping[str, Any], old_root: str, new_root: str) -> dict[str, Any]:
    """``config`` with every local source path moved from ``old_root`` to ``new_root`` (each
    keeps its place relative to it; URIs are left as they are)."""
    out = dict(config)
    sources = []
    for src in config.get("sources", ()):
        moved = dict(src)
        for f in _PATH_FIELDS:
            value = src.get(f)
            if value and "://" not in value:
                rel = os.path.relpath(value, old_root)
                moved[f] = os.path.normpath(os.path.join(new_root, rel))
        sources.append(moved)
    out["sources"] = sources
    return out


def reproduce(
    registry: Any,  # registry.api.Registry
    ref: str,
    *,
    new_root: str | None = None,
    workdir: str | None = None,
    say: Any = lambda s: None,
) -> Reproduction:
    """Rebuild the version ``ref`` of ``registry`` from its recorded config (its sources moved
    from their :func:`sources_root` to ``new_root`` when given) and compare every file."""
    import tempfile

    from curate.compact import COMPACTION, compact
    from curate.config import parse_config
    from curate.errors import UsageError
    from curate.launch import run_config
    from curate.provenance import byte_dependencies, dependency_differences

    version = registry.open(ref)
    info = version.info
    recorded = info.get("config")
    if not isinstance(recorded, Mapping):
        raise UsageError(f"{version.ref}: dataset_info.json records no config to rebuild from")
    old_root = sources_root(recorded)
    if new_root is not None:
        if old_root is None:
            raise UsageError(f"{version.ref}: every source is a URI; --sources-root does not apply")
        recorded = remap_sources(recorded, old_root, os.path.abspath(new_root))
    try:
        config = parse_config(dict(recorded), origin=f"{version.ref}: recorded config")
    except UsageError as e:
        raise UsageError(str(e)) from None
    base_record = info.get("base") or None
    base = None if base_record is None else open_base(registry, version.ref, base_record)
    compacted = base_record is not None and base_record.get("mode") == COMPACTION
    for i, src in enumerate(() if compacted else config.sources):
        if "://" not in src.path and not os.path.exists(src.path):
            hint = (f"; they were under {old_root}: give --sources-root where that directory is "
                    "now" if new_root is None and old_root else "")
            raise UsageError(f"{version.ref}: sources[{i}].path not found: {src.path}{hint}")
    with tempfile.TemporaryDirectory(prefix="curate-reproduce-", dir=workdir) as tmp:
        out = os.path.join(tmp, "build")
        on = "" if base is None else f" on {base.ref} ({base.commit_id[:12]})"
        say(f"{'compacting' if compacted else 'rebuilding'} {version.ref} "
            f"({version.commit_id[:12]}){on} into {out}")
        if compacted:
            rebuilt = compact(base, out, say=say, report=False,
                              target_size_mb=float(info["compaction"]["target_size_mb"])) or {}
        else:
            rebuilt = run_config(config, out, base=base, say=say, report=False)
        differences = compare_files(info.get("files", {}), rebuilt.get("files", {}))
        moved: list[str] = []
        if new_root is not None and old_root is not None:
            for d in list(differences):
                if d.path.endswith(".parquet") and d.recorded and d.rebuilt and _same_but_moved(
                        version.cache.fetch(d.path, sha256=d.recorded), os.path.join(out, d.path),
                        old_root, os.path.abspath(new_root)):
                    differences.remove(d)
                    moved.append(d.path)
    return Reproduction(
        ref=version.ref,
        commit_id=version.commit_id,
        fingerprint=str(info.get("fingerprint", "")),
        rebuilt_fingerprint=str(rebuilt.get("fingerprint", "")),
        differences=tuple(differences),
        moved=tuple(moved),
        dependencies=tuple(dependency_differences(info.get("dependencies", {}),
                                                  byte_dependencies())),
    )


def open_base(registry: Any, ref: str, base: Mapping[str, Any]) -> Any:
    """The version a build or compaction recorded as its ``base`` (``dataset_info.json``),
    opened in ``registry`` at the recorded commit: by its recorded ref when that still names
    the commit, else by the commit id. UsageError when this registry does not hold it."""
    from curate.errors import UsageError

    from registry.errors import NotFoundError

    name = ref.split("@", 1)[0]
    commit_id = str(base["commit_id"])
    for candidate in (str(base["ref"]), f"{name}@{commit_id}"):
        try:
            opened = registry.open(candidate)
        except NotFoundError:
            continue
        if opened.commit_id == commit_id:
            return opened
    where = f" (it was read from {base['registry']})" if base.get("registry") else ""
    raise UsageError(f"{ref}: its base {base['ref']} (commit {commit_id[:12]}) is not in this "
                     f"registry{where}; give --registry where it is")


def _same_but_moved(recorded: str, rebuilt: str, old_root: str, new_root: str) -> bool:
    """Whether two Parquet tables (a manifest, ``rejected.parquet``: they name the source
    files) are equal once ``old_root`` is replaced by ``new_root`` in every text value."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from curate.fsio import open_read

    with open_read(recorded) as f:
        before = pq.read_table(f)
    after = pq.read_table(rebuilt)
    if before.schema != after.schema or before.num_rows != after.num_rows:
        return False
    columns = [pc.replace_substring(col, old_root, new_root)
               if pa.types.is_string(col.type) else col for col in before.columns]
    return pa.Table.from_arrays(columns, schema=before.schema).equals(after)
