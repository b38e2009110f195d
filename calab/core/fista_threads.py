"""How many threads the compiled solver (and the rolling baseline) use.

The default is the number of cores this process may run on, or ``CALAB_NUM_THREADS``
when set. :func:`set_num_threads` changes it for the calling thread only (a Dask
worker thread pins its own solves to one thread without touching the others), and
:func:`single_thread` does so for a ``with`` block. Results do not depend on it:
every group of cells is solved by one thread with its own arithmetic.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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
