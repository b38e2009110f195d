"""Room to record the end of a job when the state disk fills up.

The job database lives on the service's state disk. When that disk fills, an
SQLite write fails with ``SQLITE_FULL``; had the job's final state no room, the
job would stay "running" for ever and hold its output. So the store keeps a
small reserve file beside the database: the first write that finds the disk
full deletes it, which frees room for the final states (failed, cancelled,
requeued) of the jobs that were running; new submissions are refused (507)
until the reserve can be written again, i.e. until space was freed.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from calab.server.errors import ApiError

#: Bytes kept in reserve for final job states (many hundreds of job updates).
RESERVE_BYTES = 1 * 2**20


class StateDiskFullError(ApiError):
    """The state disk is full: answered with 507 Insufficient Storage."""

    def __init__(self, doing: str) -> None:
        super().__init__(
            507, f"the job service's state disk is full ({doing}); an operator must free space "
            "on it. Running jobs were stopped and recorded as failed; their finished blocks "
            "are kept, so resubmitting resumes them",
        )


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's or the OS's "no space left on device"."""
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
            "disk is full" in str(exc))
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class StateReserve:
    """A file of ``size`` bytes held beside the database, released when the disk fills.

    Parameters
    ----------
    path : Path
        The reserve file.
    size : int
        Its size in bytes.

    Examples
    --------
    >>> import tempfile
    >>> reserve = StateReserve(Path(tempfile.mkdtemp()) / "reserve", 4096)
    >>> reserve.ensure(), reserve.release(), reserve.release()
    (True, True, False)
    """

    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path = Path(path)
        self.size = size

    def ensure(self) -> bool:
        """Create the reserve if missing; False when the disk has no room for it."""
        try:
            if self.path.stat().st_size >= self.size:
                return True
        except FileNotFoundError:
            pass
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.write(fd, bytes(self.size))  # real blocks, on every file system
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self.release()
            if is_disk_full(exc):
                return False
            raise
        return True

    def release(self) -> bool:
        """Delete the reserve; True when there was one to delete."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
