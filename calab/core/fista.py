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

Cells are packed in groups of ``LANES`` with the cells of a group contiguous
per time step, so every recursion is vectorised across cells; groups run in
parallel threads. Converged cells are frozen and, between rounds of
iterations, repacked away so that they stop costing time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from calab.core.kernel import KernelSpec

LANES = 8
ROUND_ITERATIONS = 40
MIN_ITERATIONS = 5


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
) -> SolverOutput:
    """Run FISTA on every row of ``y`` (float64, ``(n_cells, n_timepoints)``)."""
    n_cells, n_time = y.shape
    coefficients = _operator_coefficients(spec, conv_mode, n_time)
    gain = spec.ar2_gain if conv_mode == "banded" else spec.gain
    step = 1.0 / (gain * gain)
    threshold = step * lam * gain
    upper = 1.0 if constraint == "box01" else np.inf
    state = _State.start(y)
    while state.active.size:
        budget = max_iters - int(state.iterations[state.active].max(initial=0))
        n_steps = min(ROUND_ITERATIONS, budget)
        if n_steps <= 0:
            break
        _run_round(state, coefficients, conv_mode == "banded", step, threshold, upper, tol, n_steps)
        state.unpack_and_repack(max_iters)
    return SolverOutput(state.activity, state.iterations, state.converged)


def _operator_coefficients(spec: KernelSpec, conv_mode: str, n_time: int) -> np.ndarray:
    d, r, inv_peak = spec.decay_root, spec.rise_root, 1.0 / spec.peak
    if conv_mode == "banded":
        g1, g2 = spec.ar2_coefficients
        return np.array([g1, g2, (d - r) * inv_peak, 0.0, 0.0])
    taps = spec.length
    lag = taps if taps < n_time else 0  # lag 0 disables the truncation term
    return np.array([d, r, inv_peak, d**taps if lag else 0.0, r**taps if lag else 0.0, lag])


