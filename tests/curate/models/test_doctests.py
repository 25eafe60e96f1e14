"""The examples in the model layer's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

_MODULES = ("curate.models.records", "curate.models.textnorm", "curate.models.wer",
            "curate.models.filters", "curate.models.pinned", "curate.fingerprint",
            "curate.bandwidth", "curate.near_duplicates")


@pytest.mark.parametrize("name", _MODULES)
def test_docstring_examples_run(name: str):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
