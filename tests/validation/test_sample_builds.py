"""The real pipeline's builds of a 200-utterance sample corpus: a good build passes
``asr_default``; one built with its clipping and silence filters loosened lets the sample's
clipped and silent inputs in, and fails the suite naming those two expectations. (60 utterances
can leave a split without a speaker, which the suite rightly fails.)"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from curate.validation.validate import open_baseline, validate_build

_LOOSENED = """
filters:
  max_clipping_ratio: 1.0
  max_silence_ratio: 1.0
"""


@pytest.fixture(scope="module")
def sample_builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from curate.launch import run_build
    from curate.samples import make_corpus

    root = tmp_path_factory.mktemp("samples")
    corpus = make_corpus(str(root / "corpus"), utterances=200, seed=0, with_bad_inputs=True)
    config = str(corpus.configs[next(k for k in corpus.configs if k.value == "librispeech")])
    loosened = os.path.join(os.path.dirname(config), "loosened.yaml")
    with open(config, encoding="utf-8") as src, open(loosened, "w", encoding="utf-8") as dst:
        dst.write(src.read() + _LOOSENED)
    quiet = lambda _: None  # noqa: E731
    builds = {"good": str(root / "good"), "loosened": str(root / "loosened")}
    run_build(config, builds["good"], say=quiet)
    run_build(loosened, builds["loosened"], say=quiet)
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
