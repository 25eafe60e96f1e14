"""Great Expectations suites that define a healthy ASR dataset, shipped as package data.

Each ``<name>.json`` is a GX 1.x expectation suite. ``curate.validation.suites`` explains the
``meta.table`` each expectation names and the drift thresholds in the suite's ``meta.curate``.

>>> suite_path("asr_default").endswith("asr_default.json")
True
"""

from __future__ import annotations

from importlib import resources

__all__ = ["suite_names", "suite_path"]


def suite_names() -> list[str]:
    """Names of the shipped suites, sorted: ``['asr_default', 'asr_strict']``."""
    return sorted(
        entry.name.removesuffix(".json")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".json")
    )


def suite_path(name: str) -> str:
    """Filesystem path of the shipped suite ``name``; ``KeyError`` naming the known ones if none."""
    entry = resources.files(__name__) / f"{name}.json"
    if not name.replace("_", "").replace("-", "").isalnum() or not entry.is_file():
        raise KeyError(f"no shipped suite named {name!r} (shipped: {', '.join(suite_names())})")
    return str(entry)
