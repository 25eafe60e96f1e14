"""How far a running build is, told by its workers through small files the launcher reads.

Beam's DirectRunner runs a pipeline to its end inside ``run()`` and reports metrics only
afterwards, and on Dataflow they arrive late and coarse; so each counting step of the build
writes its own count, every few seconds, to a file of its own under the build's staging
directory (``.staging/progress/``), and the launcher adds them up. Only the launcher's builds
count (``BuildDataset(..., progress=True)``), and it removes what a late worker wrote after the
build ended. It works the same with one
process, with the DirectRunner's worker processes and with remote workers writing to a bucket,
and the files go with the staging directory when the build ends.

============ ============================================ =====================================
step         counted by                                   means
============ ============================================ =====================================
``listed``   the sources' router, after key dedupe        inputs the sources named (``read``)
``done``     the router (source rejections) and the       inputs decoded, measured and filtered,
             per-utterance processing                     or rejected by their source
``planned``  the shard writer, once per split             shards the build will write
``written``  the shard writer, once per shard             shards written
============ ============================================ =====================================
"""

from __future__ import annotations

import enum
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import apache_beam as beam

from curate.layout import PROGRESS_DIR

__all__ = ["BuildProgress", "CountStep", "Counts", "Step", "StepCounter", "counts_of", "mark",
           "read_counts"]


class Step(str, enum.Enum):
    LISTED = "listed"
    DONE = "done"
    PLANNED = "planned"
    WRITTEN = "written"


def _path(output_dir: str, name: str) -> str:
    from curate.fsio import join

    return join(output_dir, f"{PROGRESS_DIR}/{name}.json")


def _write(output_dir: str, name: str, step: Step, count: int) -> None:
    from curate.fsio import write_bytes

    data = json.dumps({"step": step.value, "count": count}).encode()
    write_bytes(_path(output_dir, name), data)


class StepCounter:
    """Counts one step's elements in one worker (a DoFn instance: make it in ``setup()``); the
    count goes to a file of its own every ``every_s`` seconds and on :meth:`flush` (call it in
    ``finish_bundle()``)."""

    def __init__(self, output_dir: str, step: Step, *, every_s: float = 2.0) -> None:
        self._output, self._step, self._every = output_dir, step, every_s
        self._name = f"{step.value}.{uuid.uuid4().hex}"
        self._count = self._written = 0
        self._last = time.monotonic()

    def add(self, n: int = 1) -> None:
        self._count += n
        if time.monotonic() - self._last >= self._every:
            self.flush()

    def flush(self) -> None:
        if self._count != self._written:
            _write(self._output, self._name, self._step, self._count)
            self._written = self._count
        self._last = time.monotonic()


def mark(output_dir: str, step: Step, name: str, count: int = 1) -> None:
    """Write a count under a fixed ``name`` (writing it again replaces it): a split's planned
    shards, one shard written."""
    _write(output_dir, f"{step.value}.{name}", step, count)


class _CountFn(beam.DoFn):
    """Counts the elements of a PCollection for ``step`` (its files: see the module doc)."""

    def __init__(self, output_dir: str, step: Step, weight: Callable[[Any], int] | None) -> None:
        self._output, self._step, self._weight = output_dir, step, weight

    def setup(self) -> None:
        self._counter = StepCounter(self._output, self._step)

    def process(self, element: Any) -> Iterator[None]:
        self._counter.add(1 if self._weight is None else self._weight(element))
        return iter(())

    def finish_bundle(self) -> None:
        self._counter.flush()

    def teardown(self) -> None:
        self._counter.flush()


class CountStep(beam.PTransform):
    """A branch that counts a PCollection's elements (or ``weight(element)`` of each) for
    ``step``; it outputs nothing and changes nothing the build writes."""

    def __init__(self, output_dir: str, step: Step,
                 weight: Callable[[Any], int] | None = None) -> None:
        super().__init__()
        self._output, self._step, self._weight = output_dir, step, weight

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        return pcoll | "Count" >> beam.ParDo(_CountFn(self._output, self._step, self._weight))


