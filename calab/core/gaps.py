"""Missing samples (NaN, inf) in calcium traces: find them and bridge the gaps.

Recordings sometimes carry NaN where a frame was dropped or a cell left the
field of view. The interactive tuning app shows such cells anyway, with the
gaps filled by straight lines between the neighbouring finite samples (a
constant before the first and after the last), and says so on the card.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GapReport:
    """Per-cell description of the samples that were filled.

    Attributes
    ----------
    missing : numpy.ndarray
        ``(n_cells,)`` int64: how many samples were not finite.
    longest : numpy.ndarray
        ``(n_cells,)`` int64: length of the longest run of them, in samples.
    empty : numpy.ndarray
        ``(n_cells,)`` bool: no finite sample at all (filled with zeros).
    """

    missing: np.ndarray
    longest: np.ndarray
    empty: np.ndarray


def interpolate_gaps(matrix: np.ndarray) -> tuple[np.ndarray, GapReport]:
    """Fill non-finite samples by linear interpolation along time.

    Parameters
    ----------
    matrix : numpy.ndarray
        ``(n_cells, n_timepoints)`` traces, any real dtype.

    Returns
    -------
    filled : numpy.ndarray
        ``(n_cells, n_timepoints)`` float64 without NaN or inf (the input
        itself, converted, when nothing was missing). A cell without any finite
        sample becomes zeros.
    report : GapReport
        What was filled, per cell.

    Examples
    --------
    >>> filled, report = interpolate_gaps(np.array([[1.0, np.nan, np.nan, 4.0, np.nan]]))
    >>> filled.tolist(), report.missing.tolist(), report.longest.tolist()
    ([[1.0, 2.0, 3.0, 4.0, 4.0]], [3], [2])
    """
    data = np.asarray(matrix, dtype=np.float64)
    bad = ~np.isfinite(data)
    n_cells = data.shape[0]
    missing = bad.sum(axis=1).astype(np.int64)
    longest = np.zeros(n_cells, dtype=np.int64)
    empty = missing == data.shape[1]
    if not missing.any():
        return data, GapReport(missing, longest, empty)
    data = data.copy()
    index = np.arange(data.shape[1])
    for row in np.flatnonzero(missing):
        longest[row] = _longest_run(bad[row])
        if empty[row]:
            data[row] = 0.0
            continue
        good = ~bad[row]
        data[row, bad[row]] = np.interp(index[bad[row]], index[good], data[row, good])
    return data, GapReport(missing, longest, empty)


def _longest_run(flags: np.ndarray) -> int:
    """Length of the longest run of True values in a 1-D boolean array."""
    padded = np.concatenate(([False], flags, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[0::2]).max()) if edges.size else 0
