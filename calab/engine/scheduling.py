"""The client's side of an out-of-core run: a bounded window of block tasks on the cluster.

Submitting every block at once would make client and scheduler memory grow
with the recording; a window of a few tasks per worker thread keeps them flat
and the workers busy. A task lost with its worker counts as finished when its
own done record says so (it writes that record last).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from calab.engine.cluster import describe_cluster
from calab.engine.outputs import read_done
from calab.errors import BlocksFailedError, Cancelled

POLL_S, STOP_POLL_S = 0.1, 0.5
WINDOW_PER_THREAD, WINDOW_MIN = 4, 8  # tasks in flight per worker thread, and at least
DRAIN_TIMEOUT_S = 600.0  # how long a stop waits for the blocks already running


def run_blocks(dask: Any, task: Callable[[Any, int], Any], job: Any, todo: list[int],
               skipped: int, total: int, progress: Callable[[int, int], None] | None,
               should_stop: Callable[[], bool] | None) -> None:
    """Run ``task(job, index)`` for every block in ``todo``, a bounded window at a time.

    ``job`` has ``bounds(index)``, ``output``, ``n_cells``, ``chunk_cells`` and
    ``storage_options`` (:class:`calab.engine.zarr_run.BlockJob`). Progress is
    ``progress(finished, total)``; ``should_stop()`` is polled and stops the run
    with :class:`calab.errors.Cancelled` once the blocks in flight have ended.

    Submitting every block at once would make client and scheduler memory grow
    with the recording; a window of a few tasks per worker thread keeps them
    flat and the workers busy.
    """
    from distributed import as_completed

    queue = _BlockQueue(dask, task, job, todo)
    pending = as_completed(queue.submit(_window(dask)), loop=dask.loop)
    failures: list[tuple[int, int, int, str]] = []
    finished, last_stop_check = skipped, 0.0
    try:
        while not pending.is_empty():
            batch = pending.next_batch(block=False)
            for future in batch:
                if _completed(future, job, queue.index_of(future)):
                    finished += 1
                    if progress is not None:
                        progress(finished, total)
                else:
                    index = queue.index_of(future)
                    failures.append((index, *job.bounds(index), _failure_message(future)))
                queue.forget(future)
                pending.update(queue.submit(1))
            now = time.monotonic()
            if should_stop is not None and now - last_stop_check >= STOP_POLL_S:
                last_stop_check = now
                if should_stop():
                    finished += queue.drain()
                    raise Cancelled(
                        f"stopped after {finished} of {total} blocks; finished blocks are kept "
                        "and a rerun with resume computes only the rest"
                    )
            if not batch:
                time.sleep(POLL_S)
    finally:
        queue.release()
    if failures:
        raise BlocksFailedError(sorted(failures), total)


class _BlockQueue:
    """Blocks still to submit, and the futures of those in flight."""

    def __init__(self, dask: Any, task: Callable[[Any, int], Any], job: Any,
                 todo: list[int]) -> None:
        self.dask, self.task, self.job = dask, task, job
        self.waiting = list(reversed(todo))
        self.in_flight: dict[str, tuple[Any, int]] = {}
        self.run_id = uuid.uuid4().hex[:8]

    def submit(self, count: int) -> list[Any]:
        futures: list[Any] = []
        while self.waiting and len(futures) < count:
            index = self.waiting.pop()
            future = self.dask.submit(self.task, self.job, index, pure=False,
                                      key=f"calab-block-{self.run_id}-{index}")
            self.in_flight[future.key] = (future, index)
            futures.append(future)
        return futures

    def index_of(self, future: Any) -> int:
        return self.in_flight[future.key][1]

    def forget(self, future: Any) -> None:
        self.in_flight.pop(future.key, None)
        future.release()

    def drain(self) -> int:
        """Submit nothing more and let the blocks in flight end; how many completed."""
        self.waiting.clear()
        futures = [future for future, _ in self.in_flight.values()]
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while not all(future.done() for future in futures):
            if time.monotonic() > deadline:  # a cluster that stopped working: give up on them
                self.dask.cancel(futures)
                break
            time.sleep(POLL_S)
        return sum(_completed(future, self.job, index) for future, index in self.in_flight.values())

    def release(self) -> None:
        for future, _ in self.in_flight.values():
            future.release()
        self.in_flight.clear()


def _window(dask: Any) -> int:
    return max(WINDOW_MIN, WINDOW_PER_THREAD * describe_cluster(dask)["threads"])


def _completed(future: Any, job: Any, index: int) -> bool:
    """Whether a block's task ran to the end.

    A task whose result was lost with its worker ("lost") had finished; its done
    record, written by the task itself, says whether the block is complete.
    """
    if future.status == "finished":
        return True
    if future.status != "lost":
        return False
    done = read_done(job.output, -(-job.n_cells // job.chunk_cells), job.storage_options)
    return done is not None and bool(done[index])


def _failure_message(future: Any) -> str:
    if future.status == "error":
        error = future.exception()
        return f"{type(error).__name__}: {error}"
    return f"the task was {future.status} (scheduler or connection lost?)"
