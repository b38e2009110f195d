"""What one task does to one block of cells: solve it with the core.

These functions run inside Dask workers (or dask's local threads). They pin
the compiled solver to one thread while solving, because Dask already runs one
block per worker thread and nested parallelism only oversubscribes the cores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from calab.core.deconvolve import deconvolve_matrix
from calab.core.fista_threads import single_thread
from calab.core.options import DeconvolutionOptions
from calab.core.result import DeconvolutionResult
from calab.errors import InvalidParameterError


def solve_block(block: np.ndarray, options: DeconvolutionOptions) -> DeconvolutionResult:
    """Deconvolve a ``(n_cells, n_timepoints)`` block with the core, on one thread.

    ``options`` are already validated and, when per cell, describe exactly
    the cells of ``block`` (see :meth:`DeconvolutionOptions.for_cells`).
    """
    with single_thread():
        return deconvolve_matrix(block, options)


def packed_width(n_timepoints: int) -> int:
    """Columns of a packed block: activity, reconvolution, baseline, iterations, converged."""
    return 2 * n_timepoints + 3


def solve_packed(
    block: np.ndarray, options: DeconvolutionOptions, block_info: dict[Any, Any] | None = None
) -> np.ndarray:
    """Solve a block and pack the full result into one float64 array.

    Returns ``(n_cells, 2*T + 3)``: activity, reconvolution, then baseline,
    iterations and converged as the last three columns. Packing lets one solve
    feed all five lazy outputs of :func:`calab.engine.lazy.deconvolve_dask`.
    ``block_info`` (given by ``map_blocks``) locates the block's cells, so
    per-cell options are cut to them.
    """
    if options.per_cell and block_info is not None:
        start, stop = block_info[0]["array-location"][0]
        options = options.for_cells(slice(start, stop))
    result = solve_block(block, options)
    n_time = block.shape[1]
    packed = np.empty((block.shape[0], packed_width(n_time)), dtype=np.float64)
    packed[:, :n_time] = result.activity
    packed[:, n_time : 2 * n_time] = result.reconvolution
    packed[:, 2 * n_time] = result.baseline
    packed[:, 2 * n_time + 1] = result.iterations
    packed[:, 2 * n_time + 2] = result.converged
    return packed


def check_finite_block(block: np.ndarray, first_cell: int, name: str = "input") -> None:
    """Raise a ValueError naming the (global) cells that hold NaN or inf."""
    bad = ~np.isfinite(block)
    if not bad.any():
        return
    per_cell = bad.sum(axis=1)
    cells = np.flatnonzero(per_cell)
    preview = ", ".join(f"cell {first_cell + c}: {per_cell[c]} samples" for c in cells[:5])
    more = f" and {len(cells) - 5} more cells" if len(cells) > 5 else ""
    raise InvalidParameterError(
        f"{name} contains NaN or inf values ({preview}{more}); clean the recording, "
        "or use nan_policy='interpolate' to fill short gaps", argument=name,
    )


def warm_up() -> None:
    """Load the compiled solver in this process with a tiny solve.

    Run it on every worker with ``client.run(warm_up)`` so the first real
    block does not pay the import (about a second; nothing compiles at run time).
    """
    solve_block(np.ones((2, 64)), DeconvolutionOptions(fs=30.0, tau_r=0.05, tau_d=0.4, lam=0.03))
