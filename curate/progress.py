"""Progress of a long command, on stderr: a bar redrawn in place on a terminal, a plain line
every few seconds in a log (not a terminal), nothing at all when quiet.

>>> import io
>>> now, log = [0.0], io.StringIO()  # a log, not a terminal; a clock the example sets
>>> with Progress("pull", total=3e6, unit=Unit.BYTES, stream=log, clock=lambda: now[0]) as p:
...     now[0] = 6.0; p.update(1.5e6)
...     now[0] = 9.0; p.update(3e6)
>>> print(log.getvalue(), end="")
pull: 1.5 of 3.0 MB (50%), 250.0 kB/s, ETA 6 s
pull: 3.0 of 3.0 MB (100%) in 9 s

A caller sets how far it is (:meth:`Progress.update`) or how much more is done
(:meth:`Progress.advance`), from any thread; a line is written only when due, so calling often
costs little. The first line in a log comes after ``every_s``, and a phase that ends sooner
writes nothing at all (a log is not a place for a line per quick step). A phase that fails
(``close(ok=False)``, or an exception out of the ``with`` block) erases its bar and writes no
last line: the error that follows says what happened.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol, TextIO

__all__ = ["EVERY_S", "Meter", "MeterFactory", "Mode", "Progress", "Unit", "format_amount",
           "format_duration", "mode_for", "phase"]

EVERY_S = 5.0
"""Seconds between two lines in a log."""

_REDRAW_S = 0.1  # at most ten redraws of a bar per second
_BAR_WIDTH = 24


class Mode(str, enum.Enum):
    BAR = "bar"  # a terminal: one line redrawn in place
    LINES = "lines"  # a log or a pipe: a line every few seconds, and the last one
    QUIET = "quiet"  # nothing


class Unit(str, enum.Enum):
    COUNT = "count"
    BYTES = "bytes"


class Meter(Protocol):
    """What a long operation reports its progress to (a :class:`Progress` is one): a library
    function takes a :data:`MeterFactory` and never decides where progress is shown."""

    def advance(self, amount: float = 1) -> None: ...

    def close(self, *, ok: bool = True) -> None: ...


MeterFactory = Callable[[str, float], Meter]
"""``(label, total bytes) -> Meter`` for one phase of an operation (``"uploading"``, ...)."""


class _NoMeter:
    def advance(self, amount: float = 1) -> None:
        pass

    def close(self, *, ok: bool = True) -> None:
        pass


@contextlib.contextmanager
def phase(progress: MeterFactory | None, label: str, total: float) -> Iterator[Meter]:
    """The meter of one phase of an operation (one that does nothing without ``progress``),
    closed when the block ends: as done, or as failed when an exception leaves it."""
    meter: Meter = progress(label, total) if progress is not None else _NoMeter()
    try:
        yield meter
    except BaseException:
        meter.close(ok=False)
        raise
    meter.close()


def mode_for(stream: TextIO, *, quiet: bool = False) -> Mode:
    """``QUIET`` when asked, ``BAR`` when ``stream`` is a terminal, else ``LINES``."""
    if quiet:
        return Mode.QUIET
    try:
        return Mode.BAR if stream.isatty() else Mode.LINES
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return Mode.LINES


def _bytes(n: float) -> tuple[float, str]:
    for scale, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(n) >= scale:
            return n / scale, name
    return n, "B"


def format_amount(done: float, total: float | None, unit: Unit) -> str:
    """``1.5 of 3.0 MB``, ``12 of 40``; without a total just the amount.

    >>> format_amount(1_500_000, 3_000_000, Unit.BYTES), format_amount(12, None, Unit.COUNT)
    ('1.5 of 3.0 MB', '12')
    """
    if unit is Unit.COUNT:
        return f"{done:.0f}" if total is None else f"{done:.0f} of {total:.0f}"
    value, name = _bytes(total if total else done)
    scale = 1.0 if value == 0 else (total if total else done) / value
    if total is None:
        return f"{done / scale:.1f} {name}"
    return f"{done / scale:.1f} of {total / scale:.1f} {name}"


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``.

    >>> format_duration(42.4), format_duration(185), format_duration(7620)
    ('42 s', '3 min 05 s', '2 h 07 min')
    """
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _rate(done: float, elapsed: float, unit: Unit) -> str:
    per_s = done / elapsed
    if unit is Unit.BYTES:
        value, name = _bytes(per_s)
        return f"{value:.1f} {name}/s"
    return f"{per_s:.1f}/s" if per_s < 10 else f"{per_s:.0f}/s"


