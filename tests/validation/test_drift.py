"""Drift: JS distance on the fixed bins of ``curate.stats.BINS``, and count / hours changes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curate.models.records import MODEL_SIGNAL_FIELDS
from curate.stats import BINS
from curate.validation.drift import DriftThresholds, js_distance
from curate.validation.suites import load_suite
from curate.validation.validate import open_baseline, validate_build
from tests.validation.build_fixture import FixtureSpec


def test_js_distance_bounds_and_symmetry():
    rng = np.random.default_rng(0)
    p, q = rng.integers(0, 20, size=12), rng.integers(0, 20, size=12)
    assert js_distance(p, p) == 0.0
    assert js_distance(p, q) == js_distance(q, p)
    assert 0 < js_distance(p, q) < 1
    assert js_distance([3, 0, 0], [0, 0, 7]) == 1.0
    assert js_distance([0, 0], [0, 0]) == 0.0 and js_distance([0, 0], [1, 0]) == 1.0
    assert js_distance([2, 4], [1, 2]) == 0.0  # only the shape counts, not the size
    with pytest.raises(ValueError, match="different bins"):
        js_distance([1, 2], [1, 2, 3])


def test_identical_rebuild_passes_with_every_distance_zero(make_build):
    before, again = make_build("v1"), make_build("v1-rebuilt")
    result = validate_build(again, baseline=open_baseline(before), write=False)
    drift = result.drift
    assert result.success and drift["success"] and drift["failures"] == []
    # every distance of a signal the builds have is reported (no model signals in these)
    assert set(drift["signals"]) == {s for s in BINS if s not in MODEL_SIGNAL_FIELDS}
    assert all(v["distance"] == 0.0 for v in drift["signals"].values())
    for split in ("train", "validation", "test"):
        s = drift["splits"][split]
        assert s["examples"]["change"] == 0.0 and s["hours"]["change"] == 0.0
        assert set(s["distances"].values()) == {0.0}
    info = json.load(open(f"{before}/dataset_info.json"))
    assert drift["against_fingerprint"] == info["fingerprint"]


def test_shifted_durations_fail_drift_on_duration(make_build):
    before = make_build("v1")
    shifted = make_build("v2", spec=FixtureSpec(duration_scale=1.8))
    result = validate_build(shifted, baseline=open_baseline(before), write=False)
    assert result.failed == 0  # the suite itself passes: only the distribution moved
    assert not result.success and not result.drift["success"]
    duration = result.drift["signals"]["duration_s"]
    assert duration["distance"] > duration["max"] == 0.3
    assert not duration["success"]
    assert any(line.startswith("duration_s: JS distance") for line in result.drift["failures"])
    assert result.drift["signals"]["clipping_ratio"]["distance"] == 0.0


def test_a_split_that_shrinks_fails_drift(make_build):
    before = make_build("v1")
    spec = FixtureSpec(examples={"train": 80, "validation": 12, "test": 5})
    smaller = make_build("v2", spec=spec)
    drift = validate_build(smaller, baseline=open_baseline(before), write=False).drift
    assert not drift["splits"]["test"]["success"]
    assert drift["splits"]["test"]["examples"] == {"current": 5, "previous": 12,
                                                   "change": pytest.approx(-7 / 12)}
    assert any(line.startswith("split test: examples fell by 58.3%") for line in drift["failures"])
    assert drift["splits"]["train"]["success"]


def test_growth_is_unlimited_by_default_and_new_splits_are_reported(make_build):
    before = make_build("v1", spec=FixtureSpec(examples={"train": 80, "test": 12},
                                               speakers={"train": 8, "test": 2}))
    spec = FixtureSpec(examples={"train": 160, "validation": 12, "test": 12})
    bigger = make_build("v2", spec=spec)
    drift = validate_build(bigger, baseline=open_baseline(before), write=False).drift
    new_split = drift["splits"]["validation"]["examples"]
    assert new_split == {"current": 12, "previous": 0, "change": None}
    assert drift["splits"]["train"]["examples"]["change"] == 1.0
    assert not any(line.startswith("split") for line in drift["failures"])


def test_thresholds_come_from_the_suite(tmp_path: Path, make_build):
    before = make_build("v1")
    shifted = make_build("v2", spec=FixtureSpec(duration_scale=1.8))
    default = json.load(open(load_suite("asr_default").path))
    default["meta"]["curate"]["drift"] = {"max_distance": 1.0, "signals": {}}
    relaxed = tmp_path / "relaxed.json"
    relaxed.write_text(json.dumps(default))
    result = validate_build(shifted, suite=str(relaxed), baseline=open_baseline(before),
                            write=False)
    assert result.success
    assert result.drift["thresholds"]["signals"]["duration_s"] == 1.0
    assert result.drift["thresholds"]["max_examples_drop"] == 0.5  # a default kept


def test_threshold_defaults_and_overrides():
    t = DriftThresholds()
    assert t.limit("duration_s") == 0.3 and t.limit("snr_db") == 0.3
    strict = DriftThresholds.from_dict(load_suite("asr_strict").drift_config)
    assert strict.limit("duration_s") == 0.1 and strict.max_hours_drop == 0.1
