"""Choosing a small, representative part of a recording for interactive tuning.

Interactive tuning shows a few dozen cells over a few minutes. Which cells and
which minutes matter: the first rows of a recording are often all dim or all
bright, so the cells are chosen spread over the range of a robust
signal-to-noise estimate, and the time window is taken from the middle of the
recording (away from start-up transients such as fast photobleaching).

Everything here works on in-memory NumPy arrays or on index arithmetic; the
lazy reading of large stores lives in :mod:`calab.engine.reading`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from calab.core.options import positive_number
from calab.errors import InvalidParameterError

# MAD of Gaussian noise -> its standard deviation; first differences double the variance.
_MAD_TO_SIGMA = 1.0 / (0.6745 * math.sqrt(2.0))
#: Fewest storage chunks an SNR survey of a large recording spans.
MIN_SURVEY_CHUNKS = 4


def estimate_snr(matrix: np.ndarray) -> np.ndarray:
    """Robust per-cell signal-to-noise ratio of calcium traces.

    The noise level is the median absolute deviation of the first differences
    (scaled to a standard deviation); the signal is the spread between the
    99th and 50th percentiles of the trace.

    Parameters
    ----------
    matrix : numpy.ndarray
        ``(n_cells, n_timepoints)`` traces, any real dtype, finite values.

    Returns
    -------
    numpy.ndarray
        ``(n_cells,)`` float64, ``>= 0``; 0 for flat or too-short traces.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> quiet = rng.normal(size=(1, 1000))
    >>> loud = quiet + np.r_[np.zeros(900), 20 * np.ones(100)]
    >>> bool(estimate_snr(np.vstack([quiet, loud]))[1] > 5 * estimate_snr(quiet)[0])
    True
    """
    data = np.asarray(matrix, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] < 3:
        return np.zeros(data.shape[0] if data.ndim == 2 else 0)
    diffs = np.diff(data, axis=1)
    mad = np.median(np.abs(diffs - np.median(diffs, axis=1, keepdims=True)), axis=1)
    noise = mad * _MAD_TO_SIGMA
    p50, p99 = np.percentile(data, [50.0, 99.0], axis=1)
    signal = p99 - p50
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, signal / noise, 0.0)
    return np.nan_to_num(snr, nan=0.0, posinf=0.0, neginf=0.0)


def spread_over_range(scores: np.ndarray, max_count: int) -> np.ndarray:
    """Indices of up to ``max_count`` items spread evenly over the ranked ``scores``.

    The items are ranked by score and picked at evenly spaced ranks, so the
    lowest and the highest score are always included.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n,)`` scores (for example SNR).
    max_count : int
        How many to pick (``>= 1``).

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices into ``scores``; all of them when ``n <= max_count``.

    Examples
    --------
    >>> spread_over_range(np.array([5.0, 1.0, 9.0, 3.0, 7.0]), 3)  # lowest, median, highest
    array([0, 1, 2])
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    if max_count >= n:
        return np.arange(n, dtype=np.int64)
    order = np.argsort(scores, kind="stable")
    ranks = np.unique(np.round(np.linspace(0, n - 1, max_count)).astype(np.int64))
    return np.sort(order[ranks]).astype(np.int64)


def time_window(n_timepoints: int, fs: float, max_minutes: float) -> tuple[int, int]:
    """``(start, stop)`` samples of the centred window of at most ``max_minutes``.

    Parameters
    ----------
    n_timepoints : int
        Length of the recording in samples.
    fs : float
        Sampling rate in Hz.
    max_minutes : float
        Longest window in minutes (``> 0``).

    Returns
    -------
    tuple of int
        The whole recording when it is short enough.

    Examples
    --------
    >>> time_window(36000, 30.0, 10.0)
    (9000, 27000)
    """
    fs = positive_number("fs", fs)
    max_minutes = positive_number("max_minutes", max_minutes)
    length = max(1, round(max_minutes * 60.0 * fs))
    if n_timepoints <= length:
        return 0, int(n_timepoints)
    start = (n_timepoints - length) // 2
    return int(start), int(start + length)