class Progress:
    """One long operation's progress. Thread-safe; a context manager that writes the last
    line (or ends the bar) on exit."""

    def __init__(
        self,
        label: str,
        *,
        total: float | None = None,
        unit: Unit = Unit.COUNT,
        stream: TextIO | None = None,
        mode: Mode | None = None,
        quiet: bool = False,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label, self._unit = label, unit
        self._stream = stream if stream is not None else sys.stderr
        self._mode = mode if mode is not None else mode_for(self._stream, quiet=quiet)
        self._every = every_s if self._mode is Mode.LINES else _REDRAW_S
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._last_write = self._start
        self._done, self._total, self._detail = 0.0, total, ""
        self._closed = False
        self._drawn = 0  # characters of the bar on screen
        self._lines = 0  # lines written in a log

    @property
    def mode(self) -> Mode:
        return self._mode

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(ok=exc_type is None)

    def update(self, done: float, *, total: float | None = None, detail: str | None = None) -> None:
        """Set the amount done (and the total, and a note shown after the numbers)."""
        with self._lock:
            self._done = float(done)
            if total is not None:
                self._total = float(total)
            if detail is not None:
                self._detail = detail
            self._maybe_write()

    def advance(self, amount: float = 1) -> None:
        """Add ``amount`` to the amount done."""
        with self._lock:
            self._done += amount
            self._maybe_write()

    def write(self, text: str) -> None:
        """Print ``text`` on a line of its own without garbling the bar."""
        with self._lock:
            if self._mode is Mode.QUIET:
                return
            self._clear_bar()
            self._stream.write(text + "\n")
            if self._mode is Mode.BAR and not self._closed:
                self._draw_bar()
            self._stream.flush()

    def close(self, *, ok: bool = True, detail: str | None = None) -> None:
        """Write the last line (in a log: only if the phase lasted ``every_s`` or wrote a line
        already); with ``ok=False`` erase the bar and write nothing. Later calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if detail is not None:
                self._detail = detail
            if self._mode is Mode.BAR:
                if ok:
                    self._draw_bar()
                    self._stream.write("\n")
                else:
                    self._clear_bar()
            elif self._mode is Mode.LINES and ok:
                if self._lines or self._clock() - self._start >= self._every:
                    self._stream.write(self._line(final=True) + "\n")
            self._stream.flush()

    # -- rendering (called with the lock held) ----------------------------------------------

    def _maybe_write(self) -> None:
        if self._closed or self._mode is Mode.QUIET:
            return
        now = self._clock()
        if now - self._last_write < self._every:
            return
        self._last_write = now
        if self._mode is Mode.BAR:
            self._draw_bar()
        else:
            self._stream.write(self._line() + "\n")
            self._lines += 1
        self._stream.flush()

    def _numbers(self, *, final: bool) -> list[str]:
        elapsed = self._clock() - self._start
        total = self._total
        parts = [format_amount(self._done, total, self._unit)]
        if total:
            parts[0] += f" ({min(self._done / total, 1.0):.0%})"
        if final:
            parts[0] += f" in {format_duration(elapsed)}"
        elif elapsed > 0 and self._done > 0:
            parts.append(_rate(self._done, elapsed, self._unit))
            if total and self._done < total:
                eta = (total - self._done) * elapsed / self._done
                parts.append(f"ETA {format_duration(eta)}")
        return parts

    def _line(self, *, final: bool = False) -> str:
        text = f"{self._label}: " + ", ".join(self._numbers(final=final))
        return f"{text}; {self._detail}" if self._detail else text

    def _draw_bar(self) -> None:
        if self._total:
            filled = round(_BAR_WIDTH * min(self._done / self._total, 1.0))
            bar = "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "] "
        else:
            bar = ""
        text = f"{self._label} {bar}" + "  ".join(self._numbers(final=self._closed))
        if self._detail:
            text += f"  {self._detail}"
        text = text[: max(_columns(self._stream) - 1, 20)]
        self._stream.write("\r" + text + "\x1b[K")
        self._drawn = len(text)

    def _clear_bar(self) -> None:
        if self._mode is Mode.BAR and self._drawn:
            self._stream.write("\r\x1b[K")
            self._drawn = 0


def _columns(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80
    return columns or 80  # a terminal that never said its size
