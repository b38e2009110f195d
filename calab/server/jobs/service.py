"""Running the job service in the foreground (``calab serve``)."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from calab.server.jobs.app import jobs_app

DEFAULT_STATE_SUBDIR = ".calab-service"


class StateDirLock:
    """An exclusive lock on the state directory, so two services never share one queue.

    The lock is an ``flock`` on ``state_dir/lock``; the operating system drops it
    when the process ends, even on SIGKILL, so a restart is never blocked.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``RuntimeError`` naming the process that holds it."""
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RuntimeError(
                f"state directory {self.path.parent} is in use by another calab serve"
                f" (pid {holder}); give this one its own --state"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Drop the lock."""
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def default_state_dir(data_root: Path) -> Path:
    """``<data root>/.calab-service``: persistent wherever the data is."""
    return data_root / DEFAULT_STATE_SUBDIR


def run_service(
    *,
    host: str,
    port: int,
    data_root: Path,
    state_dir: Path,
    token: str,
    scheduler: str | None,
    max_concurrent: int,
    log_level: str = "info",
    url_prefixes: tuple[str, ...] = (),
    url_storage_options: dict | None = None,
) -> None:
    """Serve the job API with uvicorn until SIGINT/SIGTERM.

    On shutdown the running jobs are interrupted and stay queued; the next start
    resumes them from their per-block completion records.

    Example
    -------
    >>> run_service(host="127.0.0.1", port=8000, data_root=Path("/data"),
    ...             state_dir=Path("/data/.calab-service"), token=token,
    ...             scheduler="tcp://127.0.0.1:8786", max_concurrent=2)  # doctest: +SKIP
    """
    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = StateDirLock(state_dir)
    lock.acquire()
    try:
        app = jobs_app(
            data_root=data_root,
            state_dir=state_dir,
            token=token,
            scheduler=scheduler,
            max_concurrent=max_concurrent,
            url_prefixes=url_prefixes,
            url_storage_options=url_storage_options,
        )
        uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=30)
    finally:
        lock.release()
