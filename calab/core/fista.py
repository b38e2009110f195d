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

Cells are packed in groups of ``LANES`` with the cells of a group contiguous
per time step, so every recursion is vectorised across cells; groups run in
parallel threads. Each iteration is two sweeps over the group's memory: the
forward sweep applies ``K``, the backward sweep applies ``K^T`` and the
proximal step. Converged cells are frozen and, between rounds of iterations,
repacked away so that they stop costing time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from calab.core.kernel import KernelSpec

LANES = 8
ROUND_ITERATIONS = 64
MIN_ITERATIONS = 5
# The convergence test waits until the extrapolation weight (t_k - 1)/t_{k+1}
# has rebuilt to this value after a restart (about 17 iterations).
SETTLED_MOMENTUM = 0.9
DTYPE = np.float64
# The objective is tracked in float32 arithmetic: a rise smaller than this
# relative margin is rounding noise, not a reason to restart.
RESTART_MARGIN = 1e-12


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
    iterate = _iterate_banded if conv_mode == "banded" else _iterate_truncated
    state = _PackedState(y, init)
    while state.active.size:
        n_steps = min(ROUND_ITERATIONS, max_iters - int(state.iterations[state.active].max()))
        if n_steps <= 0:
            break
        iterate(*state.arrays(), coefficients, settings, n_steps)
        state.collect_and_repack(max_iters)
    return SolverOutput(state.activity, state.iterations, state.converged)


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
    """Solver state of the cells still running, packed in groups of LANES.

    Repacking keeps every cell's full state (iterate, extrapolated point,
    momentum, objective record), so it does not disturb the iteration.
    """

    def __init__(self, y: np.ndarray, init: np.ndarray | None) -> None:
        n_cells, n_time = y.shape
        self.activity = np.zeros((n_cells, n_time)) if init is None else init.astype(float)
        self.iterations = np.zeros(n_cells, dtype=np.int64)
        self.converged = np.zeros(n_cells, dtype=np.bool_)
        self.active = np.arange(n_cells)
        n_groups = -(-n_cells // LANES)
        self.packed_y = _to_lanes(y, n_groups)
        self.packed_s = _to_lanes(self.activity, n_groups)
        self.packed_z = self.packed_s.copy()
        self.packed_ks = np.zeros(self.packed_s.shape)  # float64: F must not be noisy
        self.lane_iters = np.zeros((n_groups, LANES), dtype=np.int64)
        done = np.ones(n_groups * LANES, dtype=np.bool_)
        done[:n_cells] = False
        self.lane_done = done.reshape(n_groups, LANES)
        # per lane: momentum t, previous objective, weight that formed z, sum(s)
        self.lane_floats = _fresh_lane_floats(n_groups)
        self.lane_floats[:, 3] = self.packed_s.sum(axis=1, dtype=np.float64)

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
        self.activity[self.active] = _from_lanes(self.packed_s, n_active)
        keep = np.flatnonzero(~done & (iters < max_iters))
        if keep.size == n_active:
            return
        self.active = self.active[keep]
        n_groups = -(-keep.size // LANES)
        for name in ("packed_y", "packed_s", "packed_z", "packed_ks"):
            packed = getattr(self, name)
            setattr(self, name, _gather_lanes(packed, keep, n_groups).astype(packed.dtype))
        self.lane_iters = _gather_lane_columns(self.lane_iters, keep, n_groups, 0)
        self.lane_done = _gather_lane_columns(self.lane_done, keep, n_groups, True)
        fresh = _fresh_lane_floats(n_groups)
        self.lane_floats = _gather_lane_columns(self.lane_floats, keep, n_groups, 0.0)
        self.lane_floats.reshape(-1)[:] = np.where(
            self.lane_done[:, None, :], fresh, self.lane_floats
        ).reshape(-1)


def _fresh_lane_floats(n_groups: int) -> np.ndarray:
    """Per-lane floats of a cell that has not started: t = 1, F = inf, no momentum."""
    floats = np.zeros((n_groups, 4, LANES))
    floats[:, 0] = 1.0
    floats[:, 1] = np.inf
    return floats


def _gather_lanes(packed: np.ndarray, keep: np.ndarray, n_groups: int) -> np.ndarray:
    """Repack the rows ``keep`` (flat cell positions) of a (groups, T, LANES) array."""
    rows = packed.transpose(0, 2, 1).reshape(-1, packed.shape[1])[keep]
    return _to_lanes(rows, n_groups)


def _gather_lane_columns(lanes: np.ndarray, keep: np.ndarray, n_groups: int, fill) -> np.ndarray:
    """Repack per-lane values of shape (groups, ..., LANES) to the cells ``keep``."""
    middle = lanes.shape[1:-1]
    flat = np.moveaxis(lanes, -1, 1).reshape(-1, *middle)[keep]
    out = np.full((n_groups * LANES, *middle), fill, dtype=lanes.dtype)
    out[: keep.size] = flat
    return np.moveaxis(out.reshape(n_groups, LANES, *middle), 1, -1).copy()


def _to_lanes(rows: np.ndarray, n_groups: int) -> np.ndarray:
    n_time = rows.shape[1]
    packed = np.zeros((n_groups * LANES, n_time), dtype=DTYPE)
    packed[: rows.shape[0]] = rows
    return np.ascontiguousarray(packed.reshape(n_groups, LANES, n_time).transpose(0, 2, 1))


def _from_lanes(packed: np.ndarray, n_rows: int) -> np.ndarray:
    n_groups, n_time, _ = packed.shape
    rows = packed.transpose(0, 2, 1).reshape(n_groups * LANES, n_time)[:n_rows]
    return rows.astype(np.float64)


_JIT = dict(
    cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp", "nsz", "reassoc"}
)


@numba.njit(parallel=True, **_JIT)
def _iterate_truncated(Y, S, Z, KS, iters, done, lane_floats, coef, settings, n_steps):
    for g in numba.prange(Y.shape[0]):
        n_time = Y.shape[1]
        resid = np.empty((n_time, LANES), dtype=Y.dtype)
        run_d = np.empty((n_time, LANES), dtype=Y.dtype)
        run_r = np.empty((n_time, LANES), dtype=Y.dtype)
        for _ in range(n_steps):
            if _all_done(done[g]):
                break
            beta = _extrapolation_weights(lane_floats[g])
            fit = _forward_truncated(Y[g], Z[g], KS[g], beta, coef, resid, run_d, run_r)
            beta_next = _restart_or_advance(fit, lane_floats[g], settings)
            change = _backward_truncated(S[g], Z[g], resid, beta_next, done[g], coef, settings,
                                         run_d, run_r, lane_floats[g])
            _check_convergence(change, beta, iters[g], done[g], settings)


@numba.njit(parallel=True, **_JIT)
def _iterate_banded(Y, S, Z, KS, iters, done, lane_floats, coef, settings, n_steps):
    for g in numba.prange(Y.shape[0]):
        n_time = Y.shape[1]
        resid = np.empty((n_time, LANES), dtype=Y.dtype)
        for _ in range(n_steps):
            if _all_done(done[g]):
                break
            beta = _extrapolation_weights(lane_floats[g])
            fit = _forward_banded(Y[g], Z[g], KS[g], beta, coef, resid)
            beta_next = _restart_or_advance(fit, lane_floats[g], settings)
            change = _backward_banded(S[g], Z[g], resid, beta_next, done[g], coef, settings,
                                      lane_floats[g])
            _check_convergence(change, beta, iters[g], done[g], settings)


@numba.njit(inline="always", **_JIT)
def _all_done(done):
    return all(done[lane] for lane in range(LANES))


@numba.njit(inline="always", **_JIT)
def _extrapolation_weights(lane_floats):
    """The weight ``beta_k`` that formed the current extrapolated point ``z``."""
    beta = np.empty(LANES)
    for lane in range(LANES):
        beta[lane] = lane_floats[2, lane]
    return beta


@numba.njit(inline="always", **_JIT)
def _restart_or_advance(fit, lane_floats, settings):
    """Function-value restart: reset the momentum when F of the iterate rose.

    ``fit`` holds ``0.5*||K s - y||**2`` of the current iterate per lane and
    ``lane_floats[3]`` its ``sum(s)``; ``lane_floats[1]`` is the previous
    objective; ``lane_floats[2]`` receives the weight of the next extrapolation.
    """
    lam_gain = settings[2]
    beta_next = np.empty(LANES)
    for lane in range(LANES):
        objective = fit[lane] + lam_gain * lane_floats[3, lane]
        t_now = lane_floats[0, lane]
        if objective > lane_floats[1, lane] * (1.0 + RESTART_MARGIN):
            t_now = 1.0
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t_now * t_now))
        beta_next[lane] = (t_now - 1.0) / t_next
        lane_floats[0, lane] = t_next
        lane_floats[1, lane] = objective
        lane_floats[2, lane] = beta_next[lane]
    return beta_next


