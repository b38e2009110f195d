"""A one-thread executor whose thread never holds up the interpreter's exit.

:class:`concurrent.futures.ThreadPoolExecutor` joins its threads when the
interpreter exits, so a Ctrl-C during a long solve (or during the solver's
first compilation) left ``calab.tune()``'s process alive until that solve
ended. :class:`DaemonThreadExecutor` runs its tasks on one daemon thread:
``shutdown(cancel_futures=True)`` drops what is queued, and a task that
returns early when asked (the bridge's solver checks between groups of cells)
ends the thread within that bound. A thread still inside compiled code that
released the GIL must not outlive the interpreter (nanobind aborts the process
when finalisation stops such a thread), hence the join in ``shutdown``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

_Task = tuple[Future, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadExecutor(Executor):
    """Run submitted callables one at a time on a daemon thread.

    Parameters
    ----------
    name : str
        Name of the worker thread.

    Examples
    --------
    >>> executor = DaemonThreadExecutor("demo")
    >>> executor.submit(pow, 2, 10).result()
    1024
    >>> executor.shutdown()
    """

    def __init__(self, name: str) -> None:
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Queue ``fn(*args, **kwargs)``; its :class:`~concurrent.futures.Future`."""
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future: Future = Future()
            self._tasks.put((future, fn, args, kwargs))
            return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking tasks; drop queued ones with ``cancel_futures``; join with ``wait``."""
        with self._lock:
            self._closed = True
        if cancel_futures:
            while True:
                try:
                    task = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if task is not None:
                    task[0].cancel()
        self._tasks.put(None)
        if wait and self._thread is not threading.current_thread():
            self._thread.join()

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, fn, args, kwargs = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # handed to whoever waits on the future
                future.set_exception(error)
            else:
                future.set_result(result)
