"""The tables that say where and when ``make test`` runs each test file name files that exist
(a renamed file would silently leave its group, or the front of the queue)."""

from __future__ import annotations

import os

from tests.conftest import SLOWEST_FIRST
from tests.scheduling import TOGETHER, unit_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_file_named_in_the_schedule_exists():
    named = set(SLOWEST_FIRST) | {p for paths in TOGETHER.values() for p in paths}
    assert not {p for p in named if not os.path.isfile(os.path.join(ROOT, p))}


def test_a_group_is_one_unit_and_any_other_file_its_own():
    assert unit_of("tests/engines/test_prism.py::test_x[a::b]") == "engines"
    assert unit_of("tests/engines/test_flink.py::test_y") == "engines"
    assert unit_of("tests/engines/test_pins.py::test_z") == "tests/engines/test_pins.py"


def test_the_files_of_a_group_follow_each_other_in_the_queue():
    for paths in TOGETHER.values():
        at = [SLOWEST_FIRST.index(p) for p in paths]
        assert at == list(range(at[0], at[0] + len(at))), paths