def candidate_rows(n_cells: int, chunk_rows: int, max_candidates: int) -> np.ndarray:
    """Rows to read as SNR candidates when a recording is too large to scan.

    Whole chunks (``chunk_rows`` consecutive cells) are cheap to read together,
    so the candidates are runs of consecutive rows taken from chunks spread
    evenly over the recording. At least ``MIN_SURVEY_CHUNKS`` chunks are
    used (when there are that many), even if that exceeds ``max_candidates``,
    so the survey never sees only one end of the recording.

    Parameters
    ----------
    n_cells : int
        Cells in the recording.
    chunk_rows : int
        Cells per storage chunk (``>= 1``).
    max_candidates : int
        Upper bound on the number of rows returned (``>= 1``).

    Returns
    -------
    numpy.ndarray
        Sorted unique int64 row indices.

    Examples
    --------
    >>> candidate_rows(1000, 100, 250).tolist()[:3], len(candidate_rows(1000, 100, 250))
    ([0, 1, 2], 400)
    """
    if max_candidates >= n_cells:
        return np.arange(n_cells, dtype=np.int64)
    chunk_rows = max(1, int(chunk_rows))
    per_chunk = min(chunk_rows, max_candidates)
    n_chunks = math.ceil(n_cells / chunk_rows)
    wanted = min(n_chunks, max(MIN_SURVEY_CHUNKS, max_candidates // per_chunk))
    chunks = np.unique(np.round(np.linspace(0, n_chunks - 1, wanted)).astype(np.int64))
    runs = [
        np.arange(c * chunk_rows, min(c * chunk_rows + per_chunk, n_cells)) for c in chunks
    ]
    return np.unique(np.concatenate(runs)).astype(np.int64)


def check_cell_indices(cells: object, n_cells: int) -> np.ndarray:
    """Validate an explicit choice of cells; return sorted unique int64 indices.

    ``cells`` is a sequence of integers or a text such as ``"3,17,40-60"``
    (see :func:`parse_cell_spec`).

    Examples
    --------
    >>> check_cell_indices([4, 0, 4], 10)
    array([0, 4])
    >>> check_cell_indices("1,3-5", 10)
    array([1, 3, 4, 5])
    """
    if isinstance(cells, str):
        cells = parse_cell_spec(cells)
    if isinstance(cells, (list, tuple)) and any(isinstance(c, (bool, np.bool_)) for c in cells):
        raise InvalidParameterError(
            f"cells={cells!r} must be a non-empty sequence of integer cell indices; "
            "true/false are not cell indices", argument="cells")
    array = np.asarray(cells)
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"cells={cells!r} must be a non-empty sequence of integer cell indices"
        )
    bad = array[(array < 0) | (array >= n_cells)]
    if bad.size:
        raise ValueError(
            f"cells={cells!r} contains {bad[:5].tolist()}; allowed indices are 0..{n_cells - 1}"
        )
    return np.unique(array).astype(np.int64)


def parse_cell_spec(text: str, limit: int = 100_000) -> list[int]:
    """Cell indices from a text like ``"3,17,40-60"`` (ranges include both ends).

    Parameters
    ----------
    text : str
        Comma-separated integers ``>= 0`` and inclusive ranges ``a-b``.
    limit : int, optional
        Most indices the text may name.

    Returns
    -------
    list of int
        In the order written (duplicates kept; :func:`check_cell_indices` sorts).

    Examples
    --------
    >>> parse_cell_spec("3, 17, 40-43")
    [3, 17, 40, 41, 42, 43]
    """
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        lo, dash, hi = part.partition("-")
        if not lo.strip().isdigit() or (dash and not hi.strip().isdigit()):
            raise ValueError(
                f"cells={text!r}: {part!r} is not an index or a range; write e.g. 3,17,40-60"
            )
        first, last = int(lo), int(hi) if dash else int(lo)
        if last < first:
            raise ValueError(f"cells={text!r}: the range {part!r} runs backwards")
        if len(out) + last - first + 1 > limit:
            raise ValueError(f"cells={text!r} names more than {limit} cells")
        out.extend(range(first, last + 1))
    return out


def chunk_rows(array: Any) -> int:
    """Cells per storage chunk of ``array``: reading any row costs reading its whole chunk."""
    chunks = getattr(array, "chunks", None)
    if not chunks:
        return 1
    first = chunks[0]
    return int(max(first)) if isinstance(first, tuple) else int(first)


def read_rows(
    array: Any, rows: np.ndarray, start: int, stop: int, dtype: Any = np.float64
) -> np.ndarray:
    """Read ``array[rows, start:stop]`` touching only what is needed.

    zarr reads the chunks it needs concurrently, dask computes only those
    rows; NumPy and calab's file-backed arrays index directly (the latter read
    each storage chunk once); other stores without fancy indexing are read run
    by run. The result has ``dtype`` (float64 by default); ``dtype=None`` keeps
    the stored floating type (integers become float64).

    Examples
    --------
    >>> read_rows(np.arange(12).reshape(3, 4), np.array([0, 2]), 1, 3)
    array([[ 1.,  2.],
           [ 9., 10.]])
    """
    if hasattr(array, "oindex"):
        data = array.oindex[rows, start:stop]
    elif type(array).__module__.split(".")[0] == "dask":  # no dask import in core
        data = array[rows][:, start:stop].compute()
    else:
        try:
            data = np.asarray(array[rows, start:stop])
        except (TypeError, IndexError, NotImplementedError, ValueError):
            runs = np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1)
            data = np.concatenate([np.asarray(array[r[0]:r[-1] + 1, start:stop])
                                   for r in runs])
    data = np.asarray(data).reshape(len(rows), stop - start)
    if dtype is None:
        dtype = data.dtype if np.issubdtype(data.dtype, np.floating) else np.float64
    return np.asarray(data, dtype=dtype)
