"""How ``make test`` hands test files to its two processes: pytest-xdist's ``loadfile`` (a
file at a time, in collection order), except that the files of one group in :data:`TOGETHER`
go to the same process as one unit.

A session-scoped fixture is made once per test *process*: the engine tests' DirectRunner
builds, the reference every engine must reproduce, were made twice when ``test_flink.py`` and
``test_prism.py`` ran in different processes. Kept together, the second file finds them made.
Used by ``tests/conftest.py`` (``pytest_xdist_make_scheduler``) only with ``--dist loadfile``.
A test selected alone still runs with its group's fixtures: the groups change only where files
run, never what a test needs.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

__all__ = ["TOGETHER", "GroupedFileScheduling", "unit_of"]

# Files that share session fixtures, by group; a group runs where its first file is handed out
# and its files run in collection order (tests/conftest.py's SLOWEST_FIRST).
TOGETHER: dict[str, tuple[str, ...]] = {
    # direct_build, direct_models_build, models_corpus, the network namespace
    "engines": ("tests/engines/test_flink.py", "tests/engines/test_prism.py",
                "tests/engines/test_portable.py"),
    # demo_run: `curate demo`, whose build test_sample_builds.py validates
    "demo": ("tests/test_demo.py", "tests/validation/test_sample_builds.py"),
    # loaded_models and librivox_signals (LibriVox decoded by VAD, PocketSphinx and lingua)
    "models": ("tests/curate/models/test_asr.py", "tests/curate/models/test_transform.py",
               "tests/curate/models/test_langid.py"),
}
_GROUP_OF = {path: group for group, paths in TOGETHER.items() for path in paths}


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its group in :data:`TOGETHER`, else its file."""
    path = nodeid.split("::", 1)[0]
    return _GROUP_OF.get(path, path)


class GroupedFileScheduling(LoadFileScheduling):
    """``loadfile`` with the files of a :data:`TOGETHER` group as one unit of work, and a
    process sent its next unit only when one of its tests is left."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _reschedule(self, node) -> None:
        # xdist sends the next unit once two tests are left: a unit whose last two tests are
        # long (or one of two tests, as the bench smoke tests) then holds the next unit while the
        # other process idles. One left is the least that keeps a process going: a worker runs
        # a test only once it has the next one (or is told to stop).
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 1:
            return
        self._assign_work_unit(node)
