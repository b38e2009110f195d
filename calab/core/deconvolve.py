"""Deconvolution of in-memory NumPy traces: preprocessing, solve, result."""

from __future__ import annotations

import numpy as np

from calab.core.convolution import convolve
from calab.core.fista import SolverOutput, solve
from calab.core.kernel import KernelSpec, kernel_spec
from calab.core.preprocess import bandpass_filter, rolling_baseline
from calab.core.result import DeconvolutionResult
from calab.core.validation import (
    as_trace_matrix,
    check_flag,
    check_lambda,
    check_solver_options,
)

DEFAULT_TOL = 1e-4


def deconvolve_matrix(
    traces: np.ndarray,
    fs: float,
    tau_r: float,
    tau_d: float,
    lam: float,
    max_iters: int = 2000,
    conv_mode: str = "fft",
    constraint: str = "nonneg",
    *,
    tol: float = DEFAULT_TOL,
    filter_enabled: bool = False,
    nan_policy: str = "raise",
    warm_start: np.ndarray | None = None,
) -> DeconvolutionResult:
    """Deconvolve NumPy traces; the engine of ``calab.run_deconvolution_full``.

    Parameters and return value are those of :func:`calab.run_deconvolution_full`;
    1-D input gives the single-trace (squeezed) result. ``warm_start`` (activity
    of the same shape as ``traces``, e.g. the solution for nearby parameters)
    starts the solver there instead of at zero.
    """
    matrix, was_1d, y, spec, output = _solve_matrix(
        traces, fs, tau_r, tau_d, lam, max_iters, conv_mode, constraint,
        tol=tol, filter_enabled=filter_enabled, nan_policy=nan_policy, warm_start=warm_start,
    )
    fit = convolve(output.activity, spec, conv_mode)
    reconvolution = matrix - (y - fit)
    result = DeconvolutionResult(
        activity=output.activity,
        baseline=(matrix - fit).mean(axis=1),
        reconvolution=reconvolution,
        iterations=output.iterations,
        converged=output.converged,
    )
    return result.squeeze() if was_1d else result


def deconvolve_activity(
    traces: np.ndarray,
    fs: float,
    tau_r: float,
    tau_d: float,
    lam: float,
    max_iters: int = 2000,
    conv_mode: str = "fft",
    constraint: str = "nonneg",
    *,
    tol: float = DEFAULT_TOL,
    filter_enabled: bool = False,
    nan_policy: str = "raise",
) -> np.ndarray:
    """The activity of :func:`deconvolve_matrix` alone, without computing the diagnostics.

    The engine of ``calab.run_deconvolution`` on NumPy input.
    """
    _, was_1d, _, _, output = _solve_matrix(
        traces, fs, tau_r, tau_d, lam, max_iters, conv_mode, constraint,
        tol=tol, filter_enabled=filter_enabled, nan_policy=nan_policy, warm_start=None,
    )
    return output.activity[0] if was_1d else output.activity


def _solve_matrix(
    traces, fs, tau_r, tau_d, lam, max_iters, conv_mode, constraint, *,
    tol, filter_enabled, nan_policy, warm_start,
) -> tuple[np.ndarray, bool, np.ndarray, KernelSpec, SolverOutput]:
    """Validate, preprocess and solve: ``(matrix, was_1d, y, spec, solver output)``."""
    spec = kernel_spec(tau_r, tau_d, fs)
    lam = check_lambda(lam)
    max_iters, conv_mode, constraint, tol = check_solver_options(
        max_iters, conv_mode, constraint, tol
    )
    filter_enabled = check_flag("filter_enabled", filter_enabled)
    matrix, was_1d = as_trace_matrix(traces, nan_policy=nan_policy)
    init = _warm_start_matrix(warm_start, matrix.shape, constraint)
    y = preprocess(matrix, tau_r, tau_d, fs, filter_enabled)
    output = solve(
        y, spec, lam, max_iters=max_iters, tol=tol, conv_mode=conv_mode, constraint=constraint,
        init=init,
    )
    return matrix, was_1d, y, spec, output


def _warm_start_matrix(
    warm_start: np.ndarray | None, shape: tuple[int, int], constraint: str
) -> np.ndarray | None:
    if warm_start is None:
        return None
    init, _ = as_trace_matrix(warm_start, name="warm_start")
    if init.shape != shape:
        raise ValueError(
            f"warm_start has shape {init.shape}; it must match the traces, {shape}"
        )
    return np.clip(init, 0.0, 1.0 if constraint == "box01" else None)


def preprocess(
    matrix: np.ndarray, tau_r: float, tau_d: float, fs: float, filter_enabled: bool
) -> np.ndarray:
    """The ``y`` of the objective: optional bandpass, then rolling-baseline removal."""
    if filter_enabled:
        matrix = bandpass_filter(matrix, tau_r, tau_d, fs)
    return matrix - rolling_baseline(matrix, tau_d, fs)
