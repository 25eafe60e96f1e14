"""The engines are built at the release of the Beam SDK that setup.py pins: a Prism or job
server of another release may speak another version of Beam's protocols."""

from __future__ import annotations

import re

from tests.engines import REPO_ROOT, beam_version


def test_prism_module_requires_the_sdk_release():
    go_mod = (REPO_ROOT / "tests" / "engines" / "prism" / "go.mod").read_text()
    assert f"github.com/apache/beam/sdks/v2 v{beam_version()}\n" in go_mod


def test_flink_job_server_pom_builds_the_sdk_release():
    pom = (REPO_ROOT / "tests" / "engines" / "flink" / "pom.xml").read_text()
    assert re.findall(r"<beam.version>(.*)</beam.version>", pom) == [beam_version()]
    assert f'"apache-beam[gcp]=={beam_version()}"' in (REPO_ROOT / "setup.py").read_text()