@numba.njit(inline="always", **_JIT)
def _track_fit(k_z, y, ks, beta, fit, t, lane):
    """Update ``K s`` of the current iterate from ``K z`` and accumulate the fit.

    ``z = s + beta*(s - s_prev)`` so ``K s = (K z + beta*K s_prev)/(1 + beta)``.
    """
    k_s = (k_z + beta * ks[t, lane]) / (1.0 + beta)
    ks[t, lane] = k_s
    err = k_s - y[t, lane]
    fit[lane] += 0.5 * err * err


@numba.njit(**_JIT)
def _forward_banded(y, z, ks, beta, coef, resid):
    """resid = K z - y with the AR(2) recursion; returns the fit record of s."""
    g1, g2, w = coef[0], coef[1], coef[2]
    n_time = y.shape[0]
    fit = np.zeros(LANES)
    c1 = np.zeros(LANES)
    c2 = np.zeros(LANES)
    for t in range(n_time):
        for lane in range(LANES):
            c = g1 * c1[lane] + g2 * c2[lane]
            if t > 0:
                c += w * z[t - 1, lane]
            c2[lane] = c1[lane]
            c1[lane] = c
            resid[t, lane] = c - y[t, lane]
            _track_fit(c, y, ks, beta[lane], fit, t, lane)
    return fit


