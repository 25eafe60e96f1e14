"""Every expectation of every shipped suite, end to end: a good build passes it, and a build
broken in exactly that respect fails it, naming it. Plus the named bad builds of the issue."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from curate.models.records import MODEL_SIGNAL_FIELDS
from curate.validation.suites import Expectation, load_suite
from curate.validation.tables import Table
from curate.validation.validate import validate_build
from expectations import suite_names
from tests.validation.build_fixture import STRICT_OK, FixtureSpec, Rows

# Both bases have the model-signal columns, so the optional expectations are checked too.
_EVERY_MODEL = ("vad", "langid", "bandwidth", "dnsmos", "asr")
_BASE = {"asr_default": FixtureSpec(enabled_models=_EVERY_MODEL), "asr_strict": STRICT_OK}
Breaker = tuple[FixtureSpec, Callable[[str, Rows], None] | None]


def _set_all(column: str, value: object) -> Callable[[str, Rows], None]:
    def mutate(split: str, rows: Rows) -> None:
        for r in rows:
            r[column] = value

    return mutate


def _set_first(column: str, value: object) -> Callable[[str, Rows], None]:
    def mutate(split: str, rows: Rows) -> None:
        if split == "train":
            rows[0][column] = value

    return mutate


def _duplicate_key(split: str, rows: Rows) -> None:
    if split == "train":
        rows[1]["key"] = rows[0]["key"]


def _breaker(e: Expectation, base: FixtureSpec) -> Breaker:
    """A build that violates ``e`` (and as little else as it can)."""
    kw, col = e.kwargs, e.column
    last = list(base.examples)[-1]
    if e.table is Table.EXAMPLES:
        if e.type == "expect_column_values_to_not_be_null":
            return base, _set_first(col, None)
        if e.type == "expect_column_values_to_be_unique" and col == "key":
            return base, _duplicate_key
        if e.type == "expect_column_values_to_match_regex" and col == "text":
            return base, _set_first(col, "   ")
        if e.type == "expect_column_values_to_be_in_set" and col == "sample_rate_hz":
            return dataclasses.replace(base, sample_rate_hz=8000), None
        if e.type == "expect_column_values_to_be_in_set" and col == "langid_language":
            return base, _set_all(col, "fr")
        if e.type == "expect_column_values_to_be_between":  # every row, so `mostly` fails too
            value = kw["max_value"] + 1 if kw.get("max_value") is not None else kw["min_value"] - 1
            return base, _set_all(col, value)
    if e.table is Table.SPLITS and e.type == "expect_column_values_to_be_between":
        if col == "num_examples":
            fewer = {**base.examples, last: kw["min_value"] - 1}
            return dataclasses.replace(base, examples=fewer), None
        if col == "hours":  # half the minimum, spread over the last split's examples
            def shorten(split: str, rows: Rows) -> None:
                for r in rows if split == last else ():
                    r["duration_s"] = kw["min_value"] * 3600 / (2 * len(rows))

            return base, shorten
        if col == "num_speakers":
            return dataclasses.replace(base, speakers={**base.speakers, last: 1}), None
    if e.table is Table.DATASET and col == "rejected_share":
        accepted, share = sum(base.examples.values()), kw["max_value"]
        return dataclasses.replace(base, rejected=int(accepted * share / (1 - share)) + 2), None
    if e.table is Table.SPEAKERS and col == "num_splits":
        return dataclasses.replace(base, leak_speakers=1), None
    raise AssertionError(f"no test breaks {e.label()} {dict(kw)}: add one to _breaker")


_CASES = [(name, e) for name in suite_names() for e in load_suite(name).expectations]


@pytest.mark.parametrize("suite_name", suite_names())
def test_good_build_passes_every_expectation(suite_name: str, make_build):
    result = validate_build(make_build(spec=_BASE[suite_name]), suite=suite_name, write=False)
    assert result.failed_expectations == ()
    assert result.success and result.evaluated == len(load_suite(suite_name).expectations)


@pytest.mark.parametrize(("suite_name", "expectation"), _CASES,
                         ids=[f"{n}-{e.index}-{e.table.value}.{e.column}" for n, e in _CASES])
def test_breaking_an_expectation_fails_it_by_name(suite_name: str, expectation: Expectation,
                                                  make_build):
    spec, mutate = _breaker(expectation, _BASE[suite_name])
    result = validate_build(make_build(spec=spec, mutate=mutate), suite=suite_name, write=False)
    assert not result.success
    named = [(f["table"], f["column"], f["expectation"]) for f in result.failed_expectations]
    assert (expectation.table.value, expectation.column, expectation.type) in named


@pytest.mark.parametrize("suite_name", suite_names())
def test_optional_expectations_wait_for_their_columns(suite_name: str, make_build):
    suite = load_suite(suite_name)
    optional = [e for e in suite.expectations if e.optional]
    columns = {e.column for e in optional}
    assert {"vad_speech_ratio", "asr_wer", "langid_language"} <= columns <= set(MODEL_SIGNAL_FIELDS)
    base = dataclasses.replace(_BASE[suite_name], enabled_models=())
    result = validate_build(make_build(spec=base), suite=suite_name, write=False)
    assert result.success and result.evaluated == len(suite.expectations) - len(optional)
    asr_only = dataclasses.replace(_BASE[suite_name], enabled_models=("asr",))
    result = validate_build(make_build(spec=asr_only), suite=suite_name, write=False)
    assert result.success and result.evaluated == len(suite.expectations) - len(optional) + 1


def _failed(result) -> dict[tuple[str, str], dict]:
    return {(f["table"], f["column"]): f for f in result.failed_expectations}


def test_too_few_examples_fails_the_minimum_per_split(make_build):
    spec = FixtureSpec(examples={"train": 80, "validation": 12, "test": 3})
    result = validate_build(make_build(spec=spec), write=False)
    failed = _failed(result)
    assert set(failed) == {("splits", "num_examples")}
    assert failed[("splits", "num_examples")]["observed"]["rows"] == [
        {"split": "test", "num_examples": 3}
    ]


def test_clipped_audio_let_in_fails_clipping_ratio(make_build):
    def clip(split: str, rows: Rows) -> None:
        if split == "train":
            for r in rows[:3]:
                r["clipping_ratio"] = 0.2

    failed = _failed(validate_build(make_build(mutate=clip), write=False))
    assert set(failed) == {("examples", "clipping_ratio")}
    observed = failed[("examples", "clipping_ratio")]["observed"]
    assert observed["unexpected_count"] == 3 and observed["element_count"] == 104
    assert {r["split"] for r in observed["rows"]} == {"train"}
    assert all(set(r) == {"key", "split", "clipping_ratio"} for r in observed["rows"])


def test_silent_audio_let_in_fails_silence_ratio(make_build):
    def silence(split: str, rows: Rows) -> None:
        if split == "test":
            rows[0].update(silence_ratio=1.0, snr_db=-20.0, rms_dbfs=-120.0)

    failed = _failed(validate_build(make_build(mutate=silence), write=False))
    # One silent example in 104 is under the 5% of noisy examples asr_default tolerates.
    assert set(failed) == {("examples", "silence_ratio")}


def test_speaker_in_two_splits_fails_and_names_the_speaker(make_build):
    failed = _failed(validate_build(make_build(spec=FixtureSpec(leak_speakers=1)), write=False))
    assert set(failed) == {("speakers", "num_splits")}
    (row,) = failed[("speakers", "num_splits")]["observed"]["rows"]
    assert row["splits"] == "test,train" and row["num_splits"] == 2


def test_every_split_of_the_config_is_checked_even_when_empty(make_build, tmp_path):
    import json
    import os

    build = make_build()
    path = os.path.join(build, "dataset_info.json")
    info = json.load(open(path))
    info["config"]["splits"]["ratios"]["holdout"] = 0.0
    json.dump(info, open(path, "w"))
    failed = _failed(validate_build(build, write=False))
    assert failed[("splits", "num_examples")]["observed"]["rows"] == [
        {"split": "holdout", "num_examples": 0}
    ]


def test_a_fingerprint_that_reads_as_an_impossible_date_validates(make_build):
    """GX parsed the run name (the fingerprint's first 12 characters) as a date when no run
    time was given, and dateutil raises OverflowError for about 1 in 4000 hex prefixes: a
    build with one could not be validated."""
    from curate.validation.tables import BuildDir
    from curate.validation.validate import validate

    build = BuildDir.open(make_build())
    odd = dataclasses.replace(build, info={**build.info, "fingerprint": "6a2460497284" + "0" * 52})
    assert validate(odd, load_suite("asr_default")).success
