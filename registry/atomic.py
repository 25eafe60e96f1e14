"""Crash-safe local files: a write is either complete and durable or not visible at all.

A file is written to a temporary name in its own directory, fsynced, renamed over the final
name, and the directory is fsynced, so after a crash a reader sees the old file or the new one.
Temporary names start with ``.tmp-`` so listings can skip them.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

__all__ = ["canonical_json", "ensure_dir", "fsync_dir", "read_json", "temp_sibling", "write_atomic"]


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: equal values give equal bytes (and hashes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """``mkdir -p`` that makes a new directory's entry durable too."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        fsync_dir(path.parent)


def temp_sibling(path: Path) -> Path:
    """A unique temporary name next to ``path`` (same filesystem, so renames are atomic)."""
    return path.parent / f".tmp-{path.name[:40]}-{secrets.token_hex(6)}"


def write_atomic(path: Path, data: bytes) -> None:
    ensure_dir(path.parent)
    tmp = temp_sibling(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())
