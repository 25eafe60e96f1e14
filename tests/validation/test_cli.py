"""``curate validate`` and ``curate gate``: output, ``--json`` and exit codes 0 / 1 / 2 / 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.cli import main
from tests.validation.build_fixture import FixtureSpec


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CURATE_REGISTRY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_validate_passes_with_exit_0(make_build, capsys):
    build = make_build()
    assert main(["validate", build]) == 0
    out = capsys.readouterr().out
    assert "asr_default: 14 of 14 expectations passed" in out
    assert "drift     not checked" in out and out.rstrip().endswith("verdict   PASSED")


def test_validate_fails_with_exit_1_and_names_what_failed(make_build, capsys):
    build = make_build(spec=FixtureSpec(leak_speakers=1))
    assert main(["validate", build]) == 1
    out = capsys.readouterr().out
    assert "FAIL  speakers.num_splits  expect_column_values_to_be_between" in out
    assert "expected value <= 1" in out
    assert "speaker=tr0000; splits=test,train; num_splits=2" in out
    assert f"docs      {build}/validation/docs/index.html" in out


def test_validate_json_prints_one_summary(make_build, capsys):
    before, after = make_build("v1"), make_build("v2", spec=FixtureSpec(duration_scale=1.8))
    assert main(["validate", after, "--against", before, "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)  # the whole output is one JSON document
    assert summary["success"] is False and summary["failed"] == 0
    assert summary["drift"]["against"] == before
    assert summary["drift"]["signals"]["duration_s"]["success"] is False
    assert summary == json.load(open(f"{after}/validation/result.json"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "{tmp}/nowhere"], "build directory not found"),
        (["validate", "{tmp}"], "not a build directory"),
        (["validate", "{build}", "--suite", "asr_nope"], "no shipped suite named 'asr_nope'"),
        (["validate", "{build}", "--against", "no-version-given"], "neither a build directory"),
        (["gate", "{build}", "--dataset", "Bad Name!", "--registry", "{registry}"], "Bad Name!"),
    ],
)
def test_usage_errors_exit_2(args, message, make_build, tmp_path, capsys):
    build = make_build()
    fill = {"tmp": str(tmp_path), "build": build, "registry": (tmp_path / "reg").as_uri()}
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("curate: error: ") and message in err


def test_validate_against_a_registered_version(make_build, registry_uri, capsys):
    from registry.api import Registry

    Registry(registry_uri).register(make_build("v1"), dataset="asr-fixture", allow_unvalidated=True)
    rebuilt = make_build("rebuilt")
    args = ["validate", rebuilt, "--registry", registry_uri, "--against"]
    assert main([*args, "asr-fixture@v1"]) == 0
    assert "drift     against asr-fixture@v1: ok" in capsys.readouterr().out
    assert main([*args, "asr-fixture@v7"]) == 2
    assert "has no version v7" in capsys.readouterr().err


def test_gate_checks_drift_against_latest(make_build, registry_uri, capsys, monkeypatch):
    from registry.api import Registry

    first = make_build("v1")
    assert main(["gate", first, "--dataset", "asr-fixture", "--registry", registry_uri]) == 0
    assert "drift against nothing: asr-fixture has no version yet" in capsys.readouterr().out
    Registry(registry_uri).register(first, dataset="asr-fixture")  # the gate validated it
    shifted = make_build("v2", spec=FixtureSpec(duration_scale=1.8))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["gate", shifted, "--dataset", "asr-fixture", "--registry", registry_uri]) == 1
    out = capsys.readouterr().out
    assert "drift     against asr-fixture@v1: FAILED" in out
    assert "::error title=curate gate: drift::duration_s: JS distance" in out
    assert out.rstrip().endswith("verdict   PASSED".replace("PASSED", "FAILED"))


def test_gate_exits_3_when_the_registry_is_unreachable(make_build, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.lakectl.yaml
    monkeypatch.setenv("LAKECTL_SERVER_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port
    monkeypatch.setenv("LAKECTL_CREDENTIALS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", "not-a-secret")
    build = make_build()
    assert main(["gate", build, "--dataset", "asr-fixture", "--registry", "lakefs://"]) == 3
    assert "curate: error:" in capsys.readouterr().err
