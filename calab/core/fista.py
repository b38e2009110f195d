"""Batched FISTA for the non-negative (or box-constrained) L1 deconvolution.

For each cell the solver minimises::

    F(s) = 0.5 * ||y - K s||**2 + lam * G * sum(s),   s >= 0  (or 0 <= s <= 1)

where ``K`` is causal convolution with the peak-normalised kernel and ``G`` its
gain. Both operators are evaluated in O(T) by the kernel's AR(2) recursion,
never by an explicit convolution (:mod:`calab.core.fista_sweeps`):

- ``"fft"`` (CaTune's default operator): the *truncated* kernel of
  ``KernelSpec.length`` taps, exactly: the untruncated recursion minus its
  tail, which is two lagged taps of the same recursion. Step ``1/G**2``.
- ``"banded"``: the untruncated kernel, step from its exact DC gain.

The iteration is FISTA (Beck & Teboulle 2009) with the function-value adaptive
restart of O'Donoghue & Candès (2015): the momentum is reset whenever the
objective of the iterate rises. The objective is tracked for free from the
operator applied to the extrapolated point, since ``K z`` is linear in the two
last iterates. A cell has converged when the relative change of ``s`` between
two iterations falls below ``tol`` after at least ``MIN_ITERATIONS``; it then
runs ``CONFIRM_ITERATIONS`` more (the change is often small right after a
restart, where the objective still falls) and stops.

Traces of ``2 * CHUNK_SAMPLES`` samples or more are cut into chunks that are
solved side by side as vector lanes (exactly, see :mod:`calab.core.fista_sweeps`);
shorter ones are packed several cells per group. Groups run in parallel
threads; a group stops costing time when its cells have converged, and cells
are repacked between rounds when that saves groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calab.core.fista_cells import COUNTDOWN, N_FLOATS, OBJECTIVE, SUM_S, T_MOMENTUM
from calab.core.fista_sweeps import correction_tables, iterate
from calab.core.kernel import KernelSpec

# Traces too short to cut into chunks are packed up to this many cells per group (the
# cells are then the vector lanes), and no fewer than MIN_LANES where threads allow.
LANES = 16
MIN_LANES = 4
ROUND_ITERATIONS = 64
# Traces are cut into chunks of about this many samples, solved as vector lanes.
CHUNK_SAMPLES = 128
# Lanes a chunked group aims for: enough independent recursions to fill the vector units.
LANE_TARGET = 32


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
    coefficients = operator_coefficients(spec, conv_mode, y.shape[1])
    gain = spec.ar2_gain if conv_mode == "banded" else spec.gain
    step = 1.0 / (gain * gain)
    settings = np.array(
        [step, step * lam * gain, lam * gain, 1.0 if constraint == "box01" else np.inf, tol]
    )
    state = _PackedState(y, init, chunk_layout(y.shape[1]))
    tables = correction_tables(coefficients[0], coefficients[1], state.chunk_len)
    while state.running_groups.size:
        n_steps = min(ROUND_ITERATIONS, max_iters - int(state.iterations[state.active].max()))
        if n_steps <= 0:
            break
        iterate(*state.arrays(), coefficients, settings, n_steps, tables, state.valid_rows)
        state.collect(max_iters)
    return SolverOutput(state.final_activity(), state.iterations, state.converged)


def chunk_layout(n_time: int) -> tuple[int, int]:
    """``(n_chunks, chunk_len)`` of every trace of ``n_time`` samples.

    Depends on ``n_time`` alone, so a cell's result does not depend on which
    other cells share its batch.
    """
    if n_time < 2 * CHUNK_SAMPLES:
        return 1, n_time
    # A multiple of 4 chunks keeps whole vectors of lanes (no scalar remainder).
    n_chunks = 4 * max(1, n_time // (4 * CHUNK_SAMPLES))
    chunk_len = -(-n_time // n_chunks)
    return -(-n_time // chunk_len), chunk_len


def group_width(n_cells: int, n_threads: int = 2, n_chunks: int = 1) -> int:
    """Cells per group: as wide as possible while every thread gets a group.

    Chunked traces bring ``n_chunks`` lanes per cell, so fewer cells fill a group.
    """
    if n_chunks > 1:
        return max(1, min(-(-LANE_TARGET // n_chunks), -(-n_cells // n_threads)))
    width = LANES
    while width > MIN_LANES and -(-n_cells // width) < n_threads:
        width //= 2
    return width


def operator_coefficients(spec: KernelSpec, conv_mode: str, n_time: int) -> np.ndarray:
    """``(g1, g2, w, alpha, beta, taps)`` of :func:`calab.core.fista_sweeps.iterate`."""
    d, r = spec.decay_root, spec.rise_root
    g1, g2 = spec.ar2_coefficients
    recursion = [g1, g2, (d - r) / spec.peak]
    taps = spec.length
    if conv_mode == "banded" or taps >= n_time:  # untruncated, or the cut never bites
        return np.array([*recursion, 0.0, 0.0, 0.0])
    alpha = (d**taps - r**taps) / (d - r)
    beta = (r * d**taps - d * r**taps) / (d - r)
    return np.array([*recursion, alpha, beta, float(taps)])


class _PackedState:
    """Solver state of the cells still running, packed in groups.

    Repacking keeps every cell's full state (iterate, extrapolated point,
    momentum, objective record), so it does not disturb the iteration.
    """

    def __init__(
        self, y: np.ndarray, init: np.ndarray | None, layout: tuple[int, int] | None = None
    ) -> None:
        import numba

        n_cells, n_time = y.shape
        self.n_threads = numba.get_num_threads()
        self.n_chunks, self.chunk_len = layout or (1, n_time)
        self.n_time = n_time
        self.activity = np.zeros((n_cells, n_time)) if init is None else init.astype(float)
        self.iterations = np.zeros(n_cells, dtype=np.int64)
        self.converged = np.zeros(n_cells, dtype=np.bool_)
        self.active = np.arange(n_cells)
        width = group_width(n_cells, self.n_threads, self.n_chunks)
        self.packed_y = self._to_groups(y, width)
        if init is None:
            self.packed_s = np.zeros_like(self.packed_y)
        else:
            self.packed_s = self._to_groups(self.activity, width)
        self.packed_z = self.packed_s.copy()
        self.packed_ks = np.zeros_like(self.packed_s)
        n_groups = self.packed_y.shape[0]
        self.lane_iters = np.zeros((n_groups, width), dtype=np.int64)
        self.lane_done = _padding_done(n_cells, n_groups, width)
        self.lane_floats = _fresh_floats(n_groups, width)
        self.lane_floats[:, SUM_S] = _cell_sums(self.activity, n_groups, width)
        self.valid_rows = _valid_rows(n_time, self.n_chunks, self.chunk_len, width)
        self.running_groups = np.arange(n_groups)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.packed_y, self.packed_s, self.packed_z, self.packed_ks,
            self.lane_iters, self.lane_done, self.lane_floats, self.running_groups,
        )

    def collect(self, max_iters: int) -> None:
        """Record a round; list the groups still running, repacking when that saves groups."""
        n_active = self.active.size
        n_groups, width = self.lane_iters.shape
        iters = self.lane_iters.reshape(-1)[:n_active]
        done = self.lane_done.reshape(-1)[:n_active]
        confirming = self.lane_floats[:, COUNTDOWN].reshape(-1)[:n_active] > 0
        self.iterations[self.active] = iters
        self.converged[self.active] = done | confirming  # max_iters may cut the confirmation
        running = np.zeros(n_groups * width, dtype=np.bool_)
        running[:n_active] = ~done & (iters < max_iters)
        self.running_groups = np.flatnonzero(running.reshape(n_groups, width).any(axis=1))
        n_running = int(running.sum())
        if n_running and -(-n_running // group_width(n_running, self.n_threads, self.n_chunks)) < (
            self.running_groups.size
        ):
            self._repack(np.flatnonzero(running[:n_active]))

    def final_activity(self) -> np.ndarray:
        """The activity of every cell, the packed cells unpacked."""
        self.activity[self.active] = self._from_groups(self.packed_s, self.active.size)
        return self.activity

    def _repack(self, keep: np.ndarray) -> None:
        """Pack only the cells ``keep`` (indices into the active cells), keeping their state."""
        n_active = self.active.size
        self.final_activity()
        self.active = self.active[keep]
        width = group_width(keep.size, self.n_threads, self.n_chunks)
        for name in ("packed_y", "packed_s", "packed_z", "packed_ks"):
            rows = self._from_groups(getattr(self, name), n_active)[keep]
            setattr(self, name, self._to_groups(rows, width))
        self.valid_rows = _valid_rows(self.n_time, self.n_chunks, self.chunk_len, width)
        n_groups = self.packed_y.shape[0]
        self.lane_iters = _regroup_lanes(self.lane_iters, keep, width, 0)
        self.lane_done = _padding_done(keep.size, n_groups, width)
        fresh = _fresh_floats(1, 1)[0, :, 0]
        self.lane_floats = _regroup_lanes(self.lane_floats, keep, width, fresh)
        self.running_groups = np.arange(n_groups)

    def _to_groups(self, rows: np.ndarray, width: int) -> np.ndarray:
        """(n, T) rows -> (groups, chunk_len, width * n_chunks), zero padded.

        Lane ``cell * n_chunks + chunk`` of a group holds that chunk of that cell.
        """
        n_rows, n_time = rows.shape
        n_groups = -(-n_rows // width)
        padded_time = self.n_chunks * self.chunk_len
        packed = np.zeros((n_groups * width, padded_time))
        packed[:n_rows, :n_time] = rows
        lanes = packed.reshape(n_groups, width * self.n_chunks, self.chunk_len)
        return np.ascontiguousarray(lanes.transpose(0, 2, 1))

    def _from_groups(self, packed: np.ndarray, n_rows: int) -> np.ndarray:
        """The first ``n_rows`` cells as ``(n_rows, T)`` (a view of a fresh copy)."""
        padded_time = self.n_chunks * self.chunk_len
        rows = packed.transpose(0, 2, 1).reshape(-1, padded_time)
        return rows[:n_rows, : self.n_time]


def _valid_rows(n_time: int, n_chunks: int, chunk_len: int, width: int) -> np.ndarray:
    """Real samples in each lane's chunk: all but the last chunk of a cell are full."""
    per_cell = np.full(n_chunks, chunk_len, dtype=np.int64)
    per_cell[-1] = n_time - (n_chunks - 1) * chunk_len
    return np.tile(per_cell, width)


def _cell_sums(activity: np.ndarray, n_groups: int, width: int) -> np.ndarray:
    """sum(s) of each cell as ``(groups, width)`` (padding cells sum to 0)."""
    sums = np.zeros(n_groups * width)
    sums[: activity.shape[0]] = activity.sum(axis=1)
    return sums.reshape(n_groups, width)


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
