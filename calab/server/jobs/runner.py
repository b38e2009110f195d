"""The job runner: worker threads that take queued jobs from the store and run them.

Up to ``max_concurrent`` jobs run at once, each on the Dask cluster through the
engine. Progress and the final state go to the store as they happen. On shutdown
the running jobs are interrupted and put back in the queue; the engine's
per-block completion record makes the next start resume them where they were.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from calab.server.jobs.reserve import StateDiskFullError
from calab.server.jobs.store import JobStore

log = logging.getLogger("calab.server.jobs")

# execute(job, progress, should_stop) -> summary dict; raises Interrupted-like on stop
Executor = Callable[
    [dict[str, Any], Callable[[int, int], None], Callable[[], bool]], dict[str, Any]
]


class JobFailedError(Exception):
    """A job failed; the message is what the job record shows (no type name is added)."""


class JobRunner:
    """Run queued jobs from a :class:`JobStore` on background threads.

    Parameters
    ----------
    store : JobStore
        Where jobs are claimed from and recorded to.
    execute : callable
        ``execute(job, progress, should_stop) -> summary``; runs one job. It must
        raise when ``should_stop()`` turns True (the engine raises ``Cancelled``).
    max_concurrent : int
        Number of jobs running at the same time (>= 1).
    cancelled_error : type or tuple of types
        The exception(s) ``execute`` raises when it stopped on request.

    Example
    -------
    >>> runner = JobRunner(store, execute, max_concurrent=2)  # doctest: +SKIP
    >>> runner.start(); runner.wake(); runner.stop()          # doctest: +SKIP
    """

    def __init__(
        self,
        store: JobStore,
        execute: Executor,
        *,
        max_concurrent: int = 2,
        cancelled_error: type[BaseException] | tuple[type[BaseException], ...] = (),
    ) -> None:
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int) or (
            max_concurrent < 1
        ):
            raise ValueError(f"max_concurrent={max_concurrent!r} must be an integer >= 1")
        self.store = store
        self.execute = execute
        self.max_concurrent = max_concurrent
        self._cancelled = (
            cancelled_error if isinstance(cancelled_error, tuple) else (cancelled_error,)
        )
        self._wakeup = threading.Condition()
        self._stopping = threading.Event()
        self._cancel_flags: set[str] = set()
        self.running: set[str] = set()  # ids of the jobs running in this process
        self._threads: list[threading.Thread] = []

    def start(self) -> list[str]:
        """Requeue jobs a previous run left running, start the threads; return requeued ids."""
        resumed = self.store.recover_interrupted()
        for job_id in resumed:
            log.info("resuming job %s interrupted by a service restart", job_id)
        self._stopping.clear()
        for index in range(self.max_concurrent):
            thread = threading.Thread(
                target=self._loop, name=f"calab-job-runner-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return resumed

    def wake(self) -> None:
        """Tell idle threads that a job was queued."""
        with self._wakeup:
            self._wakeup.notify_all()

    def cancel(self, job_id: str) -> None:
        """Ask a running job to stop at its next poll."""
        self._cancel_flags.add(job_id)

    def stop(self, timeout: float = 30.0) -> None:
        """Interrupt running jobs (they go back to the queue) and join the threads."""
        self._stopping.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self.store.claim_next()
                if job is None:
                    with self._wakeup:
                        self._wakeup.wait(timeout=1.0)
                    continue
                self._run_one(job)
            except Exception:  # e.g. the state disk is full: log, keep the thread alive
                log.exception("job runner error; retrying in 5 s")
                self._stopping.wait(5.0)

    def _run_one(self, job: dict[str, Any]) -> None:
        job_id = job["id"]
        if self.store.is_cancel_requested(job_id):
            self._cancel_flags.add(job_id)
        last_write = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done >= total or now - last_write[0] >= 0.2:
                last_write[0] = now
                self.store.set_progress(job_id, done, total)

        def should_stop() -> bool:
            return self._stopping.is_set() or job_id in self._cancel_flags

        log.info("job %s started (attempt %d)", job_id, job["attempts"])
        self.running.add(job_id)
        try:
            summary = self.execute(job, progress, should_stop)
        except self._cancelled as exc:
            self._until_recorded(self._on_stopped, job_id, exc)
        except Exception as exc:  # any failure is recorded on the job
            if should_stop():
                self._until_recorded(self._on_stopped, job_id, exc)
            else:
                log.warning("job %s failed: %s", job_id, exc)
                log.debug("%s", traceback.format_exc())
                error = str(exc) if isinstance(exc, JobFailedError) else (
                    f"{type(exc).__name__}: {exc}")
                self._until_recorded(self.store.finish, job_id, "failed", error=error)
        else:
            total = summary.get("blocks_total")
            if isinstance(total, int):
                with contextlib.suppress(StateDiskFullError):  # the end below matters more
                    self.store.set_progress(job_id, total, total)
            self._until_recorded(self.store.finish, job_id, "succeeded",
                                 result=_jsonable(summary))
            log.info("job %s succeeded", job_id)
        finally:
            self._cancel_flags.discard(job_id)
            self.running.discard(job_id)

    def _until_recorded(self, record: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Record a job's end, retrying each second while the state disk is full.

        A job whose end is not recorded would stay "running" and hold its
        output; on shutdown the record is left to the restart's recovery.
        """
        while True:
            try:
                record(*args, **kwargs)
                return
            except StateDiskFullError as exc:
                log.error("cannot record the end of job %s: %s", args[0], exc.message)
                if self._stopping.wait(1.0):
                    return

    def _on_stopped(self, job_id: str, exc: BaseException) -> None:
        if job_id in self._cancel_flags or self.store.is_cancel_requested(job_id):
            self.store.finish(job_id, "cancelled", error="cancelled on request")
            log.info("job %s cancelled", job_id)
        else:
            self.store.requeue(job_id)
            log.info("job %s interrupted by shutdown; it resumes on the next start", job_id)


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    """The engine summary with plain JSON values (paths and NumPy scalars to str/float).

    Nested objects (the ``suggested`` record of an ``"auto"`` job) stay objects.
    """
    return {str(key): _plain(value) for key, value in summary.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, dict):
        return _jsonable(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
