"""Batched FISTA for the non-negative (or box-constrained) L1 deconvolution.

For each cell the solver minimises::

    F(s) = 0.5 * ||y - K s||**2 + lam * G * sum(s),   s >= 0  (or 0 <= s <= 1)

where ``K`` is causal convolution with the peak-normalised kernel and ``G`` its
gain. Both operators are evaluated in O(T) by recursions, never by an explicit
convolution:

- ``"fft"`` (CaTune's default operator): the *truncated* kernel of
  ``KernelSpec.length`` taps. Its two exponentials are first-order recursions;
  the truncation is exact because ``sum_{i<K} d**i x[t-i] = e[t] - d**K e[t-K]``
  for the running sum ``e[t] = d*e[t-1] + x[t]``. Step ``1/G**2``.
- ``"banded"``: the untruncated kernel as the AR(2) recursion
  ``c[t] = g1*c[t-1] + g2*c[t-2] + w*s[t-1]``, step from its exact DC gain.

The iteration is FISTA (Beck & Teboulle 2009) with the function-value adaptive
restart of O'Donoghue & Candès (2015): the momentum is reset whenever the
objective of the iterate rises. The objective is tracked for free from the
operator applied to the extrapolated point, since ``K z`` is linear in the two
last iterates. A cell has converged when the relative change of ``s`` between
two iterations falls below ``tol`` after at least ``MIN_ITERATIONS``; the test
is made only once the momentum has rebuilt after a restart (the first steps
after a restart are short and would stop the solver early).

Cells are packed in groups (up to ``LANES`` cells, contiguous per time step)
so that every recursion is vectorised across cells; groups run in parallel
threads (:mod:`calab.core.fista_kernels`). Converged cells are frozen and,
between rounds of iterations, repacked away so that they stop costing time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calab.core.fista_kernels import (
    N_FLOATS,
    OBJECTIVE,
    SUM_S,
    T_MOMENTUM,
    iterate_banded,
    iterate_truncated,
)
from calab.core.kernel import KernelSpec

# Widest group of cells solved together (the vectorised dimension).
LANES = 16
# Narrowest group: fewer cells per group than this vectorise poorly.
MIN_LANES = 4
ROUND_ITERATIONS = 64


@dataclass(frozen=True)
class SolverOutput:
    """Activity and per-cell convergence record of one batched solve."""

    activity: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray


def solve(
    y: np.ndarray,
    spec: KernelSpec,
    lam: float,
    *,
    max_iters: int,
    tol: float,
    conv_mode: str,
    constraint: str,
    init: np.ndarray | None = None,
) -> SolverOutput:
    """Run FISTA on every row of ``y`` (``(n_cells, n_timepoints)``).

    ``init`` (same shape, optional) warm-starts the solver, e.g. from the
    solution for nearby parameters.
    """
    coefficients = _operator_coefficients(spec, conv_mode, y.shape[1])
    gain = spec.ar2_gain if conv_mode == "banded" else spec.gain
    step = 1.0 / (gain * gain)
    settings = np.array(
        [step, step * lam * gain, lam * gain, 1.0 if constraint == "box01" else np.inf, tol]
    )
    iterate = iterate_banded if conv_mode == "banded" else iterate_truncated
    state = _PackedState(y, init)
    while state.active.size:
        n_steps = min(ROUND_ITERATIONS, max_iters - int(state.iterations[state.active].max()))
        if n_steps <= 0:
            break
        iterate(*state.arrays(), coefficients, settings, n_steps)
        state.collect_and_repack(max_iters)
    return SolverOutput(state.activity, state.iterations, state.converged)


def group_width(n_cells: int, n_threads: int = 2) -> int:
    """Cells per group: as wide as possible while every thread gets a group."""
    width = LANES
    while width > MIN_LANES and -(-n_cells // width) < n_threads:
        width //= 2
    return width


def _operator_coefficients(spec: KernelSpec, conv_mode: str, n_time: int) -> np.ndarray:
    d, r, inv_peak = spec.decay_root, spec.rise_root, 1.0 / spec.peak
    if conv_mode == "banded":
        g1, g2 = spec.ar2_coefficients
        return np.array([g1, g2, (d - r) * inv_peak, 0.0, 0.0, 0.0])
    taps = spec.length
    if taps >= n_time:  # the truncation never bites: lag 0 disables it
        return np.array([d, r, inv_peak, 0.0, 0.0, 0.0])
    return np.array([d, r, inv_peak, d**taps, r**taps, float(taps)])


class _PackedState:
    """Solver state of the cells still running, packed in groups.

    Repacking keeps every cell's full state (iterate, extrapolated point,
    momentum, objective record), so it does not disturb the iteration.
    """

    def __init__(self, y: np.ndarray, init: np.ndarray | None) -> None:
        import numba

        n_cells, n_time = y.shape
        self.n_threads = numba.get_num_threads()
        self.activity = np.zeros((n_cells, n_time)) if init is None else init.astype(float)
        self.iterations = np.zeros(n_cells, dtype=np.int64)
        self.converged = np.zeros(n_cells, dtype=np.bool_)
        self.active = np.arange(n_cells)
        width = group_width(n_cells, self.n_threads)
        self.packed_y = _to_groups(y, width)
        self.packed_s = _to_groups(self.activity, width)
        self.packed_z = self.packed_s.copy()
        self.packed_ks = np.zeros_like(self.packed_s)
        n_groups = self.packed_y.shape[0]
        self.lane_iters = np.zeros((n_groups, width), dtype=np.int64)
        self.lane_done = _padding_done(n_cells, n_groups, width)
        self.lane_floats = _fresh_floats(n_groups, width)
        self.lane_floats[:, SUM_S] = self.packed_s.sum(axis=1)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.packed_y, self.packed_s, self.packed_z, self.packed_ks,
            self.lane_iters, self.lane_done, self.lane_floats,
        )

    def collect_and_repack(self, max_iters: int) -> None:
        n_active = self.active.size
        iters = self.lane_iters.reshape(-1)[:n_active]
        done = self.lane_done.reshape(-1)[:n_active]
        self.iterations[self.active] = iters
        self.converged[self.active] = done
        self.activity[self.active] = _from_groups(self.packed_s, n_active)
        keep = np.flatnonzero(~done & (iters < max_iters))
        if keep.size == n_active:
            return
        self.active = self.active[keep]
        if not keep.size:
            return
        width = group_width(keep.size, self.n_threads)
        for name in ("packed_y", "packed_s", "packed_z", "packed_ks"):
            rows = _from_groups(getattr(self, name), n_active)[keep]
            setattr(self, name, _to_groups(rows, width))
        n_groups = self.packed_y.shape[0]
        self.lane_iters = _regroup_lanes(self.lane_iters, keep, width, 0)
        self.lane_done = _padding_done(keep.size, n_groups, width)
        fresh = _fresh_floats(1, 1)[0, :, 0]
        self.lane_floats = _regroup_lanes(self.lane_floats, keep, width, fresh)


def _to_groups(rows: np.ndarray, width: int) -> np.ndarray:
    """(n, T) rows -> (groups, T, width) with zero padding."""
    n_rows, n_time = rows.shape
    n_groups = -(-n_rows // width)
    packed = np.zeros((n_groups * width, n_time))
    packed[:n_rows] = rows
    return np.ascontiguousarray(packed.reshape(n_groups, width, n_time).transpose(0, 2, 1))


def _from_groups(packed: np.ndarray, n_rows: int) -> np.ndarray:
    n_groups, n_time, width = packed.shape
    return packed.transpose(0, 2, 1).reshape(n_groups * width, n_time)[:n_rows].copy()


def _regroup_lanes(lanes: np.ndarray, keep: np.ndarray, width: int, fill) -> np.ndarray:
    """Per-cell values of shape (groups, ..., width) regrouped to the cells ``keep``."""
    middle = lanes.shape[1:-1]
    flat = np.moveaxis(lanes, -1, 1).reshape(-1, *middle)[keep]
    n_groups = -(-keep.size // width)
    out = np.empty((n_groups * width, *middle), dtype=lanes.dtype)
    out[:] = fill
    out[: keep.size] = flat
    return np.ascontiguousarray(np.moveaxis(out.reshape(n_groups, width, *middle), 1, -1))


def _padding_done(n_cells: int, n_groups: int, width: int) -> np.ndarray:
    """Padding lanes start (and stay) done; real cells start running."""
    done = np.ones(n_groups * width, dtype=np.bool_)
    done[:n_cells] = False
    return done.reshape(n_groups, width)


def _fresh_floats(n_groups: int, width: int) -> np.ndarray:
    """Per-cell floats of a cell that has not started: t = 1, F = inf, no momentum."""
    floats = np.zeros((n_groups, N_FLOATS, width))
    floats[:, T_MOMENTUM] = 1.0
    floats[:, OBJECTIVE] = np.inf
    return floats
