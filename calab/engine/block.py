"""What one task does to one block of cells: solve it with the core.

These functions run inside Dask workers (or dask's local threads). They pin
the compiled solver to one thread while solving, because Dask already runs one
block per worker thread and nested parallelism only oversubscribes the cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calab.core.deconvolve import DEFAULT_TOL, deconvolve_matrix
from calab.core.fista_threads import single_thread
from calab.core.kernel import kernel_spec
from calab.core.result import DeconvolutionResult
from calab.core.validation import (
    NAN_POLICIES,
    check_choice,
    check_flag,
    check_lambda,
    check_solver_options,
    check_time_constants,
)


@dataclass(frozen=True)
class SolveSettings:
    """Everything besides the traces that a block solve needs (validated)."""

    fs: float
    tau_r: float
    tau_d: float
    lam: float
    max_iters: int = 2000
    conv_mode: str = "fft"
    constraint: str = "nonneg"
    tol: float = DEFAULT_TOL
    filter_enabled: bool = False
    nan_policy: str = "raise"

    @classmethod
    def checked(cls, fs, tau_r, tau_d, lam, max_iters=2000, conv_mode="fft",
                constraint="nonneg", *, tol=DEFAULT_TOL, filter_enabled=False,
                nan_policy="raise") -> SolveSettings:
        """Validate every argument now, so a lazy graph never fails on a bad option."""
        kernel_spec(tau_r, tau_d, fs)
        tau_r, tau_d, fs = check_time_constants(tau_r, tau_d, fs)
        max_iters, conv_mode, constraint, tol = check_solver_options(
            max_iters, conv_mode, constraint, tol
        )
        check_choice("nan_policy", nan_policy, NAN_POLICIES)
        filter_enabled = check_flag("filter_enabled", filter_enabled)
        return cls(fs, tau_r, tau_d, check_lambda(lam), max_iters,
                   conv_mode, constraint, tol, filter_enabled, nan_policy)

    def solve(self, matrix: np.ndarray) -> DeconvolutionResult:
        """Deconvolve a ``(n_cells, n_timepoints)`` block with the core, one thread."""
        with single_thread():
            return deconvolve_matrix(
                matrix, self.fs, self.tau_r, self.tau_d, self.lam, self.max_iters,
                self.conv_mode, self.constraint, tol=self.tol,
                filter_enabled=self.filter_enabled, nan_policy=self.nan_policy,
            )


def packed_width(n_timepoints: int) -> int:
    """Columns of a packed block: activity, reconvolution, baseline, iterations, converged."""
    return 2 * n_timepoints + 3


def solve_packed(block: np.ndarray, settings: SolveSettings) -> np.ndarray:
    """Solve a block and pack the full result into one float64 array.

    Returns ``(n_cells, 2*T + 3)``: activity, reconvolution, then baseline,
    iterations and converged as the last three columns. Packing lets one solve
    feed all five lazy outputs of :func:`calab.engine.lazy.deconvolve_dask`.
    """
    result = settings.solve(block)
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
    raise ValueError(
        f"{name} contains NaN or inf values ({preview}{more}); clean the recording, "
        "or use nan_policy='interpolate' to fill short gaps"
    )


def warm_up() -> None:
    """Load the compiled solver in this process with a tiny solve.

    Run it on every worker with ``client.run(warm_up)`` so the first real
    block does not pay the import (about a second; nothing compiles at run time).
    """
    SolveSettings.checked(30.0, 0.05, 0.4, 0.03).solve(np.ones((2, 64)))
