"""The job store and runner: claiming, progress, failure, cancel, shutdown and restart.

The runner is driven here by small executors with the engine's contract
(``progress(done, total)``, ``should_stop()`` polled, ``Cancelled`` raised on stop);
the real engine runs in tests/e2e/test_service.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from calab.engine import Cancelled
from calab.server.jobs.runner import JobRunner
from calab.server.jobs.store import JobStore


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def blockwise_executor(n_blocks: int, delay: float, log: list):
    """Process n_blocks, polling should_stop like the engine; record finished blocks."""

    def execute(job, progress, should_stop):
        done = sum(1 for entry in log if entry[0] == job["id"])  # resume: skip finished
        progress(done, n_blocks)
        for block in range(done, n_blocks):
            if should_stop():
                raise Cancelled("stopped")
            time.sleep(delay)
            log.append((job["id"], block))
            progress(block + 1, n_blocks)
        return {"blocks_total": n_blocks, "blocks_computed": n_blocks - 0, "output": Path("x")}

    return execute


@pytest.fixture
def store(tmp_path: Path):
    job_store = JobStore(tmp_path / "jobs.sqlite")
    yield job_store
    job_store.close()


def new_job(store: JobStore, output: str = "o.zarr") -> str:
    return store.create("in.zarr", None, output, {"fs": 30.0}, {"max_iters": 5})


def test_jobs_run_to_success_with_progress_and_timestamps(store: JobStore) -> None:
    log: list = []
    runner = JobRunner(store, blockwise_executor(4, 0.01, log), max_concurrent=2,
                       cancelled_error=Cancelled)
    ids = [new_job(store, f"o{i}.zarr") for i in range(5)]
    runner.start()
    try:
        wait_for(lambda: all(store.get(i)["status"] == "succeeded" for i in ids))
    finally:
        runner.stop()
    for job_id in ids:
        job = store.get(job_id)
        assert job["progress"] == {"blocks_done": 4, "blocks_total": 4, "fraction": 1.0}
        assert job["created_at"] <= job["started_at"] <= job["finished_at"]
        assert job["result"]["output"] == "x" and job["attempts"] == 1
    assert sorted(log) == sorted((i, b) for i in ids for b in range(4))


def test_concurrency_limit_is_respected(store: JobStore) -> None:
    running = []
    peak = [0]
    lock = threading.Lock()

    def execute(job, progress, should_stop):
        with lock:
            running.append(job["id"])
            peak[0] = max(peak[0], len(running))
        time.sleep(0.1)
        with lock:
            running.remove(job["id"])
        return {}

    runner = JobRunner(store, execute, max_concurrent=2)
    ids = [new_job(store, f"o{i}.zarr") for i in range(6)]
    runner.start()
    try:
        wait_for(lambda: all(store.get(i)["status"] == "succeeded" for i in ids))
    finally:
        runner.stop()
    assert peak[0] == 2


def test_failure_is_recorded_with_its_message(store: JobStore) -> None:
    def execute(job, progress, should_stop):
        raise ValueError("input has NaN in block 3")

    runner = JobRunner(store, execute, max_concurrent=1, cancelled_error=Cancelled)
    job_id = new_job(store)
    runner.start()
    try:
        wait_for(lambda: store.get(job_id)["status"] == "failed")
    finally:
        runner.stop()
    assert store.get(job_id)["error"] == "ValueError: input has NaN in block 3"
    assert store.get(job_id)["finished_at"] is not None


def test_cancel_running_job_keeps_finished_blocks(store: JobStore) -> None:
    log: list = []
    runner = JobRunner(store, blockwise_executor(50, 0.02, log), max_concurrent=1,
                       cancelled_error=Cancelled)
    job_id = new_job(store)
    runner.start()
    try:
        wait_for(lambda: store.get(job_id)["progress"]["blocks_done"] >= 3)
        assert store.request_cancel(job_id) == "running"
        runner.cancel(job_id)
        wait_for(lambda: store.get(job_id)["status"] == "cancelled")
    finally:
        runner.stop()
    finished = [block for _, block in log]
    assert 3 <= len(finished) < 50
    assert finished == list(range(len(finished)))


def test_shutdown_requeues_and_restart_resumes_without_repeating(tmp_path: Path) -> None:
    log: list = []
    executor = blockwise_executor(30, 0.02, log)
    store = JobStore(tmp_path / "jobs.sqlite")
    runner = JobRunner(store, executor, max_concurrent=1, cancelled_error=Cancelled)
    job_id = new_job(store)
    runner.start()
    wait_for(lambda: store.get(job_id)["progress"]["blocks_done"] >= 5)
    runner.stop()
    assert store.get(job_id)["status"] == "queued"
    store.close()
    before = len(log)

    store = JobStore(tmp_path / "jobs.sqlite")  # a new service on the same state
    runner = JobRunner(store, executor, max_concurrent=1, cancelled_error=Cancelled)
    runner.start()
    try:
        wait_for(lambda: store.get(job_id)["status"] == "succeeded")
    finally:
        runner.stop()
        job = store.get(job_id)
        store.close()
    assert [block for _, block in log] == list(range(30))  # nothing repeated, nothing lost
    assert before >= 5 and job["attempts"] == 2


def test_killed_service_leaves_running_jobs_that_are_requeued(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    running = new_job(store, "a.zarr")
    to_cancel = new_job(store, "b.zarr")
    queued = new_job(store, "c.zarr")
    assert store.claim_next()["id"] == running  # oldest first
    assert store.claim_next()["id"] == to_cancel
    store.request_cancel(to_cancel)
    store.close()  # as if SIGKILLed: two rows stay 'running'

    store = JobStore(tmp_path / "jobs.sqlite")
    assert store.recover_interrupted() == [running]
    assert store.get(running)["status"] == "queued"
    assert store.get(to_cancel)["status"] == "cancelled"
    assert store.get(queued)["status"] == "queued"
    assert store.count_by_status()["running"] == 0
    store.close()


def test_max_concurrent_is_checked(store: JobStore) -> None:
    with pytest.raises(ValueError, match="max_concurrent=0"):
        JobRunner(store, lambda *a: {}, max_concurrent=0)
