from __future__ import annotations

import doctest

import pytest

import registry.refs
from registry.errors import ReferenceError_
from registry.refs import DatasetRef, RefKind, parse_ref, validate_dataset_name


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("librispeech-clean@v7", RefKind.VERSION, "v7"),
        ("asr-demo@v12", RefKind.VERSION, "v12"),
        ("asr-demo@latest", RefKind.LATEST, "latest"),
        ("asr-demo@LATEST", RefKind.LATEST, "latest"),
        ("asr-demo@DEADBEEF", RefKind.COMMIT, "deadbeef"),
        ("asr-demo@" + "a" * 64, RefKind.COMMIT, "a" * 64),
    ],
)
def test_valid_references(text: str, kind: RefKind, value: str) -> None:
    ref = parse_ref(text)
    assert ref == DatasetRef(name=text.split("@")[0], kind=kind, value=value)
    assert parse_ref(str(ref)) == ref


def test_version_number() -> None:
    assert parse_ref("abc@v3").number == 3
    assert parse_ref("abc@latest").number is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("x@", "not a valid dataset reference: 'x@' (missing version)"),
        ("@v1", "not a valid dataset reference: '@v1' (missing dataset name)"),
        ("x@v0", "not a valid dataset reference: 'x@v0' (versions start at v1)"),
        ("abc@v01", "(write 'v1', without leading zeros)"),
        ("abc", "(missing '@VERSION'"),
        ("abc@v1@v2", "(more than one '@')"),
        ("abc@abc123", "(commit id prefix 'abc123' is shorter than 8 hex digits)"),
        ("abc@" + "a" * 65, "is longer than 64 hex digits"),
        ("abc@main", "(version 'main' is not vN, 'latest' or a commit id)"),
        ("abc@v-1", "(version 'v-1' is not vN"),
        ("x@v1", "(name 'x' must be 3-63 characters long)"),
        ("Big_Name@v1", "(name 'Big_Name' may only use a-z, 0-9 and '-'"),
        ("-abc@v1", "must start with a letter or digit"),
    ],
)
def test_malformed_references_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ReferenceError_) as e:
        parse_ref(text)
    assert message in str(e.value)
    assert str(e.value).startswith(f"not a valid dataset reference: {text!r} (")
    assert e.value.exit_code == 2


def test_dataset_names() -> None:
    assert validate_dataset_name("librispeech-clean") == "librispeech-clean"
    with pytest.raises(ReferenceError_, match="not a valid dataset name: name 'a/b'"):
        validate_dataset_name("a/b")


def test_docstring_examples_run() -> None:
    assert doctest.testmod(registry.refs).failed == 0
