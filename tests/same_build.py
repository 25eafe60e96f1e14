"""One check for "the same build": what every runner, worker count and engine must give."""

from __future__ import annotations

import json
import os
from typing import Any

from curate.layout import STAGING_DIR

__all__ = ["assert_same_build"]


def assert_same_build(expected_dir: str, expected: dict[str, Any], out: str) -> dict[str, Any]:
    """``out`` holds the build of ``expected_dir`` (whose ``dataset_info.json`` is ``expected``)
    byte for byte: the same fingerprint, the same files, each with the same bytes, and no
    staging left behind. Returns ``out``'s ``dataset_info.json``."""
    with open(os.path.join(out, "dataset_info.json")) as f:
        info = json.load(f)
    assert info["fingerprint"] == expected["fingerprint"]
    assert info["files"] == expected["files"]
    for rel in expected["files"]:
        with open(os.path.join(expected_dir, rel), "rb") as a, open(os.path.join(out, rel), "rb") as b:
            assert a.read() == b.read(), rel
    assert not os.path.exists(os.path.join(out, STAGING_DIR))
    return info
