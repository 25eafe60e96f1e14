"""The examples in the build directory's and the carry-over's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

_MODULES = ("curate.layout", "curate.inputs", "curate.settings")


@pytest.mark.parametrize("name", _MODULES)
def test_docstring_examples_run(name: str):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