@numba.njit(**_JIT)
def _forward_truncated(y, z, ks, beta, coef, resid, run_d, run_r):
    """resid = K z - y with the truncated kernel; returns the fit record of s."""
    d, r, inv_peak = coef[0], coef[1], coef[2]
    d_tail, r_tail, lag = coef[3], coef[4], int(coef[5])
    n_time = y.shape[0]
    fit = np.zeros(LANES)
    prev_d = np.zeros(LANES)
    prev_r = np.zeros(LANES)
    for t in range(n_time):
        for lane in range(LANES):
            sum_d = d * prev_d[lane] + z[t, lane]
            sum_r = r * prev_r[lane] + z[t, lane]
            prev_d[lane] = sum_d
            prev_r[lane] = sum_r
            run_d[t, lane] = sum_d
            run_r[t, lane] = sum_r
            if lag > 0 and t >= lag:
                sum_d -= d_tail * run_d[t - lag, lane]
                sum_r -= r_tail * run_r[t - lag, lane]
            c = inv_peak * (sum_d - sum_r)
            resid[t, lane] = c - y[t, lane]
            _track_fit(c, y, ks, beta[lane], fit, t, lane)
    return fit


@numba.njit(inline="always", **_JIT)
def _prox_update(s, z, grad, beta_next, frozen, step, threshold, upper, stats, t, lane):
    """Projected gradient step from z; next extrapolated point; change record."""
    old = s[t, lane]
    new = min(max(z[t, lane] - step * grad - threshold, 0.0), upper)
    new += frozen[lane] * (old - new)
    delta = new - old
    s[t, lane] = new
    z[t, lane] = new + beta_next[lane] * delta
    stats[0, lane] += delta * delta
    stats[1, lane] += new * new
    stats[2, lane] += new


@numba.njit(**_JIT)
def _backward_banded(s, z, resid, beta_next, done, coef, settings, lane_floats):
    """K^T resid by the reverse AR(2) recursion, fused with the proximal step."""
    g1, g2, w = coef[0], coef[1], coef[2]
    step, threshold, upper = settings[0], settings[1], settings[3]
    n_time = s.shape[0]
    frozen = _frozen_mask(done)
    stats = np.zeros((3, LANES))
    v1 = np.zeros(LANES)
    v2 = np.zeros(LANES)
    for t in range(n_time - 1, -1, -1):
        for lane in range(LANES):
            grad = v1[lane]
            _prox_update(s, z, grad, beta_next, frozen, step, threshold, upper, stats, t, lane)
            v = g1 * v1[lane] + g2 * v2[lane] + w * resid[t, lane]
            v2[lane] = v1[lane]
            v1[lane] = v
    _store_sum(stats, lane_floats)
    return stats


@numba.njit(**_JIT)
def _backward_truncated(s, z, resid, beta_next, done, coef, settings, run_d, run_r, lane_floats):
    """K^T resid for the truncated kernel, fused with the proximal step."""
    d, r, inv_peak = coef[0], coef[1], coef[2]
    d_tail, r_tail, lag = coef[3], coef[4], int(coef[5])
    step, threshold, upper = settings[0], settings[1], settings[3]
    n_time = s.shape[0]
    frozen = _frozen_mask(done)
    stats = np.zeros((3, LANES))
    next_d = np.zeros(LANES)
    next_r = np.zeros(LANES)
    for t in range(n_time - 1, -1, -1):
        for lane in range(LANES):
            sum_d = d * next_d[lane] + resid[t, lane]
            sum_r = r * next_r[lane] + resid[t, lane]
            next_d[lane] = sum_d
            next_r[lane] = sum_r
            run_d[t, lane] = sum_d
            run_r[t, lane] = sum_r
            if lag > 0 and t + lag < n_time:
                sum_d -= d_tail * run_d[t + lag, lane]
                sum_r -= r_tail * run_r[t + lag, lane]
            grad = inv_peak * (sum_d - sum_r)
            _prox_update(s, z, grad, beta_next, frozen, step, threshold, upper, stats, t, lane)
    _store_sum(stats, lane_floats)
    return stats


@numba.njit(inline="always", **_JIT)
def _frozen_mask(done):
    frozen = np.empty(LANES)
    for lane in range(LANES):
        frozen[lane] = 1.0 if done[lane] else 0.0
    return frozen


@numba.njit(inline="always", **_JIT)
def _store_sum(stats, lane_floats):
    """Keep sum(s) of the new iterate for the next objective evaluation."""
    for lane in range(LANES):
        lane_floats[3, lane] = stats[2, lane]


@numba.njit(inline="always", **_JIT)
def _check_convergence(stats, beta, iters, done, settings):
    tol = settings[4]
    for lane in range(LANES):
        if done[lane]:
            continue
        iters[lane] += 1
        settled = beta[lane] >= SETTLED_MOMENTUM and iters[lane] >= MIN_ITERATIONS
        if settled and stats[0, lane] <= tol * tol * stats[1, lane]:
            done[lane] = True
