"""Run a command and measure it from outside: wall time and the resident memory of its tree.

Memory method: a sampler thread reads ``/proc/<pid>/statm`` of the child and of every process
descended from it (found by scanning ``/proc/*/stat`` for parent ids) every ``interval_s``.
Two peaks are kept: the peak of the *sum* of resident set sizes over the whole tree at one
instant (runner + Beam's worker processes; shared pages such as the Python binary are counted
once per process, so this overstates what the machine lost, never understates it), and the
peak RSS of each process. A spike shorter than the interval can be missed; the child also
reports its own ``ru_maxrss`` (``RUSAGE_SELF``) and that of its waited-for descendants
(``RUSAGE_CHILDREN``), which the kernel tracks exactly, as a cross-check.

CPU: the CPU seconds of the whole tree (user + system, from ``RUSAGE_CHILDREN`` of this process
before and after; Beam's workers are waited for, so they count), and the machine's other load
during the run: busy CPU time from ``/proc/stat`` minus the tree's, in cores. Other developers
share these machines; a run with ``background_cores`` near 1 had one of the 2 cores taken.
``steal_cores`` is the time the hypervisor gave this VM's CPUs to someone else, in cores.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Measured", "run_measured"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, kw_only=True, slots=True)
class Measured:
    wall_s: float
    returncode: int
    peak_tree_rss_mb: float
    peak_process_rss_mb: float
    max_processes: int
    samples: int
    cpu_s: float  # user + system CPU of the whole tree
    background_cores: float  # other processes' average CPU use during the run, in cores
    steal_cores: float  # CPU time the hypervisor took from this VM during the run, in cores
    report: dict[str, Any] = field(default_factory=dict)  # the child's last JSON line
    stderr_tail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_s": self.wall_s,
            "returncode": self.returncode,
            "peak_tree_rss_mb": self.peak_tree_rss_mb,
            "peak_process_rss_mb": self.peak_process_rss_mb,
            "max_processes": self.max_processes,
            "memory_samples": self.samples,
            "cpu_s": self.cpu_s,
            "background_cores": self.background_cores,
            "steal_cores": self.steal_cores,
            "child": self.report,
        }


def _parents() -> dict[int, int]:
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after it
        rest = stat[stat.rfind(b")") + 2 :].split()
        out[int(name)] = int(rest[1])
    return out


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _busy_s() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine since boot: busy is user, nice, system,
    irq and softirq; stolen is the hypervisor's steal time."""
    with open("/proc/stat", "rb") as f:
        fields = [int(x) for x in f.readline().split()[1:]] + [0] * 8
    hz = os.sysconf("SC_CLK_TCK")
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / hz, fields[7] / hz


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval_s: float) -> None:
        super().__init__(daemon=True)
        self._pid, self._interval = pid, interval_s
        self._stop_event = threading.Event()
        self.peak_tree = self.peak_process = 0
        self.max_processes = self.samples = 0

    def run(self) -> None:
        while True:
            pids = _tree(self._pid)
            sizes = [_rss_bytes(p) for p in pids]
            self.peak_tree = max(self.peak_tree, sum(sizes))
            self.peak_process = max(self.peak_process, max(sizes, default=0))
            self.max_processes = max(self.max_processes, sum(1 for s in sizes if s))
            self.samples += 1
            if self._stop_event.wait(self._interval):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_measured(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    interval_s: float = 0.25,
    sample_memory: bool = True,
) -> Measured:
    """Run ``cmd``; its last stdout line, if JSON, becomes ``report``. Raises on failure."""
    cpu_before, busy_before = _children_cpu_s(), _busy_s()
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=None if env is None else dict(env),
        cwd=cwd,
        text=True,
    )
    sampler = _Sampler(proc.pid, interval_s) if sample_memory else None
    if sampler:
        sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    busy_after = _busy_s()
    cpu = _children_cpu_s() - cpu_before
    busy, steal = busy_after[0] - busy_before[0], busy_after[1] - busy_before[1]
    if sampler:
        sampler.stop()
    lines = [line for line in out.splitlines() if line.strip()]
    report: dict[str, Any] = {}
    if lines:
        try:
            report = json.loads(lines[-1])
        except json.JSONDecodeError:
            report = {}
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited with {proc.returncode}:\n{err[-4000:]}\n{out[-2000:]}"
        )
    mb = 1024 * 1024
    return Measured(
        wall_s=wall,
        returncode=proc.returncode,
        peak_tree_rss_mb=(sampler.peak_tree / mb) if sampler else 0.0,
        peak_process_rss_mb=(sampler.peak_process / mb) if sampler else 0.0,
        max_processes=sampler.max_processes if sampler else 0,
        samples=sampler.samples if sampler else 0,
        cpu_s=cpu,
        background_cores=max(0.0, busy - cpu) / wall if wall else 0.0,
        steal_cores=steal / wall if wall else 0.0,
        report=report,
        stderr_tail=err[-2000:],
    )
