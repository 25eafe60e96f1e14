"""The engines are built at the release of the Beam SDK that setup.py pins (a Prism or job
server of another release may speak another version of Beam's protocols), and a missing one
fails its tests in CI."""

from __future__ import annotations

import re

import pytest

from tests.engines import REPO_ROOT, beam_version, require


def test_prism_module_requires_the_sdk_release():
    go_mod = (REPO_ROOT / "tests" / "engines" / "prism" / "go.mod").read_text()
    assert f"github.com/apache/beam/sdks/v2 v{beam_version()}\n" in go_mod


def test_flink_job_server_pom_builds_the_sdk_release():
    pom = (REPO_ROOT / "tests" / "engines" / "flink" / "pom.xml").read_text()
    assert re.findall(r"<beam.version>(.*)</beam.version>", pom) == [beam_version()]
    assert f'"apache-beam[gcp]=={beam_version()}"' in (REPO_ROOT / "setup.py").read_text()


def test_a_missing_engine_fails_in_ci_and_is_skipped_elsewhere(monkeypatch, tmp_path):
    missing = tmp_path / "prism-v0"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run this test.*prism.sh"):
        require(missing, "prism.sh")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="run `sh tests/engines/prism.sh`"):
        require(missing, "prism.sh")
    missing.write_text("")
    assert require(missing, "prism.sh") == str(missing)
