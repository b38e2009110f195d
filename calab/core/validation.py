"""Argument checks shared by every public entry point.

Each check raises ``ValueError`` or ``TypeError`` naming the argument, the
value received and what is allowed, before any heavy work starts.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

CONV_MODES = ("fft", "banded")
CONSTRAINTS = ("nonneg", "box01")
NAN_POLICIES = ("raise", "interpolate")
MAX_INTERPOLATED_GAP = 50


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a float, requiring a finite number > 0."""
    number = _as_real(name, value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return number


def check_lambda(value: Any, name: str = "lam") -> float:
    """Return the sparsity penalty as a float, requiring a finite number >= 0."""
    number = _as_real(name, value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name}={value!r} must be a finite number >= 0")
    return number


def check_time_constants(tau_r: Any, tau_d: Any, fs: Any) -> tuple[float, float, float]:
    """Validate rise/decay time constants (seconds) and the sampling rate (Hz)."""
    tau_r = check_positive("tau_r", tau_r)
    tau_d = check_positive("tau_d", tau_d)
    fs = check_positive("fs", fs)
    if tau_r >= tau_d:
        raise ValueError(f"tau_r={tau_r} must be smaller than tau_d={tau_d}")
    return tau_r, tau_d, fs


def check_solver_options(
    max_iters: Any, conv_mode: Any, constraint: Any, tol: Any
) -> tuple[int, str, str, float]:
    """Validate the FISTA options shared by every solver entry point."""
    if isinstance(max_iters, bool) or not isinstance(max_iters, (int, np.integer)):
        raise TypeError(f"max_iters={max_iters!r} must be an integer >= 1")
    if max_iters < 1:
        raise ValueError(f"max_iters={max_iters!r} must be an integer >= 1")
    check_choice("conv_mode", conv_mode, CONV_MODES)
    check_choice("constraint", constraint, CONSTRAINTS)
    tol = check_positive("tol", tol)
    return int(max_iters), conv_mode, constraint, tol


def check_flag(name: str, value: Any) -> bool:
    """Require a real boolean (``True``/``False``, NumPy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r} must be True or False")
    return bool(value)


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """Require ``value`` to be one of the ``allowed`` strings."""
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name}={value!r} is not supported; use one of {choices}")
    return value


def as_trace_matrix(
    traces: Any, name: str = "traces", nan_policy: str = "raise"
) -> tuple[np.ndarray, bool]:
    """Return ``traces`` as a C-contiguous float64 ``(n_cells, n_timepoints)`` array.

    The second value tells whether the input was a single 1-D trace.
    Strided and non-contiguous inputs are copied into a contiguous array.
    """
    check_choice("nan_policy", nan_policy, NAN_POLICIES)
    array = np.asarray(traces)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise TypeError(
            f"{name} must be a numeric array; got dtype {array.dtype} "
            f"(convert with np.asarray(..., dtype=float))"
        )
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real-valued; got complex dtype {array.dtype}")
    if array.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (n_timepoints,) or 2-D (n_cells, n_timepoints); "
            f"got {array.ndim}-D with shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); need at least one sample")
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
    raise ValueError(f"{name} contains NaN or inf values ({preview}{more}){hint}")


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


def _as_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)):
        raise TypeError(f"{name}={value!r} must be a real number")
    return float(value)
