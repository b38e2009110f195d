"""The per-cell logic of the batched FISTA solver: momentum, restart, convergence.

The sweeps over the samples live in :mod:`calab.core.fista_sweeps`; these
functions run once per iteration on the scalars of each cell.

Per-cell scalars live in ``floats[g]`` rows: ``T_MOMENTUM`` (FISTA's t),
``OBJECTIVE`` (F of the previous iterate), ``BETA`` (weight that formed z),
``SUM_S`` (sum of the current iterate), ``COUNTDOWN`` (iterations left
once converged; 0 before) and ``CONVERGED`` (1 once the test has been met).
A cell stops (``done``) when its confirming iterations are over or it has
used ``max_iters``.

The solver's constants are the ``settings`` vector, indexed by ``STEP``,
``THRESHOLD`` (step times the penalty), ``LAM_GAIN`` (the penalty), ``UPPER``
(bound of ``s``), ``TOL``, ``CONFIRM`` (iterations run once converged) and
``MAX_ITERS``.
"""

from __future__ import annotations

import math

import numba

T_MOMENTUM, OBJECTIVE, BETA, SUM_S, COUNTDOWN, CONVERGED = 0, 1, 2, 3, 4, 5
N_FLOATS = 6
STEP, THRESHOLD, LAM_GAIN, UPPER, TOL, CONFIRM, MAX_ITERS, HANDOVER = 0, 1, 2, 3, 4, 5, 6, 7
N_SETTINGS = 8
MIN_ITERATIONS = 5
# Once the relative change has fallen below tol, a cell has converged; by default it
# runs this many more iterations before it stops. The change is often small just after a
# momentum restart, where the steps are short but the objective still falls: the
# extra iterations buy a margin on the objective at a bounded cost.
CONFIRM_ITERATIONS = 15
# A rise of the objective smaller than this (relative) is rounding, not a reason to restart.
RESTART_MARGIN = 1e-12

# No "reassoc": every sum is written in a fixed order (fista_sweeps._fixed_order_sums), so
# that the machine code's choices cannot change a result (see that function).
JIT_OPTIONS = dict(
    cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp", "nsz"}
)


@numba.njit(inline="always", **JIT_OPTIONS)
def restart_or_advance(fit, floats, done, settings, beta_next):
    """Function-value restart (O'Donoghue & Candès 2015); weight of the next z, written
    into ``beta_next`` and returned.

    A cell that has stopped keeps its record: it may be continued later.
    """
    lam_gain = settings[LAM_GAIN]
    width = fit.shape[0]
    for lane in range(width):
        beta_next[lane] = floats[BETA, lane]
        if done[lane]:
            continue
        objective = fit[lane] + lam_gain * floats[SUM_S, lane]
        t_now = floats[T_MOMENTUM, lane]
        previous = floats[OBJECTIVE, lane]
        if objective <= previous * (1.0 + RESTART_MARGIN):
            pass
        elif objective <= previous * (1.0 + settings[HANDOVER]):  # too close to call
            floats[COUNTDOWN, lane] = 1.0  # stop after this iteration, momentum kept
        else:
            t_now = 1.0
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t_now * t_now))
        beta_next[lane] = (t_now - 1.0) / t_next
        floats[T_MOMENTUM, lane] = t_next
        floats[OBJECTIVE, lane] = objective
    return beta_next


@numba.njit(inline="always", **JIT_OPTIONS)
def finish_iteration(stats, beta_next, floats, iters, done, settings):
    """Count the iteration, store sum(s) and the weight of z, test convergence.

    ``stats`` per cell: the sum of ``delta**2 - tol**2 * s**2`` over the samples (at most
    zero when the relative change is at most ``tol``), then the sum of ``s``.
    """
    confirm, max_iters = settings[CONFIRM], settings[MAX_ITERS]
    for lane in range(iters.shape[0]):
        if done[lane]:
            continue
        floats[SUM_S, lane] = stats[1, lane]
        floats[BETA, lane] = beta_next[lane]
        iters[lane] += 1
        if floats[COUNTDOWN, lane] > 0.0:  # converged: the confirming iterations
            floats[COUNTDOWN, lane] -= 1.0
            done[lane] = floats[COUNTDOWN, lane] == 0.0
        elif iters[lane] >= MIN_ITERATIONS and stats[0, lane] <= 0.0:
            floats[CONVERGED, lane] = 1.0
            floats[COUNTDOWN, lane] = confirm
            done[lane] = confirm == 0
        if iters[lane] >= max_iters:
            done[lane] = True
