"""State of one tuning session: the data shown, the page's heartbeat, the export.

The bridge's routes run on uvicorn's event loop while :func:`calab.tune`
waits on the main thread, so everything shared between them sits here behind
a lock, and the export is signalled with a :class:`threading.Event`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calab.server.bridge_data import DEFAULT_FS, Dataset, load_dataset

__all__ = ["DEFAULT_FS", "HEARTBEAT_TIMEOUT_S", "Dataset", "TuningSession", "load_dataset"]

#: The page posts a heartbeat every 3 s; this long without one means it is gone.
HEARTBEAT_TIMEOUT_S = 10.0


@dataclass
class TuningSession:
    """Everything the bridge's routes and the waiting caller share.

    Attributes
    ----------
    dataset : Dataset or None
        The data shown; None until a file is dropped (``calab app``).
    max_cells, max_minutes : int, float
        Subsampling limits applied to dropped files too.
    """

    dataset: Dataset | None = None
    max_cells: int = 64
    max_minutes: float = 10.0
    exported: threading.Event = field(default_factory=threading.Event)
    params: dict[str, Any] | None = None
    last_heartbeat: float | None = None
    pending_upload: dict[str, np.ndarray] | None = None
    pending_name: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record_heartbeat(self) -> None:
        """Note that the page is alive now."""
        with self._lock:
            self.last_heartbeat = time.monotonic()

    def heartbeat_lost(self, now: float | None = None) -> bool:
        """True once a page has connected and then been silent for too long."""
        with self._lock:
            last = self.last_heartbeat
        now = time.monotonic() if now is None else now
        return last is not None and now - last > HEARTBEAT_TIMEOUT_S

    def export(self, params: dict[str, Any]) -> None:
        """Store validated parameters and wake up the waiting caller."""
        with self._lock:
            self.params = dict(params)
        self.exported.set()

    def set_dataset(self, dataset: Dataset) -> None:
        """Replace the data shown (a dropped file)."""
        with self._lock:
            previous, self.dataset = self.dataset, dataset
            self.pending_upload = None
        if previous is not None and previous is not dataset:
            previous.close()

    def status(self) -> dict[str, Any]:
        """The ``/api/v1/status`` document."""
        with self._lock:
            state = "exported" if self.params is not None else (
                "waiting" if self.dataset is not None else "no-data"
            )
            return {
                "state": state,
                "has_data": self.dataset is not None,
                "page_connected": self.last_heartbeat is not None,
                "params": self.params,
            }
