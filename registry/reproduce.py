"""``curate reproduce NAME@vN``: rebuild a version from its own record and compare the bytes.

A version's ``dataset_info.json`` holds the resolved config (absolute source paths) and the
versions of every library its bytes depend on (``dependencies``, see
:mod:`curate.provenance`). Reproducing rebuilds that config (its sources moved under
``--sources-root`` when they are no longer where they were) into a temporary directory and
compares every file the version lists, by sha256. Identical: exit 0. Otherwise exit 1 with the
files that differ and the recorded versus installed versions of the libraries that differ.

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

__all__ = ["FileDifference", "Reproduction", "compare_files", "remap_sources", "sources_root"]

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

    @property
    def identical(self) -> bool:
        return not self.differences and self.fingerprint == self.rebuilt_fingerprint

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit_id": self.commit_id,
            "identical": self.identical,
            "fingerprint": self.fingerprint,
            "rebuilt_fingerprint": self.rebuilt_fingerprint,
            "files_differ": [d.path for d in self.differences],
            "dependencies_differ": [
                {"name": n, "recorded": r, "installed": i} for n, r, i in self.dependencies
            ],
        }

    def lines(self) -> list[str]:
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
                moved[f] = os.path.normpath(os.path.join(new_root, os.path.relpath(value, old_root)))
        sources.append(moved)
    out["sources"] = sources
    return out
