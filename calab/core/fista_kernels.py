"""The truncated-kernel (``"fft"``) FISTA sweeps and the per-cell logic both modes share.

The AR(2) (``"banded"``) sweeps live in :mod:`calab.core.fista_banded`.

Arrays of a group are ``(n_timepoints, width)``: the ``width`` cells of the
group are contiguous per time step, so every statement below is a short loop
over cells. One iteration is two sweeps over the group:

- forward (``t`` ascending): ``K z`` by recursion, the residual ``K z - y``
  and the objective of the current iterate (``K s`` follows from ``K z`` and
  the previous ``K s``, as ``z = s + beta*(s - s_prev)``);
- backward (``t`` descending): ``K^T resid`` by the reverse recursion, fused
  with the projected gradient step, the next extrapolated point and the
  per-cell change record.

Per-cell scalars live in ``floats[g]`` rows: ``T_MOMENTUM`` (FISTA's t),
``OBJECTIVE`` (F of the previous iterate), ``BETA`` (weight that formed z)
and ``SUM_S`` (sum of the current iterate).
"""

from __future__ import annotations

import math

import numba
import numpy as np

T_MOMENTUM, OBJECTIVE, BETA, SUM_S = 0, 1, 2, 3
N_FLOATS = 4
MIN_ITERATIONS = 5
# The convergence test waits until the extrapolation weight (t_k - 1)/t_{k+1}
# has rebuilt to this value after a restart (about 17 iterations): the first
# steps after a restart are short and would stop the solver too early.
SETTLED_MOMENTUM = 0.8
# A rise of the objective smaller than this (relative) is rounding, not a reason to restart.
RESTART_MARGIN = 1e-12

JIT_OPTIONS = dict(
    cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp", "nsz", "reassoc"}
)


@numba.njit(parallel=True, **JIT_OPTIONS)
def iterate_truncated(Y, S, Z, KS, iters, done, floats, groups, coef, settings, n_steps):
    """Run up to ``n_steps`` iterations of every group with the truncated kernel."""
    for i in numba.prange(groups.shape[0]):
        g = groups[i]
        resid = np.empty_like(Y[g])
        ring_d = np.zeros((max(int(coef[5]), 1), Y.shape[2]))  # 0 * garbage could be NaN
        ring_r = np.zeros_like(ring_d)
        for _ in range(n_steps):
            if done[g].all():
                break
            fit = _forward_truncated(Y[g], Z[g], KS[g], floats[g], coef, resid, ring_d, ring_r)
            beta_next = restart_or_advance(fit, floats[g], settings)
            change = _backward_truncated(
                S[g], Z[g], resid, beta_next, done[g], coef, settings, ring_d, ring_r
            )
            finish_iteration(change, beta_next, floats[g], iters[g], done[g], settings)


@numba.njit(**JIT_OPTIONS)
def _forward_truncated(y, z, ks, floats, coef, resid, ring_d, ring_r):
    """K z with the truncated kernel: two running sums minus their values K steps back.

    ``ring_d``/``ring_r`` (``(lag, width)``) keep the last ``lag`` running sums.
    """
    d, r, inv_peak = coef[0], coef[1], coef[2]
    lag = int(coef[5])
    d_tail, r_tail = inv_peak * coef[3], inv_peak * coef[4]
    n_time, width = y.shape
    sum_d = np.zeros(width)
    sum_r = np.zeros(width)
    fit = np.zeros(width)
    beta, inv = _fit_weights(floats)
    slot, tail_on = 0, 0.0
    for t in range(n_time):
        if lag > 0 and t == lag:
            tail_on = 1.0
        for lane in range(width):
            zt = z[t, lane]
            new_d = d * sum_d[lane] + zt
            new_r = r * sum_r[lane] + zt
            sum_d[lane] = new_d
            sum_r[lane] = new_r
            conv = inv_peak * (new_d - new_r)
            if lag > 0:
                conv -= tail_on * (d_tail * ring_d[slot, lane] - r_tail * ring_r[slot, lane])
                ring_d[slot, lane] = new_d
                ring_r[slot, lane] = new_r
            yt = y[t, lane]
            resid[t, lane] = conv - yt
            k_s = (conv + beta[lane] * ks[t, lane]) * inv[lane]
            ks[t, lane] = k_s
            err = k_s - yt
            fit[lane] += 0.5 * err * err
        slot += 1
        if slot == lag:
            slot = 0
    return fit