class _State:
    """Packed solver state for the cells still running."""

    def __init__(self, y: np.ndarray) -> None:
        n_cells, n_time = y.shape
        self.y_full = y
        self.activity = np.zeros((n_cells, n_time))
        self.iterations = np.zeros(n_cells, dtype=np.int64)
        self.converged = np.zeros(n_cells, dtype=np.bool_)
        self.active = np.arange(n_cells)

    @classmethod
    def start(cls, y: np.ndarray) -> _State:
        state = cls(y)
        state._pack(np.zeros_like(y), np.zeros_like(y), np.ones(y.shape[0]))
        return state

    def _pack(self, s: np.ndarray, s_prev: np.ndarray, momentum: np.ndarray) -> None:
        cells = self.active
        n_groups = -(-cells.size // LANES)
        n_time = self.y_full.shape[1]
        self.packed_y = _to_lanes(self.y_full[cells], n_groups, n_time)
        self.packed_s = _to_lanes(s, n_groups, n_time)
        self.packed_prev = _to_lanes(s_prev, n_groups, n_time)
        self.momentum = _lane_vector(momentum, n_groups, 1.0)
        self.lane_iters = _lane_vector(self.iterations[cells], n_groups, 0).astype(np.int64)
        lane_done = np.ones(n_groups * LANES, dtype=np.bool_)
        lane_done[: cells.size] = False
        self.lane_done = lane_done.reshape(n_groups, LANES)

    def unpack_and_repack(self, max_iters: int) -> None:
        cells = self.active
        s = _from_lanes(self.packed_s, cells.size)
        s_prev = _from_lanes(self.packed_prev, cells.size)
        iters = self.lane_iters.reshape(-1)[: cells.size]
        done = self.lane_done.reshape(-1)[: cells.size]
        momentum = self.momentum.reshape(-1)[: cells.size]
        self.iterations[cells] = iters
        self.converged[cells] = done
        self.activity[cells] = s
        keep = ~done & (iters < max_iters)
        if keep.all():
            return
        self.active = cells[keep]
        self._pack(s[keep], s_prev[keep], momentum[keep])


def _to_lanes(rows: np.ndarray, n_groups: int, n_time: int) -> np.ndarray:
    packed = np.zeros((n_groups * LANES, n_time))
    packed[: rows.shape[0]] = rows
    return np.ascontiguousarray(packed.reshape(n_groups, LANES, n_time).transpose(0, 2, 1))


def _from_lanes(packed: np.ndarray, n_rows: int) -> np.ndarray:
    n_groups, n_time, _ = packed.shape
    return packed.transpose(0, 2, 1).reshape(n_groups * LANES, n_time)[:n_rows]


def _lane_vector(values: np.ndarray, n_groups: int, fill: float) -> np.ndarray:
    out = np.full(n_groups * LANES, fill, dtype=np.float64)
    out[: values.size] = values
    return out.reshape(n_groups, LANES)


def _run_round(state: _State, coefficients, banded, step, threshold, upper, tol, n_steps) -> None:
    kernel = _round_banded if banded else _round_truncated
    kernel(
        state.packed_y,
        state.packed_s,
        state.packed_prev,
        state.momentum,
        state.lane_iters,
        state.lane_done,
        coefficients,
        step,
        threshold,
        upper,
        tol,
        n_steps,
    )


_JIT = dict(cache=True, nogil=True, fastmath={"contract", "arcp", "nsz"}, error_model="numpy")


@numba.njit(parallel=True, **_JIT)
def _round_truncated(Y, S, P, momentum, iters, done, coef, step, threshold, upper, tol, n_steps):
    for g in numba.prange(Y.shape[0]):
        n_time = Y.shape[1]
        z = np.empty((n_time, LANES))
        resid = np.empty((n_time, LANES))
        run_d = np.empty((n_time, LANES))
        run_r = np.empty((n_time, LANES))
        for _ in range(n_steps):
            if _all_done(done[g]):
                break
            beta = _momentum_weights(momentum[g], iters[g])
            _forward_truncated(Y[g], S[g], P[g], beta, coef, z, resid, run_d, run_r)
            _backward_truncated(resid, coef, run_d, run_r)
            _prox_step(S[g], P[g], z, run_d, done[g], iters[g], momentum[g], step, threshold,
                       upper, tol)


@numba.njit(parallel=True, **_JIT)
def _round_banded(Y, S, P, momentum, iters, done, coef, step, threshold, upper, tol, n_steps):
    for g in numba.prange(Y.shape[0]):
        n_time = Y.shape[1]
        z = np.empty((n_time, LANES))
        resid = np.empty((n_time, LANES))
        grad = np.empty((n_time, LANES))
        for _ in range(n_steps):
            if _all_done(done[g]):
                break
            beta = _momentum_weights(momentum[g], iters[g])
            _forward_banded(Y[g], S[g], P[g], beta, coef, z, resid)
            _backward_banded(resid, coef, grad)
            _prox_step(S[g], P[g], z, grad, done[g], iters[g], momentum[g], step, threshold,
                       upper, tol)


@numba.njit(inline="always", **_JIT)
def _all_done(done):
    for lane in range(LANES):
        if not done[lane]:
            return False
    return True


@numba.njit(inline="always", **_JIT)
def _momentum_weights(momentum, iters):
    """FISTA extrapolation weight ``(t_k - 1)/t_{k+1}`` per lane; advances ``t``."""
    beta = np.empty(LANES)
    for lane in range(LANES):
        t_now = momentum[lane]
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t_now * t_now))
        beta[lane] = (t_now - 1.0) / t_next
        momentum[lane] = t_next
    return beta


@numba.njit(**_JIT)
def _forward_truncated(y, s, p, beta, coef, z, resid, run_d, run_r):
    """z = s + beta*(s - p); resid = K z - y with the truncated kernel."""
    d, r, inv_peak, d_tail, r_tail = coef[0], coef[1], coef[2], coef[3], coef[4]
    lag = int(coef[5])
    n_time = y.shape[0]
    for t in range(n_time):
        for lane in range(LANES):
            zt = s[t, lane] + beta[lane] * (s[t, lane] - p[t, lane])
            z[t, lane] = zt
            prev_d = run_d[t - 1, lane] if t > 0 else 0.0
            prev_r = run_r[t - 1, lane] if t > 0 else 0.0
            run_d[t, lane] = d * prev_d + zt
            run_r[t, lane] = r * prev_r + zt
        if lag > 0 and t >= lag:
            for lane in range(LANES):
                resid[t, lane] = inv_peak * (
                    run_d[t, lane] - run_r[t, lane]
                    - d_tail * run_d[t - lag, lane] + r_tail * run_r[t - lag, lane]
                ) - y[t, lane]
        else:
            for lane in range(LANES):
                resid[t, lane] = inv_peak * (run_d[t, lane] - run_r[t, lane]) - y[t, lane]


