"""The deconvolution entry points of the public API.

NumPy input is deconvolved in memory by :mod:`calab.core`; a dask array is
handed to :mod:`calab.engine`, which returns lazy dask results computed block
by block with the same core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calab.core.deconvolve import DEFAULT_TOL, deconvolve_activity, deconvolve_matrix
from calab.core.result import DeconvolutionResult


def run_deconvolution(
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
    dims: tuple[str, str] | None = None,
) -> np.ndarray:
    """Deconvolve one or more calcium traces with FISTA.

    Each trace is preprocessed (optional bandpass filter, then the causal
    rolling 20th-percentile baseline is subtracted) and the activity ``s``
    minimising ``0.5*||y - h*s||**2 + lam*G*sum(s)`` subject to ``s >= 0`` is
    found, ``h`` being the peak-normalised double-exponential kernel and
    ``G = sum(h)``.

    Parameters
    ----------
    traces : numpy.ndarray or dask.array.Array
        ``(n_timepoints,)`` or ``(n_cells, n_timepoints)`` fluorescence.
    fs : float
        Sampling rate in Hz.
    tau_r, tau_d : float
        Rise and decay time constants in seconds, ``0 < tau_r < tau_d``.
    lam : float
        Sparsity penalty (>= 0), scaled internally by the kernel gain ``G``.
    max_iters : int, optional
        Maximum FISTA iterations per trace (default 2000).
    conv_mode : {"fft", "banded"}, optional
        ``"fft"``: the truncated kernel of CaTune's FFT mode (default);
        ``"banded"``: the untruncated AR(2) kernel.
    constraint : {"nonneg", "box01"}, optional
        ``s >= 0`` (default) or ``0 <= s <= 1``.
    tol : float, optional
        Keyword-only. A trace converges when the relative change of ``s``
        between iterations falls below ``tol`` (default 1e-4).
    filter_enabled : bool, optional
        Keyword-only. Apply :func:`calab.bandpass_filter` first.
    nan_policy : {"raise", "interpolate"}, optional
        Keyword-only. ``"interpolate"`` fills short NaN gaps linearly.
    dims : tuple of str, optional
        Keyword-only, for ``xarray.DataArray`` input: its ``(cell_dim,
        time_dim)``. Detected for Minian's ``("unit_id", "frame")`` and for
        a 1-D DataArray.

    Returns
    -------
    numpy.ndarray, dask.array.Array or xarray.DataArray
        Non-negative activity, same shape as ``traces`` (lazy for dask input;
        a DataArray with the input's dims and coordinates for DataArray input).

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=2, duration_s=20.0, fs=30.0, seed=0)
    >>> activity = calab.run_deconvolution(sim.traces, 30.0, 0.1, 0.6, 0.5)
    >>> activity.shape == sim.traces.shape and bool((activity >= 0).all())
    True
    """
    options = dict(tol=tol, filter_enabled=filter_enabled, nan_policy=nan_policy)
    args = (traces, fs, tau_r, tau_d, lam, max_iters, conv_mode, constraint)
    if dims is not None or _is_dataarray(traces):
        return run_deconvolution_full(*args, **options, dims=dims).activity
    if _is_dask_array(traces):
        return run_deconvolution_full(*args, **options).activity
    return deconvolve_activity(*args, **options)  # no diagnostics to compute


def run_deconvolution_full(
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
    dims: tuple[str, str] | None = None,
) -> DeconvolutionResult:
    """Deconvolve and return activity with its diagnostics.

    Parameters are those of :func:`run_deconvolution`.

    Returns
    -------
    DeconvolutionResult
        ``(activity, baseline, reconvolution, iterations, converged)``:
        scalars for 1-D input, ``(n_cells,)`` arrays for 2-D input. For
        DataArray input every field is a DataArray: ``activity`` and
        ``reconvolution`` with the input's dims and coordinates, the others
        over its cell dimension.
        ``traces - reconvolution`` is the residual of the fit.

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=1, duration_s=20.0, fs=30.0, seed=0)
    >>> res = calab.run_deconvolution_full(sim.traces[0], 30.0, 0.1, 0.6, 0.5)
    >>> res.activity.shape == sim.traces[0].shape and isinstance(res.iterations, int)
    True
    """
    options = dict(tol=tol, filter_enabled=filter_enabled, nan_policy=nan_policy)
    if dims is not None or _is_dataarray(traces):
        from calab import xarray_support

        xarray_support.check_dims_use(traces, dims)
        solver_args = (fs, tau_r, tau_d, lam, max_iters, conv_mode, constraint)
        return xarray_support.solve_dataarray(run_deconvolution_full, traces, dims,
                                              solver_args, options)
    if _is_dask_array(traces):
        from calab.engine.lazy import deconvolve_dask

        return deconvolve_dask(
            traces, fs, tau_r, tau_d, lam, max_iters, conv_mode, constraint, **options
        )
    return deconvolve_matrix(
        traces, fs, tau_r, tau_d, lam, max_iters, conv_mode, constraint, **options
    )


def deconvolve_from_export(
    traces: np.ndarray, params_path: str | Path, return_full: bool = False, **options: Any
) -> np.ndarray | DeconvolutionResult:
    """Deconvolve with the parameters of a CaTune export JSON.

    Reads the export with :func:`calab.load_export_params` and applies the
    bandpass filter when the export enables it, so the result reproduces
    what CaTune showed.

    Parameters
    ----------
    traces : numpy.ndarray or dask.array.Array
        ``(n_timepoints,)`` or ``(n_cells, n_timepoints)``.
    params_path : str or pathlib.Path
        CaTune export JSON (schema 1.0.0 to 1.2.0).
    return_full : bool, optional
        Return a :class:`DeconvolutionResult` instead of the activity alone.
    **options
        Keyword options of :func:`run_deconvolution` (``max_iters``,
        ``conv_mode``, ``constraint``, ``tol``, ``nan_policy``).

    Returns
    -------
    numpy.ndarray or DeconvolutionResult
    """
    from calab.io.export import load_export_params

    if not isinstance(params_path, (str, Path)):
        raise TypeError(
            f"params_path={params_path!r} must be a path (str or pathlib.Path) to a CaTune export"
        )
    params = load_export_params(params_path)
    options.setdefault("filter_enabled", params["filter_enabled"])
    solve = run_deconvolution_full if return_full else run_deconvolution
    return solve(
        traces, params["fs"], params["tau_rise"], params["tau_decay"], params["lambda_"],
        **options,
    )


def _is_dataarray(value: Any) -> bool:
    return type(value).__name__ == "DataArray" and type(value).__module__.startswith("xarray")


def _is_dask_array(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "dask" and hasattr(value, "chunks")