@numba.njit(inline="always", **JIT_OPTIONS)
def _fit_weights(floats):
    width = floats.shape[1]
    beta = np.empty(width)
    inv = np.empty(width)
    for lane in range(width):
        beta[lane] = floats[BETA, lane]
        inv[lane] = 1.0 / (1.0 + floats[BETA, lane])
    return beta, inv


@numba.njit(inline="always", **JIT_OPTIONS)
def restart_or_advance(fit, floats, settings):
    """Function-value restart (O'Donoghue & Candès 2015); weight of the next z."""
    lam_gain = settings[2]
    width = fit.shape[0]
    beta_next = np.empty(width)
    for lane in range(width):
        objective = fit[lane] + lam_gain * floats[SUM_S, lane]
        t_now = floats[T_MOMENTUM, lane]
        if objective > floats[OBJECTIVE, lane] * (1.0 + RESTART_MARGIN):
            t_now = 1.0
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t_now * t_now))
        beta_next[lane] = (t_now - 1.0) / t_next
        floats[T_MOMENTUM, lane] = t_next
        floats[OBJECTIVE, lane] = objective
    return beta_next


@numba.njit(**JIT_OPTIONS)
def _backward_truncated(s, z, resid, beta_next, done, coef, settings, ring_d, ring_r):
    """K^T resid for the truncated kernel, fused with the proximal step."""
    d, r, inv_peak = coef[0], coef[1], coef[2]
    lag = int(coef[5])
    d_tail, r_tail = inv_peak * coef[3], inv_peak * coef[4]
    n_time, width = s.shape
    sum_d = np.zeros(width)
    sum_r = np.zeros(width)
    grad = np.empty(width)
    frozen = _frozen(done)
    stats = np.zeros((3, width))
    slot, tail_on = 0, 0.0
    for step_back in range(n_time):
        t = n_time - 1 - step_back
        if lag > 0 and step_back == lag:
            tail_on = 1.0
        for lane in range(width):
            rt = resid[t, lane]
            new_d = d * sum_d[lane] + rt
            new_r = r * sum_r[lane] + rt
            sum_d[lane] = new_d
            sum_r[lane] = new_r
            g = inv_peak * (new_d - new_r)
            if lag > 0:
                g -= tail_on * (d_tail * ring_d[slot, lane] - r_tail * ring_r[slot, lane])
                ring_d[slot, lane] = new_d
                ring_r[slot, lane] = new_r
            grad[lane] = g
        slot += 1
        if slot == lag:
            slot = 0
        _prox_row(s[t], z[t], grad, beta_next, frozen, settings, stats)
    return stats


@numba.njit(inline="always", **JIT_OPTIONS)
def _frozen(done):
    frozen = np.empty(done.shape[0])
    for lane in range(done.shape[0]):
        frozen[lane] = 1.0 if done[lane] else 0.0
    return frozen


@numba.njit(inline="always", **JIT_OPTIONS)
def _prox_row(st, zt, grad, beta_next, frozen, settings, stats):
    """Projected gradient step from z at one time step; next z; change record."""
    step, threshold, upper = settings[0], settings[1], settings[3]
    change, norm, total = stats[0], stats[1], stats[2]
    for lane in range(st.shape[0]):
        old = st[lane]
        new = min(max(zt[lane] - step * grad[lane] - threshold, 0.0), upper)
        new += frozen[lane] * (old - new)
        delta = new - old
        st[lane] = new
        zt[lane] = new + beta_next[lane] * delta
        change[lane] += delta * delta
        norm[lane] += new * new
        total[lane] += new


@numba.njit(inline="always", **JIT_OPTIONS)
def finish_iteration(stats, beta_next, floats, iters, done, settings):
    """Count the iteration, store sum(s) and the weight of z, test convergence."""
    tol = settings[4]
    for lane in range(iters.shape[0]):
        beta_used = floats[BETA, lane]
        floats[SUM_S, lane] = stats[2, lane]
        floats[BETA, lane] = beta_next[lane]
        if done[lane]:
            continue
        iters[lane] += 1
        settled = beta_used >= SETTLED_MOMENTUM and iters[lane] >= MIN_ITERATIONS
        if settled and stats[0, lane] <= tol * tol * stats[1, lane]:
            done[lane] = True