@dataclass(frozen=True, kw_only=True, slots=True)
class Counts:
    listed: int = 0
    done: int = 0
    planned: int = 0
    written: int = 0


def read_counts(output_dir: str) -> Counts:
    """The steps' counts so far (zeros before any file is there)."""
    from curate.fsio import join, list_files, open_read

    totals = dict.fromkeys(Step, 0)
    try:
        paths = list_files(join(output_dir, PROGRESS_DIR))
    except (OSError, ValueError):
        return Counts()
    for path in paths:
        if not path.endswith(".json"):
            continue  # a temporary file being written
        try:
            with open_read(path) as f:
                data = json.loads(f.read())
            totals[Step(data["step"])] += int(data["count"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # gone with the staging directory, or written by something else
    return Counts(**{step.value: n for step, n in totals.items()})


class BuildProgress(threading.Thread):
    """While a build runs, shows its progress in three phases, each with its own bar (or
    lines): inputs listed, inputs processed out of those listed, shards written out of those
    planned; each with a rate and an ETA."""

    def __init__(self, output_dir: str, *, sources: int, quiet: bool = False,
                 stream: TextIO | None = None, poll_s: float | None = None,
                 every_s: float | None = None,
                 read: Callable[[str], Counts] = read_counts) -> None:
        from curate.fsio import is_local

        super().__init__(daemon=True)
        self._output, self._sources, self._read = output_dir, sources, read
        self._quiet, self._stream, self._every = quiet, stream, every_s
        self._poll = poll_s if poll_s is not None else (1.0 if is_local(output_dir) else 5.0)
        self._stop_event = threading.Event()
        self._phase: str | None = None
        self._bar = None

    def _open(self, phase: str, total: float | None):
        from curate.progress import EVERY_S, Progress

        if self._bar is not None:
            self._bar.close()
        self._phase = phase
        self._bar = Progress(phase, total=total, stream=self._stream, quiet=self._quiet,
                             every_s=self._every if self._every is not None else EVERY_S)
        return self._bar

    def show(self, c: Counts) -> None:
        """Move the display to ``c`` (called every poll; public for tests)."""
        listed = f"{c.listed} inputs listed from {self._sources} source(s)"
        phase = ("writing shards" if c.planned and c.done >= c.listed else
                 "processing" if c.done else "listing" if c.listed else None)
        if phase is None:
            return
        if phase != self._phase and self._bar is not None:
            self._update(self._phase, c, listed)  # the last phase's end, before it is closed
        if phase != self._phase:
            self._open(phase, None)
        self._update(phase, c, listed)

    def _update(self, phase: str | None, c: Counts, listed: str) -> None:
        if phase == "writing shards":
            self._bar.update(c.written, total=c.planned)
        elif phase == "processing":
            self._bar.update(c.done, total=c.listed, detail=listed)
        elif phase == "listing":
            self._bar.update(c.listed)

    def run(self) -> None:
        while not self._stop_event.wait(self._poll):
            self.show(self._read(self._output))

    def stop(self, *, final: Counts | None = None) -> None:
        """Stop polling; show the ``final`` counts of a finished build and end the current bar;
        without them (the build failed) erase the bar: the error that follows says why."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=self._poll + 5)
        if final is not None:
            self.show(final)
        if self._bar is not None:
            self._bar.close(ok=final is not None)


def counts_of(info: Mapping[str, object]) -> Counts:
    """The counts of a finished build, from its ``dataset_info.json``."""
    counts = info.get("counts", {})
    splits = info.get("splits", {})
    shards = sum(len(next(iter(s.get("shards", {}).values()), []))
                 for s in splits.values())  # type: ignore[union-attr]
    read = int(counts.get("read", 0))  # type: ignore[union-attr]
    return Counts(listed=read, done=read, planned=shards, written=shards)

