"""Checks of trace matrices: the array every entry point hands to the core.

Parameter checks live in :mod:`calab.core.options`. Each check here raises an
error of the :mod:`calab.errors` family (a ``ValueError`` or ``TypeError``)
naming the argument, what was received and what is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from calab.core.options import NAN_POLICIES, choice
from calab.errors import InvalidParameterError, ParameterTypeError

MAX_INTERPOLATED_GAP = 50


def as_trace_matrix(
    traces: Any, name: str = "traces", nan_policy: str = "raise"
) -> tuple[np.ndarray, bool]:
    """Return ``traces`` as a C-contiguous float64 ``(n_cells, n_timepoints)`` array.

    The second value tells whether the input was a single 1-D trace.
    Strided and non-contiguous inputs are copied into a contiguous array.
    """
    choice("nan_policy", nan_policy, NAN_POLICIES)
    array = as_numeric_array(traces, name)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise ParameterTypeError(
            f"{name} must be a numeric array; got dtype {array.dtype} "
            f"(convert with np.asarray(..., dtype=float))", argument=name,
        )
    if np.iscomplexobj(array):
        raise ParameterTypeError(
            f"{name} must be real-valued; got complex dtype {array.dtype}", argument=name
        )
    if array.ndim not in (1, 2):
        raise InvalidParameterError(
            f"{name} must be 1-D (n_timepoints,) or 2-D (n_cells, n_timepoints); "
            f"got {array.ndim}-D with shape {array.shape}", argument=name,
        )
    if array.size == 0:
        raise InvalidParameterError(
            f"{name} is empty (shape {array.shape}); need at least one sample", argument=name
        )
    was_1d = array.ndim == 1
    matrix = np.ascontiguousarray(np.atleast_2d(array), dtype=np.float64)
    if matrix is array or np.shares_memory(matrix, array):
        matrix = matrix.copy()
    _handle_non_finite(matrix, name, nan_policy)
    return matrix, was_1d


def _handle_non_finite(matrix: np.ndarray, name: str, nan_policy: str) -> None:
    bad = ~np.isfinite(matrix)
    if not bad.any():
        return
    bad_per_cell = bad.sum(axis=1)
    cells = np.flatnonzero(bad_per_cell)
    if nan_policy == "interpolate" and _fill_gaps(matrix, bad, cells):
        return
    preview = ", ".join(f"cell {c}: {bad_per_cell[c]} samples" for c in cells[:5])
    more = f" and {len(cells) - 5} more cells" if len(cells) > 5 else ""
    hint = (
        f"; nan_policy='interpolate' fills gaps of up to {MAX_INTERPOLATED_GAP} samples"
        if nan_policy == "raise"
        else f"; gaps longer than {MAX_INTERPOLATED_GAP} samples or all-NaN cells "
        "cannot be interpolated"
    )
    raise InvalidParameterError(
        f"{name} contains NaN or inf values ({preview}{more}){hint}", argument=name
    )


def as_numeric_array(traces: Any, name: str) -> np.ndarray:
    """``np.asarray(traces)``, with NumPy's errors for ragged or odd input made clear."""
    try:
        return np.asarray(traces)
    except (ValueError, TypeError, OverflowError):
        if isinstance(traces, (list, tuple)):
            lengths = sorted({len(row) for row in traces if hasattr(row, "__len__")})
            if len(lengths) > 1:
                raise InvalidParameterError(
                    f"{name} is ragged: its rows have lengths {lengths[:5]}; every trace "
                    "must have the same number of timepoints (n_cells, n_timepoints)",
                    argument=name,
                ) from None
        raise ParameterTypeError(
            f"{name} (a {type(traces).__name__}) cannot be read as a numeric array: its "
            "items are not numbers or sequences of numbers of one length; pass a NumPy "
            "array of shape (n_timepoints,) or (n_cells, n_timepoints)",
            argument=name,
        ) from None


def _fill_gaps(matrix: np.ndarray, bad: np.ndarray, cells: np.ndarray) -> bool:
    """Linearly interpolate short non-finite gaps in place; False if impossible."""
    for cell in cells:
        mask = bad[cell]
        if mask.all() or _longest_run(mask) > MAX_INTERPOLATED_GAP:
            return False
    for cell in cells:
        mask = bad[cell]
        idx = np.arange(matrix.shape[1])
        matrix[cell, mask] = np.interp(idx[mask], idx[~mask], matrix[cell, ~mask])
    return True


def _longest_run(mask: np.ndarray) -> int:
    padded = np.concatenate(([0], mask.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max()) if edges.size else 0
