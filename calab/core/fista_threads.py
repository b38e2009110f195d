"""How many threads the compiled solver (and the rolling baseline) use.

The default is the number of cores this process may run on, or ``CALAB_NUM_THREADS``
when set. :func:`set_num_threads` changes it for the calling thread only (a Dask
worker thread pins its own solves to one thread without touching the others), and
:func:`single_thread` does so for a ``with`` block. Results do not depend on it:
every group of cells is solved by one thread with its own arithmetic.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from calab.errors import Cancelled

_local = threading.local()


def default_num_threads() -> int:
    """``CALAB_NUM_THREADS`` if set (>= 1), else the cores available to this process."""
    value = os.environ.get("CALAB_NUM_THREADS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            pass
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """Threads the solver uses when called from this thread."""
    return getattr(_local, "n_threads", None) or default_num_threads()


def set_num_threads(n_threads: int) -> None:
    """Use ``n_threads`` (>= 1) for solves started from this thread."""
    if int(n_threads) < 1:
        raise ValueError(f"n_threads={n_threads} must be at least 1")
    _local.n_threads = int(n_threads)


@contextmanager
def single_thread() -> Iterator[None]:
    """Solve on one thread inside the block (this thread only), then restore."""
    previous = getattr(_local, "n_threads", None)
    _local.n_threads = 1
    try:
        yield
    finally:
        _local.n_threads = previous


class _NativeGate:
    """Counts the compiled calls in flight so that interpreter exit can wait for them.

    A compiled call releases the GIL while it runs. If the interpreter finalises
    meanwhile (a script ending while a daemon thread is solving, as after Ctrl-C
    in ``calab.tune()``), the call's return would meet a finalising interpreter
    inside C++ frames and abort the process. At exit the gate closes: calls in
    flight are asked to stop (they return at their next iteration, a few
    milliseconds) and new ones raise :class:`calab.errors.Cancelled` in their own
    thread.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_flight = 0
        self._closed = False

    @contextmanager
    def call(self) -> Iterator[None]:
        with self._changed:
            if self._closed:
                raise Cancelled("the interpreter is exiting; the solve was stopped")
            self._in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def close(self, timeout: float = 60.0) -> None:
        """Refuse new calls, stop those in flight and wait (at most ``timeout`` s) for them."""
        from calab.core import _solver

        with self._changed:
            self._closed = True
            if self._in_flight:
                _solver.request_stop()
            self._changed.wait_for(lambda: self._in_flight == 0, timeout=timeout)


#: Every GIL-releasing call into :mod:`calab.core._solver` runs inside ``native_gate.call()``.
native_gate = _NativeGate()
atexit.register(native_gate.close)
