"""The per-cell logic of the batched FISTA solver: momentum, restart, convergence.

The sweeps over the samples live in :mod:`calab.core.fista_sweeps`; these
functions run once per iteration on the scalars of each cell.

Per-cell scalars live in ``floats[g]`` rows: ``T_MOMENTUM`` (FISTA's t),
``OBJECTIVE`` (F of the previous iterate), ``BETA`` (weight that formed z),
``SUM_S`` (sum of the current iterate) and ``COUNTDOWN`` (iterations left
once converged; 0 before).
"""

from __future__ import annotations

import math

import numba
import numpy as np

T_MOMENTUM, OBJECTIVE, BETA, SUM_S, COUNTDOWN = 0, 1, 2, 3, 4
N_FLOATS = 5
MIN_ITERATIONS = 5
# Once the relative change has fallen below tol, a cell has converged; it runs this
# many more iterations before it stops. The change is often small just after a
# momentum restart, where the steps are short but the objective still falls: the
# extra iterations buy a margin on the objective at a bounded cost.
CONFIRM_ITERATIONS = 15
# A rise of the objective smaller than this (relative) is rounding, not a reason to restart.
RESTART_MARGIN = 1e-12

JIT_OPTIONS = dict(
    cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp", "nsz", "reassoc"}
)


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


@numba.njit(inline="always", **JIT_OPTIONS)
def finish_iteration(stats, beta_next, floats, iters, done, settings):
    """Count the iteration, store sum(s) and the weight of z, test convergence."""
    tol = settings[4]
    for lane in range(iters.shape[0]):
        floats[SUM_S, lane] = stats[2, lane]
        floats[BETA, lane] = beta_next[lane]
        if done[lane]:
            continue
        iters[lane] += 1
        if floats[COUNTDOWN, lane] > 0.0:  # converged: the confirming iterations
            floats[COUNTDOWN, lane] -= 1.0
            done[lane] = floats[COUNTDOWN, lane] == 0.0
        elif iters[lane] >= MIN_ITERATIONS and stats[0, lane] <= tol * tol * stats[1, lane]:
            floats[COUNTDOWN, lane] = CONFIRM_ITERATIONS
            done[lane] = CONFIRM_ITERATIONS == 0
