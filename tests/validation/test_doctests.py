"""The examples in the validation modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

_MODULES = ("expectations", "curate.validation.suites", "curate.validation.drift",
            "tests.validation.build_fixture")


@pytest.mark.parametrize("name", _MODULES)
def test_docstring_examples_run(name: str):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
