"""Finding the Dask cluster to run on.

Order: an explicit ``Client``; else a scheduler address (argument or the
``DASK_SCHEDULER_ADDRESS`` environment variable); else an embedded
``LocalCluster`` with one single-threaded worker process per core.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT_S = 20
WORKER_WAIT_S = 60
# Dask already runs one block per worker thread: nested threads only oversubscribe.
SINGLE_THREAD_ENV = {
    "CALAB_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_address(scheduler: str | None) -> str | None:
    """The scheduler address to use, or None for an embedded cluster."""
    return scheduler or os.environ.get(SCHEDULER_ENV) or None


@contextmanager
def dask_client(
    *, client: Any = None, scheduler: str | None = None, n_workers: int | None = None,
    memory_limit: str | None = None,
) -> Iterator[Any]:
    """Yield a connected ``distributed.Client``; close what this function opened."""
    if client is not None:
        yield client
        return
    address = resolve_address(scheduler)
    if address:
        with _remote_client(address) as remote:
            yield remote
        return
    with _embedded_client(n_workers, memory_limit) as local:
        yield local


def describe_cluster(client: Any) -> dict[str, Any]:
    """Scheduler address and worker/thread counts, for summaries."""
    workers = client.scheduler_info().get("workers", {})
    return {
        "scheduler": client.scheduler.address,
        "workers": len(workers),
        "threads": sum(int(w.get("nthreads", 1)) for w in workers.values()),
    }


@contextmanager
def _remote_client(address: str) -> Iterator[Any]:
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise OSError(
            f"cannot reach the Dask scheduler at scheduler={address!r} ({err}); start one with "
            f"`dask scheduler`, fix the address, or unset it ({SCHEDULER_ENV}) to run on an "
            "embedded cluster"
        ) from None
    try:
        _wait_for_workers(client, address)
        yield client
    finally:
        client.close()


def _wait_for_workers(client: Any, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError:
        raise TimeoutError(
            f"the Dask scheduler at {address} has no workers after {WORKER_WAIT_S} s; "
            f"start some with `dask worker {address}`"
        ) from None


@contextmanager
def _embedded_client(n_workers: int | None, memory_limit: str | None) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    n_workers = _check_workers(n_workers)
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=_check_memory_limit(memory_limit),
        dashboard_address=":0",  # a free port: never clash with a user's dashboard
        silence_logs=logging.CRITICAL,  # block failures are reported by deconvolve_zarr
        env=dict(SINGLE_THREAD_ENV),
    )
    try:
        with Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        cluster.close()


def _check_workers(n_workers: int | None) -> int:
    if n_workers is None:
        return available_cores()
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers={n_workers!r} must be an integer >= 1")
    return n_workers


def _check_memory_limit(memory_limit: str | None) -> str | int:
    if memory_limit is None:
        return "auto"
    from dask.utils import parse_bytes

    try:
        value = parse_bytes(memory_limit)
    except (ValueError, TypeError):
        value = -1
    if value <= 0:
        raise ValueError(
            f"memory_limit={memory_limit!r} must be a positive size such as '2GB' or '512MiB'"
        )
    return int(value)
