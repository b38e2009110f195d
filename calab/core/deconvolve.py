"""Deconvolution of in-memory NumPy traces: preprocessing, solve, result.

Every function here takes the traces and one validated
:class:`calab.core.options.DeconvolutionOptions`; nothing is validated twice.
Per-cell parameters are solved group by group (cells sharing their scalar
parameters) and scattered back, so a cell's result is exactly the one of
solving it alone with its own scalars.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from calab.core.convolution import convolve
from calab.core.fista import SolverOutput, solve
from calab.core.kernel import KernelSpec, kernel_spec
from calab.core.options import DeconvolutionOptions
from calab.core.preprocess import bandpass_filter, rolling_baseline
from calab.core.result import DeconvolutionResult
from calab.core.validation import as_trace_matrix
from calab.errors import InvalidParameterError

CellIndex = np.ndarray | slice

__all__ = ["deconvolve_activity", "deconvolve_matrix", "preprocess"]


def deconvolve_matrix(
    traces: np.ndarray, options: DeconvolutionOptions, *, warm_start: np.ndarray | None = None
) -> DeconvolutionResult:
    """Deconvolve NumPy traces; the engine of ``calab.run_deconvolution_full``.

    Parameters
    ----------
    traces : numpy.ndarray
        ``(n_timepoints,)`` or ``(n_cells, n_timepoints)`` fluorescence.
    options : DeconvolutionOptions
        Validated parameters (scalars, or one value per cell).
    warm_start : numpy.ndarray, optional
        Keyword-only. Activity of the same shape as ``traces`` (e.g. the
        solution for nearby parameters) to start the solver from instead of zero.

    Returns
    -------
    DeconvolutionResult
        As :func:`calab.run_deconvolution_full`; 1-D input gives the
        single-trace (squeezed) result.

    Examples
    --------
    >>> import numpy as np
    >>> opts = DeconvolutionOptions(fs=30.0, tau_r=0.1, tau_d=0.6, lam=0.5)
    >>> result = deconvolve_matrix(np.random.default_rng(0).normal(size=(3, 200)), opts)
    >>> result.activity.shape, result.iterations.shape
    ((3, 200), (3,))
    """
    matrix, was_1d = _checked_matrix(traces, options)
    init = _warm_start_matrix(warm_start, matrix.shape, options.constraint)
    groups = options.cell_groups()
    parts = [_full_result(matrix[cells], group, None if init is None else init[cells])
             for cells, group in groups]
    result = parts[0] if len(parts) == 1 else _scatter(groups, matrix.shape, parts)
    return result.squeeze() if was_1d else result


def deconvolve_activity(traces: np.ndarray, options: DeconvolutionOptions) -> np.ndarray:
    """The activity of :func:`deconvolve_matrix` alone, without computing the diagnostics.

    The engine of ``calab.run_deconvolution`` on NumPy input.
    """
    matrix, was_1d = _checked_matrix(traces, options)
    activity = _by_group(matrix, options, lambda rows, group: _solve(rows, group, None)[2]
                         .activity)
    return np.asarray(activity[0] if was_1d else activity)


def preprocess(
    matrix: np.ndarray, tau_r: float, tau_d: float, fs: float, filter_enabled: bool
) -> np.ndarray:
    """The ``y`` of the objective: optional bandpass, then rolling-baseline removal."""
    if filter_enabled:
        matrix = bandpass_filter(matrix, tau_r, tau_d, fs)
    return np.asarray(matrix - rolling_baseline(matrix, tau_d, fs))


def _checked_matrix(traces: np.ndarray, options: DeconvolutionOptions) -> tuple[np.ndarray, bool]:
    matrix, was_1d = as_trace_matrix(traces, nan_policy=options.nan_policy)
    options.check_recording(*matrix.shape)
    return matrix, was_1d


def _solve(
    matrix: np.ndarray, options: DeconvolutionOptions, init: np.ndarray | None
) -> tuple[np.ndarray, KernelSpec, SolverOutput]:
    """Preprocess and solve traces with scalar options: ``(y, kernel, solver output)``."""
    tau_r, tau_d, lam = float(options.tau_r), float(options.tau_d), float(options.lam)
    spec = kernel_spec(tau_r, tau_d, options.fs)
    y = preprocess(matrix, tau_r, tau_d, options.fs, options.filter_enabled)
    output = solve(
        y, spec, lam, max_iters=options.max_iters, tol=options.tol,
        conv_mode=options.conv_mode, constraint=options.constraint, init=init,
    )
    return y, spec, output


def _full_result(
    matrix: np.ndarray, options: DeconvolutionOptions, init: np.ndarray | None
) -> DeconvolutionResult:
    y, spec, output = _solve(matrix, options, init)
    fit = convolve(output.activity, spec, options.conv_mode)
    return DeconvolutionResult(
        activity=output.activity,
        baseline=(matrix - fit).mean(axis=1),
        reconvolution=matrix - (y - fit),
        iterations=output.iterations,
        converged=output.converged,
    )


def _by_group(
    matrix: np.ndarray, options: DeconvolutionOptions,
    solve_group: Callable[[np.ndarray, DeconvolutionOptions], np.ndarray],
) -> np.ndarray:
    """Apply ``solve_group`` to each group of cells sharing scalar options; scatter back."""
    groups = options.cell_groups()
    if len(groups) == 1:
        return solve_group(matrix, groups[0][1])
    out = np.empty_like(matrix)
    for cells, group in groups:
        out[cells] = solve_group(matrix[cells], group)
    return out


def _scatter(
    groups: list[tuple[CellIndex, DeconvolutionOptions]], shape: tuple[int, int],
    parts: list[DeconvolutionResult],
) -> DeconvolutionResult:
    """One result for all cells from the results of the cell groups."""
    merged = [np.empty(shape), np.empty(shape[0]), np.empty(shape),
              np.empty(shape[0], dtype=np.int64), np.empty(shape[0], dtype=bool)]
    for (cells, _), part in zip(groups, parts, strict=True):
        for target, values in zip(merged, part, strict=True):
            target[cells] = values
    return DeconvolutionResult(*merged)


def _warm_start_matrix(
    warm_start: np.ndarray | None, shape: tuple[int, int], constraint: str
) -> np.ndarray | None:
    if warm_start is None:
        return None
    init, _ = as_trace_matrix(warm_start, name="warm_start")
    if init.shape != shape:
        raise InvalidParameterError(
            f"warm_start has shape {init.shape}; it must match the traces, {shape}",
            argument="warm_start",
        )
    return np.asarray(np.clip(init, 0.0, 1.0 if constraint == "box01" else None))
