"""Pseudo-terminals for tests of what a command shows on a terminal (progress bars).

``run_on_a_terminal(argv)`` runs a command with its stdout and stderr on a new pty and returns
what it wrote; ``with on_a_terminal() as t:`` gives a text stream on a pty (``t.stream``) for
code in this process, and what was written to it (``t.output``) once the block ends. A thread
keeps reading the pty, so a writer never blocks on a full buffer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["Terminal", "on_a_terminal", "run_on_a_terminal"]


def _open(columns: int) -> tuple[int, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return master, slave


def _drain(master: int, chunks: list[bytes], timeout_s: float) -> None:
    while select.select([master], [], [], timeout_s)[0]:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: every writer closed the terminal
            return
        if not data:
            return
        chunks.append(data)


@dataclass
class Terminal:
    stream: TextIO
    chunks: list[bytes] = field(default_factory=list)

    @property
    def output(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")


@contextlib.contextmanager
def on_a_terminal(columns: int = 120) -> Iterator[Terminal]:
    master, slave = _open(columns)
    terminal = Terminal(stream=os.fdopen(slave, "w", buffering=1))
    reader = threading.Thread(target=_drain, args=(master, terminal.chunks, 600), daemon=True)
    reader.start()
    try:
        yield terminal
    finally:
        terminal.stream.close()  # the reader sees EIO and ends
        reader.join(timeout=30)
        os.close(master)


def run_on_a_terminal(argv: Sequence[str], *, columns: int = 120,
                      timeout_s: float = 300) -> tuple[int, str]:
    """Run ``argv`` with stdout and stderr on a new pty: (exit code, what it wrote)."""
    master, slave = _open(columns)
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        _drain(master, chunks, timeout_s)
    finally:
        os.close(master)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    return code, b"".join(chunks).decode(errors="replace")
