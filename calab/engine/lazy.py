"""Lazy deconvolution of dask arrays, block by block with the in-memory core.

``calab.run_deconvolution_full`` hands dask input here. The traces are
rechunked to blocks of whole cells with the full time axis, each block is
solved by :func:`calab.core.deconvolve.deconvolve_matrix` in one
``map_blocks`` task, and the five result fields are lazy slices of that one
task's output: nothing is computed until the caller asks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from calab.core.options import DeconvolutionOptions
from calab.core.result import DeconvolutionResult
from calab.engine.block import packed_width, solve_packed
from calab.engine.cluster import available_cores
from calab.engine.planning import BLOCKS_PER_THREAD, plan_chunk_cells
from calab.errors import InvalidParameterError, ParameterTypeError


def deconvolve_dask(
    traces: Any, options: DeconvolutionOptions, *, chunk_cells: int | None = None
) -> DeconvolutionResult:
    """Deconvolve a dask array lazily; the dask branch of ``run_deconvolution_full``.

    Parameters
    ----------
    traces : dask.array.Array
        ``(n_timepoints,)`` or ``(n_cells, n_timepoints)`` fluorescence, any
        chunking (time is rechunked to one chunk per block).
    options : DeconvolutionOptions
        Validated parameters (scalars or one value per cell); checked against
        the recording's shape immediately, before any graph is built.
    chunk_cells : int, optional
        Cells per block; by default chosen by bytes
        (:func:`calab.engine.planning.plan_chunk_cells`), with at least two
        blocks per local core when the recording is small.

    Returns
    -------
    DeconvolutionResult
        Lazy dask arrays: ``activity`` and ``reconvolution`` float64
        ``(n_cells, n_timepoints)``, ``baseline`` float64, ``iterations``
        int64 and ``converged`` bool, each ``(n_cells,)``. A 1-D input gives
        1-D activity and 0-d diagnostics. Computing several fields together
        (``dask.compute(*result)``) solves each block once.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> traces = da.from_array(np.random.default_rng(0).normal(size=(16, 300)), chunks=(4, 100))
    >>> opts = DeconvolutionOptions(fs=30.0, tau_r=0.1, tau_d=0.6, lam=0.5)
    >>> result = deconvolve_dask(traces, opts)
    >>> result.activity.shape, result.activity.chunks[1]
    ((16, 300), (300,))
    """
    import dask.array as da

    matrix, was_1d = _as_dask_matrix(traces, da)
    n_cells, n_time = matrix.shape
    options.check_recording(n_cells, n_time)
    cells = plan_chunk_cells(n_cells, n_time, chunk_cells=chunk_cells,
                             min_blocks=BLOCKS_PER_THREAD * available_cores())
    matrix = matrix.astype(np.float64).rechunk({0: cells, 1: -1})
    packed = matrix.map_blocks(
        solve_packed, options, dtype=np.float64,
        chunks=(matrix.chunks[0], (packed_width(n_time),)),
        name="calab-deconvolve",
        meta=np.empty((0, 0), dtype=np.float64),
    )
    result = DeconvolutionResult(
        activity=packed[:, :n_time],
        baseline=packed[:, 2 * n_time],
        reconvolution=packed[:, n_time : 2 * n_time],
        iterations=packed[:, 2 * n_time + 1].astype(np.int64),
        converged=packed[:, 2 * n_time + 2].astype(bool),
    )
    fields: list[Any] = list(result)
    return DeconvolutionResult(*(field[0] for field in fields)) if was_1d else result


def _as_dask_matrix(traces: Any, da: Any) -> tuple[Any, bool]:
    if not isinstance(traces, da.Array):
        raise ParameterTypeError(
            f"traces must be a dask array here; got {type(traces).__name__}"
        )
    dtype = traces.dtype
    if dtype.kind == "O" or not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise ParameterTypeError(f"traces must be a numeric array; got dtype {dtype}")
    if np.issubdtype(dtype, np.complexfloating):
        raise ParameterTypeError(f"traces must be real-valued; got complex dtype {dtype}")
    if traces.ndim not in (1, 2):
        raise InvalidParameterError(
            "traces must be 1-D (n_timepoints,) or 2-D (n_cells, n_timepoints); "
            f"got {traces.ndim}-D with shape {traces.shape}"
        )
    if any(np.isnan(size) for size in traces.shape):
        raise InvalidParameterError(
            f"traces has unknown chunk sizes (shape {traces.shape}); call "
            "traces.compute_chunk_sizes() first"
        )
    if traces.size == 0:
        raise InvalidParameterError(
            f"traces is empty (shape {traces.shape}); need at least one sample"
        )
    return (traces[None, :], True) if traces.ndim == 1 else (traces, False)
