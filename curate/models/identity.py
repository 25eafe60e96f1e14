"""Model identity: the distribution's version and a sha256 over the model files' bytes."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from collections.abc import Iterable

from curate.models.records import ModelInfo

__all__ = ["distribution_version", "files_sha256", "model_info"]


def distribution_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``"unknown"`` when it has no metadata
    (a model plugged in from a source tree)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def files_sha256(paths: Iterable[str]) -> str:
    """sha256 over ``(basename, size, bytes)`` of each file, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{os.path.basename(path)}\0{os.path.getsize(path)}\0".encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def model_info(name: str, files: Iterable[str], *, detail: str = "", dist: str | None = None,
               version: str | None = None) -> ModelInfo:
    """A :class:`ModelInfo` for ``files`` (hashed in sorted order, recorded by base name only,
    so the identity does not depend on where the model is installed), versioned by
    distribution ``dist`` (default ``name``) unless ``version`` is given."""
    ordered = tuple(sorted(files))
    return ModelInfo(
        name=name,
        version=version if version is not None else distribution_version(dist or name),
        files=tuple(os.path.basename(f) for f in ordered),
        sha256=files_sha256(ordered),
        detail=detail,
    )
