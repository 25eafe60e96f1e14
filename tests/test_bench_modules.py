"""Every benchmark module imports, and the results writer they share writes what it is given.
The bench smoke tests run ``python -m bench``; the standalone benchmarks (``bench.compaction``,
``bench.fresh_ab``, ``bench.incremental_ab``…) run only by hand, so a helper renamed or
removed elsewhere in ``bench/`` would break them unseen (``bench.compaction`` once imported
two functions ``bench.incremental`` no longer had)."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest

import bench
from bench.machine import write_json

MODULES = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name != "__main__")


def test_the_standalone_benchmarks_are_found():
    assert {"compaction", "fresh_ab", "incremental", "incremental_ab", "training_loaders"} <= set(
        MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_the_module_imports(name):
    assert importlib.import_module(f"bench.{name}").__name__ == f"bench.{name}"


def test_write_json_writes_sorted_indented_json_with_a_final_newline(tmp_path):
    out = tmp_path / "r.json"
    write_json(str(out), {"b": [1, 2], "a": {"y": 1.5, "x": None}})
    text = out.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": {"x": None, "y": 1.5}, "b": [1, 2]}