@numba.njit(**_JIT)
def _backward_truncated(resid, coef, run_d, run_r):
    """Gradient K^T resid (the adjoint of the truncated kernel) into ``run_d``."""
    d, r, inv_peak, d_tail, r_tail = coef[0], coef[1], coef[2], coef[3], coef[4]
    lag = int(coef[5])
    n_time = resid.shape[0]
    for t in range(n_time - 1, -1, -1):
        for lane in range(LANES):
            nd = run_d[t + 1, lane] if t + 1 < n_time else 0.0
            nr = run_r[t + 1, lane] if t + 1 < n_time else 0.0
            # run_d/run_r hold forward sums until overwritten here, from the end backwards
            run_d[t, lane] = d * nd + resid[t, lane]
            run_r[t, lane] = r * nr + resid[t, lane]
    # combine: grad[t] = inv_peak*(fd[t] - fr[t] - d^K fd[t+K] + r^K fr[t+K]), with fd = K^T sums
    for t in range(n_time):
        if lag > 0 and t + lag < n_time:
            for lane in range(LANES):
                run_d[t, lane] = inv_peak * (
                    run_d[t, lane] - run_r[t, lane]
                    - d_tail * run_d[t + lag, lane] + r_tail * run_r[t + lag, lane]
                )
        else:
            for lane in range(LANES):
                run_d[t, lane] = inv_peak * (run_d[t, lane] - run_r[t, lane])


@numba.njit(**_JIT)
def _forward_banded(y, s, p, beta, coef, z, resid):
    """z = s + beta*(s - p); resid = K z - y with the AR(2) recursion."""
    g1, g2, w = coef[0], coef[1], coef[2]
    n_time = y.shape[0]
    for t in range(n_time):
        for lane in range(LANES):
            zt = s[t, lane] + beta[lane] * (s[t, lane] - p[t, lane])
            z[t, lane] = zt
    for lane in range(LANES):
        resid[0, lane] = -y[0, lane]
    c1 = np.zeros(LANES)
    c2 = np.zeros(LANES)
    for t in range(1, n_time):
        for lane in range(LANES):
            c = g1 * c1[lane] + g2 * c2[lane] + w * z[t - 1, lane]
            c2[lane] = c1[lane]
            c1[lane] = c
            resid[t, lane] = c - y[t, lane]


@numba.njit(**_JIT)
def _backward_banded(resid, coef, grad):
    """grad = K^T resid for the AR(2) kernel (reverse recursion)."""
    g1, g2, w = coef[0], coef[1], coef[2]
    n_time = resid.shape[0]
    v1 = np.zeros(LANES)
    v2 = np.zeros(LANES)
    for lane in range(LANES):
        grad[n_time - 1, lane] = 0.0
    for t in range(n_time - 2, -1, -1):
        for lane in range(LANES):
            v = g1 * v1[lane] + g2 * v2[lane] + w * resid[t + 1, lane]
            v2[lane] = v1[lane]
            v1[lane] = v
            grad[t, lane] = v


@numba.njit(**_JIT)
def _prox_step(s, p, z, grad, done, iters, momentum, step, threshold, upper, tol):
    """Projected gradient step from z, convergence test and adaptive restart."""
    n_time = s.shape[0]
    change = np.zeros(LANES)
    norm = np.zeros(LANES)
    restart = np.zeros(LANES)
    frozen = np.empty(LANES)
    for lane in range(LANES):
        frozen[lane] = 1.0 if done[lane] else 0.0
    for t in range(n_time):
        for lane in range(LANES):
            cur = s[t, lane]
            new = min(max(z[t, lane] - step * grad[t, lane] - threshold, 0.0), upper)
            new = new + frozen[lane] * (cur - new)
            delta = new - cur
            change[lane] += delta * delta
            norm[lane] += new * new
            restart[lane] += (z[t, lane] - new) * delta
            p[t, lane] = cur
            s[t, lane] = new
    for lane in range(LANES):
        if done[lane]:
            continue
        iters[lane] += 1
        restarted = momentum[lane] == 1.0
        if restart[lane] > 0.0:
            momentum[lane] = 1.0
        if (iters[lane] >= MIN_ITERATIONS and not restarted
                and change[lane] <= tol * tol * norm[lane]):
            done[lane] = True
