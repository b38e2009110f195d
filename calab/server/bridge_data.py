"""The recording behind a tuning session: a first subset, and every cell and window on demand.

:class:`Dataset` keeps the lazily indexable array the opener returned (a NumPy
array or memory map, a zarr array, an HDF5 dataset...) open for the whole
session. The app first sees the subset chosen by
:func:`calab.engine.reading.subset_of_array` (cells spread over the SNR range,
a centred window), and then asks for any cell and any time window of the whole
recording: :meth:`Dataset.read_window` reads only those samples (cached, since
a slider drag asks for the same window many times), :meth:`Dataset.overview`
reduces a whole cell to a min/max envelope for the overview plot.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import numpy as np

from calab.core.subsample import read_rows
from calab.engine.reading import TuningSubset, open_trace_array, subset_of_array
from calab.io.opener import open_recording
from calab.io.recording import Recording
from calab.server.bridge_suggest import suggestion_document

#: Sampling rate assumed for arrays and files that record none, when no fs is given.
DEFAULT_FS = 30.0
#: Cell windows kept in memory (each at most a solve window plus its margins).
WINDOW_CACHE_ENTRIES = 512
#: Whole-cell overviews kept in memory.
OVERVIEW_CACHE_ENTRIES = 64


@dataclass(frozen=True)
class Dataset:
    """The recording being tuned, its first subset, and its sampling rate (Hz).

    Attributes
    ----------
    subset : TuningSubset
        The cells and window shown first.
    fs : float
        Sampling rate in Hz.
    array : array-like, optional
        ``(total_cells, total_timepoints)`` lazily indexable array of the whole
        recording; None serves the subset alone.
    closer : callable
        Releases ``array`` (closes an HDF5 file); called by :meth:`close`.
    suggestion : dict, optional
        The parameters :func:`calab.suggest_params` suggests for the recording
        (see :func:`calab.server.bridge_suggest.suggestion_document`).
    """

    subset: TuningSubset
    fs: float
    array: Any = None
    closer: Callable[[], None] = field(default=lambda: None, compare=False)
    suggestion: dict[str, Any] | None = field(default=None, compare=False)
    _cache: OrderedDict = field(default_factory=OrderedDict, compare=False, repr=False)
    _overviews: OrderedDict = field(default_factory=OrderedDict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def traces(self) -> np.ndarray:
        """``(n_cells, n_window)`` float64 traces of the first subset."""
        return self.subset.traces

    @property
    def total_cells(self) -> int:
        """Cells in the whole recording."""
        return int(self.subset.total_cells)

    @property
    def total_timepoints(self) -> int:
        """Samples in the whole recording."""
        return int(self.subset.total_timepoints)

    def with_source(self, source: str) -> Dataset:
        """The same dataset under another description."""
        return replace(self, subset=replace(self.subset, source=source))

    def metadata(self) -> dict[str, Any]:
        """The ``/api/v1/metadata`` document (protocol fields first, then calab's)."""
        s = self.subset
        return {
            "sampling_rate_hz": self.fs,
            "num_cells": int(s.traces.shape[0]),
            "num_timepoints": int(s.traces.shape[1]),
            "cell_indices": [int(i) for i in s.cell_indices],
            "snr": [round(float(v), 3) for v in np.nan_to_num(s.snr)],
            "start_sample": int(s.start),
            "total_cells": self.total_cells,
            "total_timepoints": self.total_timepoints,
            "source": s.source,
            "lazy": self.array is not None,
            "suggestion": self.suggestion,
        }

    def read_window(self, cells: np.ndarray, start: int, stop: int) -> np.ndarray:
        """``(len(cells), stop - start)`` float64 samples of original cells, any window.

        ``cells`` are original row indices, ``start:stop`` samples of the whole
        recording. Rows come from the subset when it covers them, else from
        the source array (read once, then cached).
        """
        rows = [self._row_window(int(c), start, stop) for c in cells]
        return np.stack(rows) if rows else np.empty((0, stop - start))

    def _row_window(self, cell: int, start: int, stop: int) -> np.ndarray:
        s = self.subset
        where = np.flatnonzero(s.cell_indices == cell)
        if where.size and s.start <= start and stop <= s.start + s.traces.shape[1]:
            return s.traces[where[0], start - s.start : stop - s.start]
        key = (cell, start, stop)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        if self.array is None:
            raise LookupError(f"cell {cell}, samples {start}:{stop} are outside the loaded subset")
        row = read_rows(self.array, np.array([cell]), start, stop)[0]
        with self._lock:
            self._cache[key] = row
            while len(self._cache) > WINDOW_CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return row

    def overview(self, cell: int, points: int) -> tuple[int, np.ndarray, np.ndarray]:
        """Min/max envelope of one whole cell: ``(samples per bin, low, high)``.

        Both arrays have at most ``points`` bins covering the whole recording;
        a bin without any finite sample is NaN.
        """
        key = (cell, points)
        with self._lock:
            if key in self._overviews:
                return self._overviews[key]
        n = self.total_timepoints
        row = self.read_window(np.array([cell]), 0, n)[0] if self.array is not None else \
            self._subset_row(cell)
        size = max(1, -(-row.size // points))
        padded = np.full(-(-row.size // size) * size, np.nan)
        padded[: row.size] = row
        bins = padded.reshape(-1, size)
        with np.errstate(all="ignore"), _quiet_nan_warnings():
            low, high = np.nanmin(bins, axis=1), np.nanmax(bins, axis=1)
        entry = (size, low, high)
        with self._lock:
            self._overviews[key] = entry
            while len(self._overviews) > OVERVIEW_CACHE_ENTRIES:
                self._overviews.popitem(last=False)
        return entry

    def _subset_row(self, cell: int) -> np.ndarray:
        where = np.flatnonzero(self.subset.cell_indices == cell)
        if not where.size:
            raise LookupError(f"cell {cell} is not in the loaded subset")
        row = np.full(self.total_timepoints, np.nan)
        row[self.subset.start : self.subset.start + self.traces.shape[1]] = self.traces[where[0]]
        return row

    def close(self) -> None:
        """Release the source array."""
        self.closer()


class _quiet_nan_warnings:  # noqa: N801 - used as a context manager
    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._catch.__exit__(exc_type, exc, traceback)


def load_dataset(
    source: Any,
    fs: float | None,
    *,
    cells: Any = None,
    max_cells: int = 64,
    max_minutes: float = 10.0,
    suggest: bool = False,
) -> Dataset:
    """Open ``source`` lazily and read its tuning subset (and suggest its parameters).

    Parameters
    ----------
    source : array-like, Recording, str or pathlib.Path
        What :func:`calab.engine.reading.open_trace_array` opens; a path is
        opened with :func:`calab.open_recording`.
    fs : float or None
        Sampling rate in Hz (> 0). The rate a file records is used (``fs``, when
        given, must agree); otherwise ``fs`` defaults to 30 Hz.
    cells : sequence of int, optional
        Original indices of the cells shown first.
    max_cells, max_minutes : int, float
        Limits of the automatically chosen subset.
    suggest : bool, optional
        Also run :func:`calab.suggest_params` on the recording (its
        ``Dataset.suggestion``, which the app opens at); off by default.

    Returns
    -------
    Dataset
        Keeps the source open; :meth:`Dataset.close` releases it.

    Examples
    --------
    >>> data = np.arange(40.0).reshape(4, 10)
    >>> dataset = load_dataset(data, 10.0)
    >>> dataset.read_window(np.array([3]), 2, 5).tolist()
    [[32.0, 33.0, 34.0]]
    """
    from calab.core.options import positive_number

    if isinstance(source, (str, os.PathLike)):
        source = open_recording(source, fs=fs)
    if isinstance(source, Recording) and source.fs is not None:
        fs = source.with_fs(fs).fs
    fs = positive_number("fs", DEFAULT_FS if fs is None else fs)
    if isinstance(max_cells, bool) or not isinstance(max_cells, (int, np.integer)) or max_cells < 1:
        raise ValueError(f"max_cells={max_cells!r} must be an integer >= 1")
    array, description, closer = open_trace_array(source)
    try:
        subset = subset_of_array(array, description, fs, cells=cells, max_cells=int(max_cells),
                                 max_minutes=max_minutes)
        suggestion = suggestion_document(array, fs) if suggest else None
    except BaseException:
        closer()
        raise
    return Dataset(subset, fs, array, closer, suggestion)
