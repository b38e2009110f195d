"""Lazy reading of a representative subset of a recording, for interactive tuning.

:func:`read_tuning_subset` opens NumPy arrays, memory-mapped ``.npy`` files,
dask arrays, zarr arrays/stores and HDF5 datasets alike and reads only what
interactive tuning needs: a centred time window of at most ``max_minutes`` and
up to ``max_cells`` cells spread over the SNR range. For a large store the SNR
is estimated on a bounded set of candidate rows (whole storage chunks spread
over the recording), so even a store of many gigabytes opens in seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from calab.core.gaps import interpolate_gaps
from calab.core.subsample import (
    candidate_rows,
    check_cell_indices,
    chunk_rows,
    estimate_snr,
    read_rows,
    spread_over_range,
    time_window,
)
from calab.io.opener import open_recording
from calab.io.recording import Recording

#: Bytes of candidate rows read to estimate SNR when choosing cells automatically.
CANDIDATE_BYTES = 64 * 2**20
#: Samples (centred in the window) on which the SNR of candidates is estimated.
SNR_PROBE_SAMPLES = 1800


@dataclass(frozen=True)
class TuningSubset:
    """The part of a recording shown in the tuning app.

    Attributes
    ----------
    traces : numpy.ndarray
        ``(n_cells, n_window)`` float64 traces of the chosen cells and window.
    cell_indices : numpy.ndarray
        ``(n_cells,)`` original row index of each chosen cell.
    start : int
        First sample of the window in the original recording.
    total_cells, total_timepoints : int
        Shape of the original recording.
    snr : numpy.ndarray
        ``(n_cells,)`` robust SNR estimate of each chosen cell.
    source : str
        A short description of where the data came from.
    """

    traces: np.ndarray
    cell_indices: np.ndarray
    start: int
    total_cells: int
    total_timepoints: int
    snr: np.ndarray
    source: str


def read_tuning_subset(
    source: Any,
    fs: float,
    *,
    cells: Any = None,
    max_cells: int = 64,
    max_minutes: float = 10.0,
    candidate_bytes: int = CANDIDATE_BYTES,
) -> TuningSubset:
    """Read the cells and time window to tune on, lazily for large inputs.

    Parameters
    ----------
    source : array-like, Recording, str or pathlib.Path
        ``(n_cells, n_timepoints)`` or ``(n_timepoints,)`` NumPy, dask or zarr
        array, a recording from :func:`calab.open_recording`, or a path it opens.
    fs : float
        Sampling rate in Hz.
    cells : sequence of int, optional
        Keyword-only. Original indices of the cells to show; by default up to
        ``max_cells`` cells spread over the SNR range.
    max_cells : int, optional
        Keyword-only. Most cells chosen automatically (default 64).
    max_minutes : float, optional
        Keyword-only. Longest time window in minutes (default 10), centred.
    candidate_bytes : int, optional
        Keyword-only. Read budget for the SNR survey of large inputs.

    Returns
    -------
    TuningSubset

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> subset = read_tuning_subset(rng.normal(size=(100, 600)), 30.0, max_cells=8)
    >>> subset.traces.shape, subset.cell_indices.shape
    ((8, 600), (8,))
    """
    if isinstance(max_cells, bool) or not isinstance(max_cells, (int, np.integer)) or max_cells < 1:
        raise ValueError(f"max_cells={max_cells!r} must be an integer >= 1")
    array, description, closer = open_trace_array(source)
    try:
        return subset_of_array(array, description, fs, cells=cells, max_cells=int(max_cells),
                               max_minutes=max_minutes, candidate_bytes=candidate_bytes)
    finally:
        closer()


def subset_of_array(
    array: Any,
    description: str,
    fs: float,
    *,
    cells: Any = None,
    max_cells: int = 64,
    max_minutes: float = 10.0,
    candidate_bytes: int = CANDIDATE_BYTES,
) -> TuningSubset:
    """:func:`read_tuning_subset` of an array already opened by :func:`open_trace_array`.

    The caller keeps the array open (the tuning bridge reads other cells and
    windows from it later). Cells with some missing (NaN/inf) samples are kept;
    only cells without a single finite sample are passed over when choosing
    automatically.

    Examples
    --------
    >>> data = np.random.default_rng(1).normal(size=(20, 300))
    >>> data[:, 5] = np.nan  # one missing sample in every cell
    >>> subset_of_array(data, "demo", 30.0, max_cells=4).cell_indices.shape
    (4,)
    """
    n_cells, n_time = array.shape
    start, stop = time_window(n_time, fs, max_minutes)
    if cells is not None:
        rows = check_cell_indices(cells, n_cells)
        traces = read_rows(array, rows, start, stop)
        return TuningSubset(traces, rows, start, n_cells, n_time,
                            estimate_snr(interpolate_gaps(traces)[0]), description)
    itemsize = np.dtype(array.dtype).itemsize
    budget_rows = max(max_cells, candidate_bytes // max(1, (stop - start) * itemsize))
    rows = candidate_rows(n_cells, chunk_rows(array), int(budget_rows))
    block = read_rows(array, rows, start, stop, dtype=None)
    probe = _finite_probe(block, description)
    rows, block, probe = rows[probe.usable], block[probe.usable], probe.filled[probe.usable]
    offset = max(0, (block.shape[1] - SNR_PROBE_SAMPLES) // 2)
    snr = estimate_snr(probe[:, offset : offset + SNR_PROBE_SAMPLES])
    chosen = spread_over_range(snr, max_cells)
    traces = np.asarray(block[chosen], dtype=np.float64)
    return TuningSubset(traces, rows[chosen], start, n_cells, n_time, snr[chosen], description)


@dataclass(frozen=True)
class _Probe:
    usable: np.ndarray
    filled: np.ndarray


def _finite_probe(block: np.ndarray, description: str) -> _Probe:
    """Rows with at least one finite sample, and the block with its gaps filled."""
    finite = np.isfinite(block).all(axis=1)
    if finite.all():
        return _Probe(finite, block)
    filled, report = interpolate_gaps(block)
    usable = ~report.empty
    if not usable.any():
        raise ValueError(f"traces from {description} contain no finite value in any cell")
    return _Probe(usable, filled)


def open_trace_array(source: Any) -> tuple[Any, str, Any]:
    """Return ``(2-D array-like, description, close)`` for any supported source.

    Paths are opened by :func:`calab.open_recording`; recordings give their
    file-backed traces; arrays are checked for shape and dtype.
    """
    if isinstance(source, (str, os.PathLike)):
        source = open_recording(source)
    if isinstance(source, Recording):
        name = Path(source.source).name or source.source
        label = name if source.dataset is None else f"{name}:{source.dataset}"
        return source.traces, label, lambda: None
    if not hasattr(source, "shape") or not hasattr(source, "dtype"):
        source = np.asarray(source)
    kind = type(source).__module__.split(".")[0]
    array = _as_2d(source, "traces")
    return array, f"{kind} array {tuple(array.shape)}", lambda: None


def _as_2d(array: Any, name: str) -> Any:
    if len(array.shape) == 1:  # one trace: small enough to hold in memory
        array = np.asarray(array[:]).reshape(1, -1)
    if len(array.shape) != 2:
        raise ValueError(
            f"{name} must be 1-D (n_timepoints,) or 2-D (n_cells, n_timepoints); "
            f"got shape {tuple(array.shape)}"
        )
    if 0 in array.shape:
        raise ValueError(f"{name} is empty (shape {tuple(array.shape)})")
    dtype = np.dtype(array.dtype)
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(f"{name} must be a real numeric array; got dtype {dtype}")
    return array
