"""``validation/result.json``: written by a validation, read back, and what ``register`` checks."""

from __future__ import annotations

import json
import os

import pytest

from curate.layout import VALIDATION_RESULT
from curate.validation.result import (
    NotValidatedError,
    ValidationResult,
    read_result,
    require_passed,
)
from curate.validation.validate import open_baseline, validate_build
from tests.validation.build_fixture import FixtureSpec


def test_result_json_is_written_and_reads_back(make_build):
    build = make_build(spec=FixtureSpec(leak_speakers=1))
    result = validate_build(build)
    on_disk = json.load(open(os.path.join(build, VALIDATION_RESULT)))
    assert on_disk == result.to_dict()
    assert ValidationResult.from_dict(on_disk) == result
    assert {k: on_disk[k] for k in ("suite", "success", "evaluated", "successful", "failed")} == {
        "suite": "asr_default", "success": False, "evaluated": 14, "successful": 13, "failed": 1,
    }
    (failure,) = on_disk["failed_expectations"]
    assert {"expectation", "column", "observed"} <= set(failure)
    assert on_disk["fingerprint"] == json.load(open(f"{build}/dataset_info.json"))["fingerprint"]
    assert on_disk["docs"] == "validation/docs/index.html"
    assert os.path.isfile(os.path.join(build, on_disk["docs"]))


def test_require_passed_refuses_unvalidated_failed_and_stale_builds(make_build):
    build = make_build()
    with pytest.raises(NotValidatedError, match="never validated"):
        require_passed(build)
    assert read_result(build) is None
    validate_build(build)
    assert require_passed(build).success
    # The build changes after it was validated: the result no longer speaks for it.
    info = json.load(open(f"{build}/dataset_info.json"))
    with pytest.raises(NotValidatedError, match="validate it again"):
        require_passed(build, info={**info, "fingerprint": "0" * 64})
    bad = make_build("bad", spec=FixtureSpec(examples={"train": 80, "validation": 12, "test": 2}))
    validate_build(bad)
    with pytest.raises(NotValidatedError, match="1 of 14 expectations failed"):
        require_passed(bad)


def test_drift_failure_alone_fails_the_result(make_build):
    before = make_build("v1")
    shifted = make_build("v2", spec=FixtureSpec(duration_scale=1.8))
    result = validate_build(shifted, baseline=open_baseline(before))
    assert result.failed == 0 and not result.success
    with pytest.raises(NotValidatedError, match="drift against .* failed"):
        require_passed(shifted)
    md = result.summary_metadata()
    assert md["curate.validation.success"] == "false"
    assert md["curate.validation.drift.success"] == "false"
    assert float(md["curate.validation.drift.duration_s"]) > 0.3


def test_a_validation_that_errors_leaves_no_old_verdict(make_build, tmp_path):
    build = make_build()
    validate_build(build)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"name": "broken", "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "snr_db"}}]}))
    with pytest.raises(Exception, match="not a valid GX expectation"):
        validate_build(build, suite=str(broken))
    assert read_result(build) is None
