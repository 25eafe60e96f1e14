"""Fixture builds for the report tests (written in a second, no pipeline)."""

from __future__ import annotations

import pytest

from tests.curate.report.build_fixture import FixtureBuild, write_report_build


@pytest.fixture(scope="session")
def fixture_build(tmp_path_factory) -> FixtureBuild:
    return write_report_build(str(tmp_path_factory.mktemp("report") / "build"))


@pytest.fixture(scope="session")
def other_build(tmp_path_factory) -> FixtureBuild:
    """Another build of the same layout with every duration 1.6 times as long."""
    return write_report_build(str(tmp_path_factory.mktemp("report-other") / "build"), seed=1,
                              duration_scale=1.6)
