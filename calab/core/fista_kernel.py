"""The solver's parallel kernel: rounds of FISTA iterations per group, in two precisions.

Each group of lanes (:mod:`calab.core.fista_state`) runs in its own thread.
A group in the float32 phase (``phases[g] == 0``) iterates on float32 copies
of its arrays, which halve the bytes moved and double the vector lanes; when
all its cells have left that phase it switches to float64 on the spot
(:func:`_switch_to_double`: the float32 values carry over exactly) and goes
on in the same round.

**One iteration**, per group (passes in :mod:`calab.core.fista_sweeps`):

1. the residual pass (``t`` ascending): corrects the local ``K z`` held in
   the work array, forms the residual ``K z - y`` and the fit of the current
   iterate (``K s`` follows from ``K z``, see :mod:`calab.core.fista_cells`);
   for ``"fft"`` the correction and the lagged taps are separate passes;
2. ``_adjoint_pass`` (``t`` descending): the local adjoint recursion, in place;
3. ``_prox_pass``: corrected gradient, projected step, next extrapolated
   point, change record;
4. ``_local_forward``: the local ``K z`` of the new point.
"""

from __future__ import annotations

import numba
import numpy as np

from calab.core.fista_cells import (
    BETA,
    CONVERGED,
    COUNTDOWN,
    JIT_OPTIONS,
    LAM_GAIN,
    MAX_ITERS,
    OBJECTIVE,
    finish_iteration,
    restart_or_advance,
)
from calab.core.fista_sweeps import (
    GUARD,
    NEXT_BETA,
    TAPS,
    _adjoint_input,
    _adjoint_pass,
    _correct_forward,
    _fit_pass,
    _local_forward,
    _prox_pass,
    _truncated_fit_pass,
    apply_operator,
    scratch_for,
)

SINGLE, DOUBLE = 0, 1  # values of ``phases``


@numba.njit(parallel=True, **JIT_OPTIONS)
def iterate(
    Y, S, Z, KS, Y32, S32, Z32, KS32, iters, done, floats, phases, padding, groups, single,
    double, n_steps, valid_rows,
):
    """Run up to ``n_steps`` iterations of each group in ``groups``.

    ``Y32 .. KS32`` are the float32 arrays of the groups in the float32 phase.

    ``single`` and ``double`` are ``(coef, settings, tables)`` in float32 and
    float64: the operator coefficients ``(g1, g2, w, alpha, beta, taps)``
    (``taps = 0`` for the untruncated kernel), the settings vector of
    :mod:`calab.core.fista_cells` and the correction tables of
    :func:`calab.core.fista_sweeps.correction_tables`. ``padding`` marks the
    lanes that hold no cell; ``valid_rows[lane]`` is the number of real
    samples in the lane's chunk (the last chunk of a cell is padded).
    """
    n_chunks = Y.shape[2] // iters.shape[1]
    for i in numba.prange(groups.shape[0]):
        g = groups[i]
        steps = n_steps
        if phases[g] == SINGLE:
            steps -= _run(Y32[g], S32[g], Z32[g], KS32[g], iters[g], done[g], floats[g], single,
                          valid_rows, n_chunks, steps)
            if done[g].all():
                S[g][:], Z[g][:] = S32[g], Z32[g]
                _switch_to_double(Y[g], S[g], Z[g], KS[g], iters[g], done[g], floats[g],
                                  padding[g], double, valid_rows, n_chunks)
                phases[g] = DOUBLE
        if phases[g] == DOUBLE and steps > 0:
            _run(Y[g], S[g], Z[g], KS[g], iters[g], done[g], floats[g], double, valid_rows,
                 n_chunks, steps)


@numba.njit(**JIT_OPTIONS)
def _run(y, s, z, ks, iters, done, floats, constants, valid_rows, n_chunks, n_steps):
    """Up to ``n_steps`` iterations of one group, in the dtype of its arrays; iterations run."""
    coef, settings, tables = constants
    chunk_len, n_lanes = y.shape
    truncated = coef[TAPS] > 0
    work = np.zeros((chunk_len + 2 * GUARD, n_lanes), y.dtype)
    resid = np.zeros((chunk_len, n_lanes) if truncated else (1, 1), y.dtype)
    scratch = scratch_for(y, n_chunks)
    _local_forward(z, work, coef)
    for step in range(n_steps):
        if done.all():
            return step
        if truncated:
            _correct_forward(z, work, resid, coef, tables, n_chunks, scratch)
            fit = _truncated_fit_pass(y, ks, work, resid, floats, done, coef, valid_rows,
                                      n_chunks, scratch)
            _adjoint_input(resid, work, coef, n_chunks, scratch[3])
        else:
            fit = _fit_pass(y, z, ks, work, floats, done, coef, tables, valid_rows, n_chunks,
                            scratch)
        beta_next = restart_or_advance(fit, floats, done, settings, scratch[1][NEXT_BETA])
        _adjoint_pass(work, coef)
        stats = _prox_pass(s, z, work, beta_next, done, coef, settings, tables, n_chunks,
                           scratch)
        _local_forward(z, work, coef)
        finish_iteration(stats, beta_next, floats, iters, done, settings)
    return n_steps


@numba.njit(**JIT_OPTIONS)
def _switch_to_double(y, s, z, ks, iters, done, floats, padding, constants, valid_rows,
                      n_chunks):
    """Continue a group whose cells have all left the float32 phase in float64.

    The iterate, extrapolated point and momentum carry over. The ``K s``
    record is recomputed with the float64 operator: the fit reads it at full
    weight, and the float32 one carries the float32 operator's rounding. So is
    the objective record, the float64 objective of the iterate before ``s``:
    the first float64 iteration compares it with the objective of ``s`` and
    restarts if it rose, the decision float32 could not make (a cell hands
    over when its objective's change is too small to tell). The convergence
    test starts over, so float64 alone decides convergence.
    """
    coef, settings, tables = constants
    chunk_len, n_lanes = s.shape
    previous = s.copy()  # the iterate before s, from z = s + beta*(s - previous)
    for cell in range(done.shape[0]):
        beta = floats[BETA, cell]
        if beta > 0.0:
            lanes = slice(cell * n_chunks, (cell + 1) * n_chunks)
            previous[:, lanes] = ((1.0 + beta) * s[:, lanes] - z[:, lanes]) / beta
    work = np.zeros((chunk_len + 2 * GUARD, n_lanes))
    apply_operator(previous, ks, work, coef, tables, n_chunks)
    for cell in range(done.shape[0]):
        floats[OBJECTIVE, cell] = _objective(y, previous, ks, valid_rows, cell, n_chunks,
                                             settings[LAM_GAIN])
        floats[COUNTDOWN, cell] = floats[CONVERGED, cell] = 0.0
        done[cell] = padding[cell] or iters[cell] >= settings[MAX_ITERS]


@numba.njit(**JIT_OPTIONS)
def _objective(y, s, ks, valid_rows, cell, n_chunks, lam_gain):
    """``0.5*||K s - y||**2 + lam_gain*sum(s)`` of one cell (``ks`` holds ``K s``)."""
    squares = total = 0.0
    for lane in range(cell * n_chunks, (cell + 1) * n_chunks):
        for tau in range(valid_rows[lane]):
            err = ks[tau, lane] - y[tau, lane]
            squares += err * err
            total += s[tau, lane]
    return 0.5 * squares + lam_gain * total
