"""The deconvolution entry points of the public API.

NumPy input is deconvolved in memory by :mod:`calab.core`; a dask array is
handed to :mod:`calab.engine`, which returns lazy dask results computed block
by block with the same core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from numpy.typing import ArrayLike

from calab.core.deconvolve import deconvolve_activity, deconvolve_matrix
from calab.core.options import (
    DEFAULT_CONSTRAINT,
    DEFAULT_CONV_MODE,
    DEFAULT_FILTER,
    DEFAULT_MAX_ITERS,
    DEFAULT_NAN_POLICY,
    DEFAULT_TOL,
    DeconvolutionOptions,
    flag,
)
from calab.core.result import DeconvolutionResult
from calab.errors import ParameterTypeError
from calab.xarray_support import is_dataarray

__all__ = ["deconvolve_from_export", "deconvolve_with_options", "run_deconvolution",
           "run_deconvolution_full"]

#: The keyword options of :func:`deconvolve_from_export`.
SOLVER_KEYWORDS = frozenset(
    {"max_iters", "conv_mode", "constraint", "tol", "filter_enabled", "nan_policy"}
)

#: A scalar, or one value per cell.
PerCell = float | ArrayLike


def run_deconvolution(traces: Any, fs: float, tau_r: PerCell, tau_d: PerCell, lam: PerCell,
                      max_iters: int = DEFAULT_MAX_ITERS, conv_mode: str = DEFAULT_CONV_MODE,
                      constraint: str = DEFAULT_CONSTRAINT, *, tol: float = DEFAULT_TOL,
                      filter_enabled: bool = DEFAULT_FILTER,
                      nan_policy: str = DEFAULT_NAN_POLICY,
                      dims: tuple[str, str] | None = None) -> Any:
    """Deconvolve one or more calcium traces with FISTA.

    Each trace is preprocessed (optional bandpass filter, then the causal
    rolling 20th-percentile baseline is subtracted) and the activity ``s``
    minimising ``0.5*||y - h*s||**2 + lam*G*sum(s)`` subject to ``s >= 0`` is
    found, ``h`` being the peak-normalised double-exponential kernel and
    ``G = sum(h)``.

    Parameters
    ----------
    traces : numpy.ndarray, dask.array.Array or calab.io.recording.Recording
        ``(n_timepoints,)`` or ``(n_cells, n_timepoints)`` fluorescence. A
        recording from :func:`calab.open_recording` (or a loader's ``lazy=True``
        traces) is read lazily, like a dask array.
    fs : float
        Sampling rate in Hz.
    tau_r, tau_d : float or array_like
        Rise and decay time constants in seconds, ``0 < tau_r < tau_d``; a
        scalar, or a 1-D sequence of one value per cell.
    lam : float or array_like
        Sparsity penalty (>= 0), scaled internally by the kernel gain ``G``; a
        scalar or one value per cell.
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

    Raises
    ------
    calab.errors.ParameterTypeError
        (a ``TypeError``) A value of the wrong type: ``bool`` or a string where
        a number belongs, non-numeric or complex traces.
    calab.errors.InvalidParameterError
        (a ``ValueError``) A value out of range, not finite or too large to
        represent; a kernel too long for memory or for the recording; ragged,
        empty or NaN-holding traces; per-cell values of the wrong length.

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=2, duration_s=20.0, fs=30.0, seed=0)
    >>> activity = calab.run_deconvolution(sim.traces, 30.0, 0.1, 0.6, 0.5)
    >>> activity.shape == sim.traces.shape and bool((activity >= 0).all())
    True
    """
    options = DeconvolutionOptions(fs, tau_r, tau_d, lam,  # type: ignore[arg-type]
                                   max_iters, conv_mode, constraint, tol, filter_enabled,
                                   nan_policy)
    return _activity(traces, options, dims)


def run_deconvolution_full(traces: Any, fs: float, tau_r: PerCell, tau_d: PerCell,
                           lam: PerCell, max_iters: int = DEFAULT_MAX_ITERS,
                           conv_mode: str = DEFAULT_CONV_MODE,
                           constraint: str = DEFAULT_CONSTRAINT, *, tol: float = DEFAULT_TOL,
                           filter_enabled: bool = DEFAULT_FILTER,
                           nan_policy: str = DEFAULT_NAN_POLICY,
                           dims: tuple[str, str] | None = None) -> DeconvolutionResult:
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
    options = DeconvolutionOptions(fs, tau_r, tau_d, lam,  # type: ignore[arg-type]
                                   max_iters, conv_mode, constraint, tol, filter_enabled,
                                   nan_policy)
    return _full(traces, options, dims)


def _activity(traces: Any, options: DeconvolutionOptions,
              dims: tuple[str, str] | None = None) -> Any:
    """Activity for any input: DataArray, recording on disk, dask or NumPy."""
    if dims is not None or is_dataarray(traces):
        return _solve_dataarray(traces, options, dims).activity
    traces = _dask_if_file_backed(traces)
    if _is_dask_array(traces):
        return deconvolve_with_options(traces, options).activity
    return deconvolve_activity(traces, options)  # no diagnostics to compute


def _full(traces: Any, options: DeconvolutionOptions,
          dims: tuple[str, str] | None = None) -> DeconvolutionResult:
    """Activity and diagnostics for any input, as :func:`_activity`."""
    if dims is not None or is_dataarray(traces):
        return _solve_dataarray(traces, options, dims)
    return deconvolve_with_options(traces, options)


def deconvolve_with_options(traces: Any, options: DeconvolutionOptions) -> DeconvolutionResult:
    """Deconvolve with a ready :class:`~calab.core.options.DeconvolutionOptions`.

    NumPy input is solved in memory; a dask array gives lazy dask results.

    Examples
    --------
    >>> import numpy as np
    >>> from calab.core.options import DeconvolutionOptions
    >>> opts = DeconvolutionOptions(fs=30.0, tau_r=0.1, tau_d=0.6, lam=0.5)
    >>> deconvolve_with_options(np.ones(300), opts).activity.shape
    (300,)
    """
    traces = _dask_if_file_backed(traces)
    if _is_dask_array(traces):
        from calab.engine.lazy import deconvolve_dask  # dask is imported only when used

        return deconvolve_dask(traces, options)
    return deconvolve_matrix(traces, options)


def deconvolve_from_export(
    traces: Any, params_path: str | Path, return_full: bool = False, **options: Any
) -> Any:
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
    from calab.io.export import load_export_params  # io is imported only when used

    if not isinstance(params_path, (str, Path)):
        raise ParameterTypeError(
            f"params_path={params_path!r} must be a path (str or pathlib.Path) to a CaTune "
            "export", argument="params_path",
        )
    unknown = sorted(set(options) - SOLVER_KEYWORDS)
    if unknown:
        raise ParameterTypeError(
            f"deconvolve_from_export() got unexpected keyword {unknown[0]!r}; the options "
            f"are {', '.join(sorted(SOLVER_KEYWORDS))}", argument=unknown[0],
        )
    return_full = flag("return_full", return_full)
    settings = DeconvolutionOptions.from_params(load_export_params(params_path), **options)
    return _full(traces, settings) if return_full else _activity(traces, settings)


def _solve_dataarray(traces: Any, options: DeconvolutionOptions,
                     dims: tuple[str, str] | None) -> DeconvolutionResult:
    from calab import xarray_support

    xarray_support.check_dims_use(traces, dims)
    return xarray_support.solve_dataarray(
        lambda values: deconvolve_with_options(values, options), traces, dims)



def _is_dask_array(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "dask" and hasattr(value, "chunks")


def _dask_if_file_backed(traces: Any) -> Any:
    """A recording opened by :func:`calab.open_recording` (or its traces) as a dask array."""
    from calab.io.arrays import TraceArray
    from calab.io.recording import Recording

    if isinstance(traces, (Recording, TraceArray)):
        from calab.engine.sources import as_dask

        return as_dask(traces)
    return traces
