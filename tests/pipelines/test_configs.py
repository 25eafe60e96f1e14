"""The example configs shipped in pipelines/configs/ stay valid."""

from __future__ import annotations

import glob
import os

import pytest

from curate.config import SourceKind, load_config

CONFIGS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "pipelines", "configs", "*.yaml")))


def test_one_example_config_per_source_kind():
    kinds = {load_config(p, check_paths=False).sources[0].kind for p in CONFIGS}
    assert kinds == set(SourceKind)


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_example_config_points_at_the_demo_corpus(path):
    cfg = load_config(path, check_paths=False)
    assert os.sep + os.path.join("demo", "corpus") in cfg.sources[0].path
