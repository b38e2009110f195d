"""A small progress display for long CLI runs: blocks done/total, cells/s, ETA.

On a terminal it redraws one line in place; otherwise (logs, pipes, CI) it
prints a plain line every ``interval_s`` seconds and a last one at the end.
It writes to stderr, so ``--json`` output on stdout stays clean.

Usage::

    with ProgressBar(label="deconvolve", cells_total=2000) as bar:
        deconvolve_zarr(..., progress=bar)      # bar(done, total) on each block

``bar.update(done, total)`` is the same call for code that polls
(e.g. ``calab jobs status --wait``).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24


class ProgressBar:
    """Progress of a block-by-block run.

    Parameters
    ----------
    total : int, optional
        Blocks in the run (may also arrive with the first update).
    label : str
        Prefix of every line.
    cells_total : int, optional
        Cells in the whole run; enables the cells/s figure (blocks are assumed
        to hold equal numbers of cells).
    stream : file, optional
        Where to write (default ``sys.stderr``).
    interval_s : float
        Seconds between plain lines when ``stream`` is not a terminal.
    tty : bool, optional
        Force terminal (redraw) or plain mode; default: ``stream.isatty()``.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with ProgressBar(label="demo", cells_total=100, stream=out, interval_s=0) as bar:
    ...     bar(0, 4); bar(4, 4)
    >>> "4/4 blocks" in out.getvalue()
    True
    """

    def __init__(self, total: int | None = None, *, label: str = "progress",
                 cells_total: int | None = None, stream: TextIO | None = None,
                 interval_s: float = 5.0, tty: bool | None = None) -> None:
        self.total = total
        self.label = label
        self.cells_total = cells_total
        self.stream = stream if stream is not None else sys.stderr
        self.interval_s = interval_s
        self.tty = _isatty(self.stream) if tty is None else tty
        self.done = 0
        self._start_done: int | None = None
        self._start_time = time.monotonic()
        self._last_line = float("-inf")
        self._closed = False

    def __call__(self, done: int, total: int) -> None:
        self.update(done, total)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def update(self, done: int, total: int | None = None) -> None:
        """Record ``done`` of ``total`` blocks and redraw if due."""
        if total is not None:
            self.total = total
        if self._start_done is None:  # blocks already done before we started watching
            self._start_done, self._start_time = done, time.monotonic()
        self.done = done
        now = time.monotonic()
        finished = self.total is not None and done >= self.total
        if self.tty:
            self._write("\r" + self.line() + "\033[K")
        elif finished or now - self._last_line >= self.interval_s:
            self._last_line = now
            self._write(self.line() + "\n")

    def close(self) -> None:
        """End the display (a newline on a terminal)."""
        if self._closed:
            return
        self._closed = True
        if self.tty and self._start_done is not None:
            self._write("\n")

    def rate_blocks_per_s(self) -> float:
        """Blocks per second finished since the first update (0 if unknown)."""
        elapsed = time.monotonic() - self._start_time
        newly = self.done - (self._start_done or 0)
        return newly / elapsed if elapsed > 0 and newly > 0 else 0.0

    def line(self) -> str:
        """The current status line (without newline)."""
        total = self.total or 0
        parts = [f"{self.label} {_bar(self.done, total)} {self.done}/{total} blocks"]
        rate = self.rate_blocks_per_s()
        if rate and self.cells_total and total:
            parts.append(f"{rate * self.cells_total / total:,.0f} cells/s")
        if total and self.done >= total:
            parts.append(f"done in {format_duration(time.monotonic() - self._start_time)}")
        elif rate:
            parts.append(f"ETA {format_duration((total - self.done) / rate)}")
        else:
            parts.append("ETA --")
        return "  ".join(parts)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour) for a duration in seconds.

    Examples
    --------
    >>> format_duration(75.2), format_duration(3725)
    ('1:15', '1:02:05')
    """
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else 0
    return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
