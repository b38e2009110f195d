"""The job service's side of the engine: one shared Dask client, and input checks.

The job service (:mod:`calab.server.jobs`) may not import dask or distributed,
so the client lifecycle lives here: :class:`ServiceCluster` connects lazily to
the scheduler named by ``--scheduler`` / ``DASK_SCHEDULER_ADDRESS`` (or starts
an embedded ``LocalCluster`` once, for the service's lifetime), reconnects when
the connection was lost, and reports its state for the health route.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

from calab.engine.cluster import (
    check_memory_limit,
    check_workers,
    local_cluster,
    resolve_address,
)
from calab.io.opener import open_recording
from calab.io.storage import resolve_storage_options


class ServiceCluster:
    """A lazily connected, shared ``distributed.Client`` for a long-running service.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``tcp://host:8786``). None: ``DASK_SCHEDULER_ADDRESS``,
        and without it an embedded ``LocalCluster`` started on first use.
    n_workers : int, optional
        Workers of the embedded cluster (default: one per core).
    memory_limit : str, optional
        Memory limit per embedded worker (e.g. ``"4GiB"``).
    connect_timeout : float
        Seconds to wait for the scheduler when connecting.

    Example
    -------
    >>> cluster = ServiceCluster("tcp://127.0.0.1:8786")  # doctest: +SKIP
    >>> client = cluster.client()                          # doctest: +SKIP
    >>> cluster.status()["workers"]                        # doctest: +SKIP
    2
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int | None = None,
        memory_limit: str | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self.address = resolve_address(address)
        check_workers(n_workers)  # refuse bad settings now, not at the first job
        check_memory_limit(memory_limit)
        self.n_workers = n_workers
        self.memory_limit = memory_limit
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._client: Any = None
        self._local_cluster: Any = None
        self._last_error: str | None = None
        self._last_failure = float("-inf")

    @property
    def mode(self) -> str:
        """``"remote"`` for an existing scheduler, ``"embedded"`` for a LocalCluster."""
        return "remote" if self.address else "embedded"

    def client(self, timeout: float | None = None) -> Any:
        """The shared client, connecting (or reconnecting) first when needed.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait for the scheduler (default ``connect_timeout``).

        Raises
        ------
        ConnectionError
            The scheduler cannot be reached within the timeout.
        """
        with self._lock:
            if self._client is not None and self._client.status == "running":
                return self._client
            self._close_client()
            try:
                self._client = self._connect(timeout or self.connect_timeout)
            except Exception as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                self._last_failure = time.monotonic()
                where = self.address or "an embedded LocalCluster"
                raise ConnectionError(f"cannot reach the Dask scheduler at {where}: {exc}") from exc
            self._last_error = None
            return self._client

    def status(self, timeout: float = 2.0, retry_after: float = 5.0) -> dict[str, Any]:
        """The cluster connection as a JSON-ready dict (for ``GET /api/v1/health``).

        Keys: ``mode``, ``address``, ``connected`` (bool), ``workers`` (int or
        None), ``error`` (str or None). Connects first when not yet connected,
        waiting at most ``timeout`` seconds; after a failed attempt it reports
        that failure for ``retry_after`` seconds instead of trying again, so
        frequent health checks stay fast while the scheduler is down.
        """
        report: dict[str, Any] = {
            "mode": self.mode, "address": self.address, "connected": False, "workers": None,
            "error": None,
        }
        connected = self._client is not None and self._client.status == "running"
        if not connected and time.monotonic() - self._last_failure < retry_after:
            report["error"] = self._last_error
            return report
        try:
            client = self.client(timeout)
            info = client.scheduler_info(n_workers=-1) if _accepts_n_workers(client) else (
                client.scheduler_info()
            )
            report.update(connected=True, workers=len(info.get("workers", {})),
                          address=info.get("address", self.address))
        except Exception as exc:
            report["error"] = f"{type(exc).__name__}: {exc}"
        return report

    def close(self) -> None:
        """Close the client and any embedded cluster."""
        with self._lock:
            self._close_client()
            if self._local_cluster is not None:
                self._local_cluster.close()
                self._local_cluster = None

    def _connect(self, timeout: float) -> Any:
        from distributed import Client

        if self.address:
            return Client(self.address, timeout=timeout, set_as_default=False)
        if self._local_cluster is None:
            self._local_cluster = local_cluster(self.n_workers, self.memory_limit)
        return Client(self._local_cluster, set_as_default=False)

    def _close_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing a dead connection may fail
                self._client.close(timeout=5)
            self._client = None


def _accepts_n_workers(client: Any) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


def inspect_input(path: str | Path, dataset: str | None = None, *,
                  storage_options: dict[str, Any] | None = None
                  ) -> tuple[int, int, float | None, str]:
    """Check that ``path`` (and ``dataset``) is a 2-D numeric recording calab can read.

    Opens it with :func:`calab.open_recording`, reading metadata only. Used by the
    job service at submit time, so a bad input is refused before it becomes a
    failed job.

    Parameters
    ----------
    path : str or Path
        The zarr array or group store.
    dataset : str, optional
        The array inside a group store.
    storage_options : dict, optional
        fsspec options for a URL (the ``AWS_*`` variables fill the rest);
        ignored for a local path.

    Returns
    -------
    tuple
        ``(n_cells, n_timepoints, fs, missing_fs)``: the shape, the sampling
        rate the input records (None when it records none or an invalid one)
        and, for that case, why (:meth:`calab.io.recording.Recording.missing_fs`).

    Raises
    ------
    FileNotFoundError, ValueError, TypeError
        Missing input, not a recording, no such dataset (the message starts
        with ``dataset=``), not a 2-D numeric array, or empty.

    Example
    -------
    >>> inspect_input("/data/rec.zarr", "traces")  # doctest: +SKIP
    (2000, 18000, None, 'records no sampling rate')
    """
    recording = open_recording(path, dataset=dataset,
                               storage_options=resolve_storage_options(path, storage_options))
    return recording.n_cells, recording.n_timepoints, recording.file_fs, recording.missing_fs()


def check_url_output(url: str, storage_options: dict[str, Any] | None = None) -> None:
    """Raise ``FileExistsError`` when ``url`` holds data that is not a calab output.

    Used by the job service at submit time (a few requests to the store).
    """
    from calab.engine.outputs import check_output_usable

    check_output_usable(url, resolve_storage_options(url, storage_options))
