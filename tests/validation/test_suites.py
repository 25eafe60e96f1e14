"""Loading suites: shipped names, user files, and errors that name the bad part (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.validation.errors import SuiteError
from curate.validation.suites import load_suite
from curate.validation.tables import Table
from expectations import suite_names, suite_path
from tests.validation.build_fixture import FixtureSpec


def test_shipped_suites_are_package_data():
    assert suite_names() == ["asr_default", "asr_strict"]
    for name in suite_names():
        assert Path(suite_path(name)).is_file()
        suite = load_suite(name)
        assert suite.name == name
        assert {e.table for e in suite.expectations} == set(Table)


def test_unknown_suite_name_lists_the_shipped_ones():
    with pytest.raises(SuiteError, match="asr_default, asr_strict") as e:
        load_suite("asr_nope")
    assert e.value.exit_code == 2
    with pytest.raises(KeyError):
        suite_path("../setup")


def test_a_user_suite_file_loads_by_path(tmp_path: Path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({
        "name": "mine",
        "expectations": [{"type": "expect_column_values_to_not_be_null",
                          "kwargs": {"column": "speaker"}}],
    }))
    suite = load_suite(str(path))
    assert suite.name == "mine"
    assert suite.expectations[0].table is Table.EXAMPLES  # the default table


def _suite_file(tmp_path: Path, expectation: dict, **extra) -> str:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", "expectations": [expectation], **extra}))
    return str(path)


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nope"}},
         r"expectations\[0\].*table 'examples' has no column 'nope'"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "key"},
          "meta": {"table": "rows"}}, r"meta.table 'rows' is not one of"),
        ({"type": "expect_column_values_to_be_in_set",
          "kwargs": {"column": "key", "value_set": {"$PARAMETER": "keys"}}},
         r"unknown suite parameter 'keys'"),
        ({"type": "not_an_expectation", "kwargs": {}}, r"must name a GX expectation"),
    ],
)
def test_suite_errors_name_the_expectation(tmp_path: Path, expectation: dict, message: str):
    with pytest.raises(SuiteError, match=message):
        load_suite(_suite_file(tmp_path, expectation))


def test_invalid_json_and_missing_files(tmp_path: Path):
    bad = tmp_path / "broken.json"
    bad.write_text("{")
    with pytest.raises(SuiteError, match="not valid JSON"):
        load_suite(str(bad))
    with pytest.raises(SuiteError, match="suite file not found"):
        load_suite(str(tmp_path / "missing.json"))
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"name": "e", "expectations": []}))
    with pytest.raises(SuiteError, match="no expectations"):
        load_suite(str(empty))


def test_gx_rejects_unknown_expectations_and_kwargs_before_running(tmp_path: Path, make_build):
    """GX drops an invalid expectation from a suite with only a log line; the gate must not."""
    from curate.validation.validate import validate_build

    build = make_build()
    for expectation, message in [
        ({"type": "expect_the_moon", "kwargs": {"column": "key"}}, "expect_the_moon"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "snr_db"}},
         "min_value and max_value cannot both be None"),
    ]:
        suite = load_suite(_suite_file(tmp_path, expectation))
        with pytest.raises(SuiteError, match=message) as e:
            validate_build(build, suite=suite, write=False)
        assert "expectations[0]" in str(e.value)


def test_bad_drift_thresholds_are_suite_errors(tmp_path: Path, make_build):
    from curate.validation.tables import BuildDir
    from curate.validation.validate import Baseline, validate

    build = BuildDir.open(make_build())
    path = _suite_file(
        tmp_path,
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "key"}},
        meta={"curate": {"drift": {"signals": {"loudness": 0.1}}}},
    )
    with pytest.raises(SuiteError, match="unknown signal 'loudness'"):
        validate(build, load_suite(path), baseline=Baseline(label="self", build=build))


def test_suite_parameters_come_from_the_build_config(tmp_path: Path, make_build):
    from curate.validation.validate import validate_build

    path = tmp_path / "params.json"
    path.write_text(json.dumps({"name": "params", "expectations": [
        {"type": "expect_column_distinct_values_to_equal_set",
         "kwargs": {"column": "split", "value_set": {"$PARAMETER": "splits"}},
         "meta": {"table": "splits"}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "sample_rate_hz", "value_set": {"$PARAMETER": "sample_rates_hz"}}},
    ]}))
    assert validate_build(make_build("good"), suite=str(path), write=False).success
    odd = make_build("odd", spec=FixtureSpec(sample_rate_hz=8000))
    (failure,) = validate_build(odd, suite=str(path), write=False).failed_expectations
    assert failure["column"] == "sample_rate_hz" and failure["kwargs"]["value_set"] == [16000]
