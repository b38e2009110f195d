"""State of one tuning session: the data shown, the page's heartbeat, the export.

The bridge's routes run on uvicorn's event loop while :func:`calab.tune`
waits on the main thread, so everything shared between them sits here behind
a lock, and the export is signalled with a :class:`threading.Event`.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calab.engine.reading import TuningSubset, read_tuning_subset
from calab.io.opener import open_recording
from calab.io.recording import Recording

#: Sampling rate assumed for arrays and files that record none, when no fs is given.
DEFAULT_FS = 30.0
#: The page posts a heartbeat every 3 s; this long without one means it is gone.
HEARTBEAT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Dataset:
    """The subset of a recording being tuned, with its sampling rate (Hz)."""

    subset: TuningSubset
    fs: float

    @property
    def traces(self) -> np.ndarray:
        """``(n_cells, n_window)`` float64 traces of the shown cells."""
        return self.subset.traces

    def metadata(self) -> dict[str, Any]:
        """The ``/api/v1/metadata`` document (protocol fields first, then calab's)."""
        s = self.subset
        return {
            "sampling_rate_hz": self.fs,
            "num_cells": int(s.traces.shape[0]),
            "num_timepoints": int(s.traces.shape[1]),
            "cell_indices": [int(i) for i in s.cell_indices],
            "snr": [round(float(v), 3) for v in s.snr],
            "start_sample": int(s.start),
            "total_cells": int(s.total_cells),
            "total_timepoints": int(s.total_timepoints),
            "source": s.source,
        }


def load_dataset(
    source: Any,
    fs: float | None,
    *,
    cells: Any = None,
    max_cells: int = 64,
    max_minutes: float = 10.0,
) -> Dataset:
    """Read the tuning subset of ``source``; see :func:`calab.engine.reading.read_tuning_subset`.

    A path is opened with :func:`calab.open_recording`: the rate it records is
    used (``fs``, when given, must agree). Otherwise ``fs`` defaults to 30 Hz.
    """
    from calab.core.options import positive_number

    if isinstance(source, (str, os.PathLike)):
        source = open_recording(source, fs=fs)
    if isinstance(source, Recording) and source.fs is not None:
        fs = source.with_fs(fs).fs
    fs = positive_number("fs", DEFAULT_FS if fs is None else fs)
    subset = read_tuning_subset(
        source, fs, cells=cells, max_cells=max_cells, max_minutes=max_minutes
    )
    return Dataset(subset, fs)


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
            self.dataset = dataset
            self.pending_upload = None

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
