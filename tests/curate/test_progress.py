"""Progress output: a bar on a terminal (a pseudo-terminal here), plain lines in a pipe,
nothing when quiet."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import re
import subprocess
import sys
import threading

from curate.progress import Mode, Progress, Unit, mode_for
from tests.terminal import run_on_a_terminal

# A child that reports 20 steps of 50 ms on its stderr, as a command would.
_CHILD = """
import sys, time
from curate.progress import Progress, Unit
with Progress("pull", total=20e6, unit=Unit.BYTES, every_s=float(sys.argv[1]),
              quiet=sys.argv[2] == "quiet") as p:
    for i in range(20):
        time.sleep(0.05)
        p.advance(1e6)
        if i == 9:
            p.write("halfway")
print("done")
"""


def _run_on_pty(*args: str, columns: int = 100) -> tuple[int, str]:
    return run_on_a_terminal([sys.executable, "-c", _CHILD, *args], columns=columns)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_one_bar_redrawn_in_place():
    code, out = _run_on_pty("5", "loud")
    assert code == 0, out
    bar_lines = [s for s in out.split("\r") if s.startswith("pull [")]
    assert len(bar_lines) >= 5  # redrawn as it goes (at most ten times a second)
    assert "\x1b[K" in out  # each redraw clears the rest of the line
    assert re.search(r"pull \[#{24}\] 20\.0 of 20\.0 MB \(100%\)\s+in \d+ s", out)
    assert re.search(r"pull \[#+-+\] \d+\.0 of 20\.0 MB \(\d+%\)\s+[\d.]+ MB/s\s+ETA \d+ s", out)
    assert "\r\x1b[Khalfway\r\n" in out  # a message clears the bar, then the bar comes back
    assert out.rstrip().endswith("done")


def test_the_bar_fits_the_terminal():
    code, out = _run_on_pty("5", "loud", columns=40)
    assert code == 0
    assert max(len(s.replace("\x1b[K", "")) for s in out.split("\r")) < 40


def test_a_pipe_gets_plain_lines_every_few_seconds():
    proc = subprocess.run([sys.executable, "-c", _CHILD, "0.3", "loud"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    progress = [s for s in lines if s.startswith("pull: ") and " in " not in s]
    # about 1 s of work, a line every 0.3 s: 1 to 4 lines, never one per step
    assert 1 <= len(progress) <= 4, err
    for line in progress:
        assert re.fullmatch(r"pull: [\d.]+ of 20\.0 MB \(\d+%\), [\d.]+ [kM]B/s, ETA \d+ s", line)
    assert "halfway" in lines
    assert re.fullmatch(r"pull: 20\.0 of 20\.0 MB \(100%\) in \d+ s", lines[-1])
    assert proc.stdout == "done\n"


def test_quiet_writes_nothing_on_a_terminal_or_a_pipe():
    code, out = _run_on_pty("5", "quiet")
    assert code == 0 and out.strip() == "done"
    proc = subprocess.run([sys.executable, "-c", _CHILD, "0", "quiet"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == ""


def test_lines_come_only_when_due_and_a_short_job_writes_nothing():
    clock, log = _Clock(), io.StringIO()
    p = Progress("compact", total=10, stream=log, every_s=5, clock=clock)
    assert p.mode is Mode.LINES
    for i in range(10):
        clock.now = i * 1.0
        p.update(i, detail=f"shard {i}")
    p.close()
    assert log.getvalue().splitlines() == [
        "compact: 5 of 10 (50%), 1.0/s, ETA 5 s; shard 5",
        "compact: 9 of 10 (90%) in 9 s; shard 9",
    ]
    log, clock = io.StringIO(), _Clock()
    short = Progress("pull", total=3, stream=log, every_s=5, clock=clock)
    for _ in range(3):
        short.advance()
    clock.now = 4.9
    short.close()
    assert log.getvalue() == ""  # done before its first line was due


def test_a_failed_phase_leaves_no_last_line_and_no_bar():
    log, clock = io.StringIO(), _Clock()
    with contextlib.suppress(OSError), Progress("pull", total=10, stream=log, every_s=1,
                                                clock=clock) as p:
        clock.now = 2.0
        p.update(4)
        raise OSError("disk full")
    assert log.getvalue() == "pull: 4 of 10 (40%), 2.0/s, ETA 3 s\n"  # and no "in 2 s" line
    tty = io.StringIO()
    bar = Progress("pull", total=10, stream=tty, mode=Mode.BAR, clock=clock)
    clock.now = 3.0
    bar.update(5)
    bar.close(ok=False)
    assert tty.getvalue().endswith("\r\x1b[K") and "\n" not in tty.getvalue()


def test_without_a_total_it_counts_and_shows_the_rate():
    clock, log = _Clock(), io.StringIO()
    with Progress("listing", stream=log, every_s=1, clock=clock) as p:
        clock.now = 2.0
        p.update(500)
    assert log.getvalue().splitlines() == ["listing: 500, 250/s", "listing: 500 in 2 s"]


def test_advance_from_many_threads_loses_nothing():
    clock, log = _Clock(), io.StringIO()
    p = Progress("register", total=8000, unit=Unit.BYTES, stream=log, every_s=0, clock=clock)
    threads = [threading.Thread(target=lambda: [p.advance(1) for _ in range(1000)])
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p.close()
    assert log.getvalue().splitlines()[-1] == "register: 8.0 of 8.0 kB (100%) in 0 s"


def test_mode_follows_the_stream():
    assert mode_for(io.StringIO()) is Mode.LINES
    assert mode_for(io.StringIO(), quiet=True) is Mode.QUIET
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as tty:
        assert mode_for(tty) is Mode.BAR
    os.close(master)
