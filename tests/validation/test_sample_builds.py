"""The real pipeline's builds of the sample corpus (``curate demo``'s: 120 utterances and the
known bad inputs): a good build, the demo's own, passes ``asr_default``; one built with its
clipping and silence filters loosened lets the sample's clipped and silent inputs in, and fails
the suite naming those two expectations. (60 utterances can leave a split without a speaker,
which the suite rightly fails.)"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from curate.validation.validate import open_baseline, validate_build

_LOOSENED = {"max_clipping_ratio": 1.0, "max_silence_ratio": 1.0}


@pytest.fixture(scope="module")
def sample_builds(demo_run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The demo's build of its corpus (``demo_run``: ``curate demo``, once for the session; a
    copy here, so that validating it again leaves the demo's own alone) and a build of that
    corpus with the filters loosened."""
    from curate.launch import run_build

    assert demo_run.proc.returncode == 0, demo_run.proc.stderr[-3000:]  # tests/test_demo.py
    root = tmp_path_factory.mktemp("samples")
    with open(demo_run.config, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    here = os.path.dirname(demo_run.config)
    config["sources"] = [{**s, "path": os.path.normpath(os.path.join(here, s["path"]))}
                         for s in config["sources"]]
    config.setdefault("filters", {}).update(_LOOSENED)
    loosened = str(root / "loosened.yaml")
    with open(loosened, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f)
    builds = {"good": str(root / "good"), "loosened": str(root / "loosened")}
    shutil.copytree(demo_run.build, builds["good"])
    run_build(loosened, builds["loosened"], say=lambda _: None)
    yield builds


def test_sample_build_passes_asr_default(sample_builds):
    result = validate_build(sample_builds["good"])
    assert result.failed_expectations == () and result.success
    assert Path(sample_builds["good"], "validation", "docs", "index.html").is_file()


def test_loosened_filters_let_clipped_and_silent_audio_in_and_fail(sample_builds):
    result = validate_build(sample_builds["loosened"])
    failed = {(f["table"], f["column"]): f for f in result.failed_expectations}
    assert set(failed) == {("examples", "clipping_ratio"), ("examples", "silence_ratio")}
    (clipped,) = failed[("examples", "clipping_ratio")]["observed"]["rows"]
    (silent,) = failed[("examples", "silence_ratio")]["observed"]["rows"]
    assert clipped["key"] == "9999-99999-0004" and clipped["clipping_ratio"] > 0.2
    assert silent["key"] == "9999-99999-0003" and silent["silence_ratio"] == 1.0


def test_identical_rebuild_of_the_sample_has_zero_drift(sample_builds):
    result = validate_build(sample_builds["good"], baseline=open_baseline(sample_builds["good"]),
                            write=False)
    assert result.success
    assert {v["distance"] for v in result.drift["signals"].values()} == {0.0}
