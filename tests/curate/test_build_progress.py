"""A build's progress: counts written by its steps, added up by the launcher, shown in phases."""

from __future__ import annotations

import io
import threading

from curate.build_progress import (
    BuildProgress,
    Counts,
    Step,
    StepCounter,
    counts_of,
    mark,
    read_counts,
)


def test_counters_of_many_workers_add_up(tmp_path):
    out = str(tmp_path)
    assert read_counts(out) == Counts()
    counters = [StepCounter(out, Step.DONE, every_s=3600) for _ in range(3)]
    for i, c in enumerate(counters):
        c.add(10 * (i + 1))
    assert read_counts(out).done == 0  # not yet due
    for c in counters:
        c.flush()
    listed = StepCounter(out, Step.LISTED, every_s=0)
    listed.add(60)  # due at once
    mark(out, Step.PLANNED, "train", 4)
    mark(out, Step.PLANNED, "train", 4)  # again: replaced, not added
    mark(out, Step.PLANNED, "test", 1)
    for index in range(3):
        mark(out, Step.WRITTEN, f"train-{index}")
    assert read_counts(out) == Counts(listed=60, done=60, planned=5, written=3)
    counters[0].add(5)
    counters[0].flush()
    assert read_counts(out).done == 65  # a counter rewrites its own file


def test_counters_from_threads_each_write_their_own_file(tmp_path):
    out = str(tmp_path)

    def work() -> None:
        c = StepCounter(out, Step.DONE, every_s=0)
        for _ in range(50):
            c.add()
        c.flush()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read_counts(out).done == 200


def test_the_phases_follow_the_counts_in_a_log(tmp_path):
    log = io.StringIO()
    progress = BuildProgress(str(tmp_path), sources=2, stream=log, every_s=0)
    for c in (Counts(listed=500), Counts(listed=1000), Counts(listed=1000, done=400),
              Counts(listed=1000, done=1000, planned=6, written=2)):
        progress.show(c)
    progress.stop(final=Counts(listed=1000, done=1000, planned=6, written=6))
    lines = log.getvalue().splitlines()
    assert lines[0].split(",")[0] == "listing: 500"
    ends = [line for line in lines if " in " in line]  # each phase's last line
    assert [e.split(":")[0] for e in ends] == ["listing", "processing", "writing shards"]
    assert ends[0] == "listing: 1000 in 0 s"
    processing = [line for line in lines if line.startswith("processing: ")]
    assert processing[0].startswith("processing: 400 of 1000 (40%)")
    assert processing[0].endswith("; 1000 inputs listed from 2 source(s)")
    assert "ETA " in processing[0]
    assert ends[1].startswith("processing: 1000 of 1000 (100%) in ")
    assert ends[2].startswith("writing shards: 6 of 6 (100%) in ") and ends[2] == lines[-1]


def test_a_finished_build_gives_its_final_counts():
    info = {"counts": {"read": 12, "accepted": 10, "rejected": 2},
            "splits": {"train": {"shards": {"tfrecord": [{}, {}], "array_record": [{}, {}]}},
                       "test": {"shards": {"tfrecord": [{}]}}}}
    assert counts_of(info) == Counts(listed=12, done=12, planned=3, written=3)
