"""SQLite persistence of job records.

One table, one row per job. The store is the single source of truth for the
service: the runner claims queued jobs from it and writes progress into it, so
a service killed at any moment restarts from exactly what was recorded.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calab.server.jobs.reserve import StateDiskFullError, StateReserve, is_disk_full

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE_STATUSES = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    dataset TEXT,
    output TEXT NOT NULL,
    params TEXT NOT NULL,
    options TEXT NOT NULL,
    blocks_done INTEGER NOT NULL DEFAULT 0,
    blocks_total INTEGER,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    result TEXT
)
"""


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="milliseconds")


class JobStore:
    """Job records in an SQLite database file.

    Parameters
    ----------
    path : Path
        The database file (created with its table when missing).

    Example
    -------
    >>> store = JobStore(Path(tmp) / "jobs.sqlite")               # doctest: +SKIP
    >>> job_id = store.create("in.zarr", None, "out.zarr", {}, {})  # doctest: +SKIP
    >>> store.get(job_id)["status"]                                 # doctest: +SKIP
    'queued'
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self.reserve = StateReserve(self.path.with_name(self.path.name + ".reserve"))
        self.reserve.ensure()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    # -- writes -----------------------------------------------------------------------------

    def _write(self, doing: str, sql: str, args: tuple = (), *, final: bool = False) -> None:
        """Execute a write (lock held); on a full disk release the reserve and raise.

        ``final`` writes (a job's end, a cancel, a requeue) are retried once in
        the room the reserve leaves, so no job stays "running" for want of space.
        """
        try:
            self._db.execute(sql, args)
            return
        except sqlite3.OperationalError as exc:
            if not is_disk_full(exc):
                raise
        released = self.reserve.release()
        if final and released:
            try:
                self._db.execute(sql, args)
                return
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc):
                    raise
        raise StateDiskFullError(doing)

    def create(
        self,
        input_path: str,
        dataset: str | None,
        output_path: str,
        params: dict[str, Any],
        options: dict[str, Any],
    ) -> str:
        """Insert a queued job and return its id."""
        job_id = secrets.token_hex(8)
        now = time.time()
        with self._lock:
            if not self.reserve.ensure():  # no new work while there is no room to record it
                raise StateDiskFullError("no room to accept a job")
            self._write(
                "recording a new job",
                "INSERT INTO jobs (id, status, input, dataset, output, params, options,"
                " created_at, updated_at) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                (job_id, input_path, dataset, output_path, json.dumps(params),
                 json.dumps(options), now, now),
            )
        return job_id

    def claim_next(self) -> dict[str, Any] | None:
        """Mark the oldest queued job running and return it (None when none is queued)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            now = time.time()
            self._write(
                "starting a job",
                "UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, ?),"
                " attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (now, now, row["id"]),
            )
            return self._get_locked(row["id"])

    def set_progress(self, job_id: str, blocks_done: int, blocks_total: int) -> None:
        """Record the block counts of a running job."""
        with self._lock:
            self._write(
                "recording progress",
                "UPDATE jobs SET blocks_done = ?, blocks_total = ?, updated_at = ? WHERE id = ?",
                (int(blocks_done), int(blocks_total), time.time(), job_id),
            )

    def finish(
        self,
        job_id: str,
        status: str,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Set a terminal status (succeeded, failed or cancelled)."""
        if status not in ("succeeded", "failed", "cancelled"):
            raise ValueError(f"status={status!r} is not a terminal status")
        now = time.time()
        with self._lock:
            self._write(
                "recording the end of a job",
                "UPDATE jobs SET status = ?, error = ?, result = ?, finished_at = ?,"
                " updated_at = ? WHERE id = ?",
                (status, error, None if result is None else json.dumps(result), now, now, job_id),
                final=True,
            )

    def requeue(self, job_id: str) -> None:
        """Put a running job back in the queue (service shutting down or restarting)."""
        with self._lock:
            self._write(
                "requeueing a job",
                "UPDATE jobs SET status = 'queued', updated_at = ? WHERE id = ?",
                (time.time(), job_id), final=True,
            )

    def request_cancel(self, job_id: str) -> str | None:
        """Cancel a job: a queued job ends at once, a running one is flagged.

        Returns the job's status *before* the request (finished jobs are left
        unchanged), or None for an unknown id.
        """
        now = time.time()
        with self._lock:
            row = self._db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            if row["status"] == "queued":
                self._write(
                    "cancelling a job",
                    "UPDATE jobs SET status = 'cancelled', cancel_requested = 1,"
                    " error = 'cancelled on request', finished_at = ?, updated_at = ?"
                    " WHERE id = ?",
                    (now, now, job_id), final=True,
                )
            elif row["status"] == "running":
                self._write(
                    "cancelling a job",
                    "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?",
                    (now, job_id), final=True,
                )
            return str(row["status"])

    def recover_interrupted(self) -> list[str]:
        """After a restart: requeue jobs left running (cancel those flagged for cancel).

        Returns the ids of the requeued jobs.
        """
        now = time.time()
        with self._lock:
            self._write(
                "recovering jobs",
                "UPDATE jobs SET status = 'cancelled', finished_at = ?, updated_at = ?"
                " WHERE status = 'running' AND cancel_requested = 1",
                (now, now), final=True,
            )
            rows = self._db.execute("SELECT id FROM jobs WHERE status = 'running'").fetchall()
            self._write(
                "recovering jobs",
                "UPDATE jobs SET status = 'queued', updated_at = ? WHERE status = 'running'",
                (now,), final=True,
            )
        return [row["id"] for row in rows]

    # -- reads ------------------------------------------------------------------------------

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job as a JSON-ready dict, or None for an unknown id."""
        with self._lock:
            return self._get_locked(job_id)

    def list(
        self, *, limit: int = 20, offset: int = 0, status: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Jobs newest first, and the total count (matching ``status`` when given)."""
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM jobs {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                (*args, int(limit), int(offset)),
            ).fetchall()
        return [_to_dict(row) for row in rows], int(total)

    def count_by_status(self) -> dict[str, int]:
        """How many jobs are in each status."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({row[0]: int(row[1]) for row in rows})
        return counts

    def active_job_writing(self, output_path: str) -> str | None:
        """The id of a queued or running job writing ``output_path``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM jobs WHERE output = ? AND status IN ('queued', 'running')",
                (output_path,),
            ).fetchone()
        return None if row is None else str(row["id"])

    def active_paths(self) -> Sequence[tuple[str, str, str]]:
        """``(id, input, output)`` of every queued or running job."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, input, output FROM jobs WHERE status IN ('queued', 'running')"
            ).fetchall()
        return [(str(r["id"]), str(r["input"]), str(r["output"])) for r in rows]

    def is_cancel_requested(self, job_id: str) -> bool:
        """Whether a cancel was requested for this job."""
        with self._lock:
            row = self._db.execute(
                "SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return bool(row and row["cancel_requested"])

    def _get_locked(self, job_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _to_dict(row)


def _to_dict(row: sqlite3.Row) -> dict[str, Any]:
    total = row["blocks_total"]
    done = row["blocks_done"]
    return {
        "id": row["id"],
        "status": row["status"],
        "input": row["input"],
        "dataset": row["dataset"],
        "output": row["output"],
        "params": json.loads(row["params"]),
        "options": json.loads(row["options"]),
        "progress": {
            "blocks_done": done,
            "blocks_total": total,
            "fraction": (done / total) if total else (1.0 if row["status"] == "succeeded" else 0.0),
        },
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "updated_at": _iso(row["updated_at"]),
        "attempts": row["attempts"],
        "cancel_requested": bool(row["cancel_requested"]),
        "error": row["error"],
        "result": None if row["result"] is None else json.loads(row["result"]),
    }
