"""Reading the part of a recording :func:`calab.core.suggest.suggest_params` looks at.

Any array-like with ``shape`` and NumPy-style indexing works (NumPy, dask,
zarr, h5py): only the chosen cells and the centred time window are read, by
indexing with NumPy indices, and the result is turned into an in-memory
float64 matrix with short NaN gaps filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calab.core.checks import integer_in_range, positive_number
from calab.core.subsample import candidate_rows, chunk_rows, read_rows, time_window
from calab.core.validation import as_numeric_array
from calab.errors import InvalidParameterError, ParameterTypeError

#: Fewest samples per trace anything can be estimated from.
MIN_SAMPLES = 32
#: Largest ``max_cells`` and ``seed`` accepted.
MAX_CELLS = 10_000_000
MAX_SEED = 2**63 - 1


@dataclass
class Subsample:
    """The cells and window read, as a finite float64 matrix."""

    matrix: np.ndarray
    cells: np.ndarray
    usable: np.ndarray
    finite: np.ndarray
    window: tuple[int, int]
    n_cells: int
    reasons: list[str] = field(default_factory=list)


def read_subsample(traces: Any, fs: float, *, max_cells: int, max_seconds: float,
                   seed: int) -> Subsample:
    """Read up to ``max_cells`` cells over at most ``max_seconds`` (centred).

    Cells are spread evenly over the recording in whole storage chunks
    (:func:`calab.core.subsample.candidate_rows`); ``seed`` shifts which cell
    of each stride is taken, deterministically.
    """
    if isinstance(traces, (list, tuple)):
        traces = as_numeric_array(traces, "traces")
    shape = _shape_of(traces)
    _check_dtype(traces)
    one_d = len(shape) == 1
    n_cells, n_time = (1, shape[0]) if one_d else shape
    if n_cells == 0 or n_time == 0:
        raise InvalidParameterError(f"traces has shape {shape}: it is empty; pass at least "
                                    f"one cell of {MIN_SAMPLES} samples or more",
                                    argument="traces")
    if n_time < MIN_SAMPLES:
        raise InvalidParameterError(f"traces has {n_time} samples per cell; at least "
                                    f"{MIN_SAMPLES} are needed to estimate anything",
                                    argument="traces")
    max_cells = integer_in_range("max_cells", max_cells, 1, MAX_CELLS)
    seed = integer_in_range("seed", seed, 0, MAX_SEED)
    max_seconds = positive_number("max_seconds", max_seconds)
    start, stop = time_window(n_time, fs, max_seconds / 60.0)
    if stop - start < MIN_SAMPLES:
        start = max(0, (n_time - MIN_SAMPLES) // 2)
        stop = start + MIN_SAMPLES
    cells = _choose_cells(traces, n_cells, int(max_cells), seed) if not one_d else np.arange(1)
    raw = traces[start:stop][None, :] if one_d else read_rows(traces, cells, start, stop)
    matrix = np.array(raw, dtype=np.float64, copy=True)
    finite = np.isfinite(matrix)
    usable, reasons = _clean(matrix)
    return Subsample(matrix, cells, usable, finite, (int(start), int(stop)), n_cells, reasons)


def _shape_of(traces: Any) -> tuple[int, ...]:
    shape = getattr(traces, "shape", None)
    if shape is None:
        raise ParameterTypeError(f"traces must be an array (NumPy, dask, zarr, ...) with a "
                                 f"shape; got {type(traces).__name__}", argument="traces")
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (1, 2):
        raise InvalidParameterError(f"traces must be 1-D or 2-D (cells x time); got shape "
                                    f"{shape}", argument="traces")
    return shape


def _check_dtype(traces: Any) -> None:
    """Refuse complex, boolean, text and object data (anything but real numbers)."""
    dtype = getattr(traces, "dtype", None)
    if dtype is None:
        return
    try:
        kind = np.dtype(dtype).kind
    except TypeError:  # a library's own dtype object NumPy does not know
        return
    if kind not in "iuf":
        raise ParameterTypeError(f"traces must hold real numbers (integers or floats); got "
                                 f"dtype {np.dtype(dtype)}", argument="traces")


def _choose_cells(traces: Any, n_cells: int, max_cells: int, seed: int) -> np.ndarray:
    if n_cells <= max_cells:
        return np.arange(n_cells, dtype=np.int64)
    rows_per_chunk = chunk_rows(traces)
    if rows_per_chunk <= 1:
        stride = n_cells / max_cells
        shift = (seed % max(1, int(stride))) if stride >= 2 else 0
        rows = np.floor(np.arange(max_cells) * stride).astype(np.int64) + shift
        return np.unique(np.clip(rows, 0, n_cells - 1))
    rows = candidate_rows(n_cells, rows_per_chunk, max_cells)
    if rows.size > max_cells:  # several whole chunks: keep every k-th row of them
        rows = rows[np.round(np.linspace(0, rows.size - 1, max_cells)).astype(np.int64)]
    return np.unique(rows)


def _clean(matrix: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Fill NaN gaps in place; mark all-NaN and constant rows unusable."""
    if not np.issubdtype(matrix.dtype, np.floating):
        raise ParameterTypeError("traces must hold real numbers", argument="traces")
    finite = np.isfinite(matrix)
    counts = finite.sum(axis=1)
    usable = counts >= MIN_SAMPLES
    if not usable.any():
        raise InvalidParameterError("traces: every cell read is all NaN or infinite (fewer "
                                    f"than {MIN_SAMPLES} finite samples); nothing to estimate",
                                    argument="traces")
    times = np.arange(matrix.shape[1])
    for row in np.flatnonzero(usable & (counts < matrix.shape[1])):
        good = finite[row]
        matrix[row, ~good] = np.interp(times[~good], times[good], matrix[row, good])
    matrix[~usable] = 0.0
    flat = np.ptp(matrix, axis=1) <= 1e-12 * np.maximum(np.abs(matrix).max(axis=1), 1e-300)
    usable &= ~flat
    if not usable.any():
        raise InvalidParameterError("traces: every cell read is constant; nothing to estimate "
                                    "(is this the right dataset?)", argument="traces")
    return usable, []
