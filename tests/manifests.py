"""A local build's split manifest as the library reads it (its per-shard files in shard order,
:func:`curate.build_info.read_manifest`), for tests that check a build's rows."""

from __future__ import annotations

import json
import os
from typing import Any

from curate.build_info import read_manifest
from curate.layout import INFO_FILE

__all__ = ["split_manifest"]


def split_manifest(build_dir: str, split: str, info: dict[str, Any] | None = None,
                   **options: Any) -> Any:
    """The manifest of ``split`` of the build in ``build_dir`` (``info``: its
    ``dataset_info.json``, read when not given); ``options`` (``columns=…``) go to the reader."""
    if info is None:
        with open(os.path.join(build_dir, INFO_FILE), encoding="utf-8") as f:
            info = json.load(f)
    return read_manifest(info, split, lambda rel: os.path.join(build_dir, rel), **options)
