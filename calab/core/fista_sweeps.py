"""The FISTA sweeps over the samples, parallel over cells *and* time.

A recursion over ``T`` samples of a handful of cells is too narrow to fill the
vector units: each time step depends on the previous one. So every trace is
cut into ``n_chunks`` chunks of ``chunk_len`` samples, and a *lane* is one
chunk of one cell (lane ``cell * n_chunks + chunk``). Arrays of a group are
``(chunk_len, lanes)``, lanes contiguous per time step, and every sweep is a
loop over lanes that LLVM vectorises. The sweeps take rows as slices of the
flat array (:func:`_row`): numba's loops over ``array[row]`` views ran at
about half the speed. Passes with per-cell quantities (the fit, the proximal
step's change record) loop cell by cell over that cell's lanes, so the
per-cell weights and sums stay in registers and a converged cell is skipped.

**Operators.** Both modes start from the untruncated kernel ``c = K_full z``,
the AR(2) recursion ``c[t] = g1*c[t-1] + g2*c[t-2] + w*z[t-1]``. ``"banded"``
uses it as is. ``"fft"`` needs the kernel truncated to ``K`` taps; its tail
``sum_{i>=K} h[i] z[t-i]`` is ``(d**K E_d[t-K] - r**K E_r[t-K]) / peak``
with ``E`` the two exponential running sums, and those are recovered exactly
from two consecutive samples of ``c``, so::

    K_trunc z = c[t] - alpha*c[t-K+1] + beta*c[t-K]
    alpha = (d**K - r**K)/(d - r),   beta = (r*d**K - d*r**K)/(d - r)

and ``K_trunc^T r = K_full^T u`` with ``u[t] = r[t] - alpha*r[t+K-1] + beta*r[t+K]``.

**Exact despite the cut.** A linear recursion run over a chunk from zero
state differs from the true one by a solution of the homogeneous recursion,
fixed by the two states carried in from the neighbouring chunk::

    c[t0 + tau] = local[tau] + A[tau] * k1 + A[tau - 1] * k2

with ``A`` the homogeneous solution from ``A[-1] = 1, A[-2] = 0``. The
carries are found by a short pass over the chunks of each cell (the
"fix-up"), then one vectorised pass adds the correction.

**One iteration**, per group:

1. the residual pass (``t`` ascending): corrects the local ``K z`` held in
   the work array, forms the residual ``K z - y`` and the fit of the current
   iterate (``K s`` follows from ``K z``, see :mod:`calab.core.fista_cells`);
   for ``"fft"`` the correction and the lagged taps are separate passes;
2. ``_adjoint_pass`` (``t`` descending): the local adjoint recursion, in place;
3. ``_prox_pass``: corrected gradient, projected step, next extrapolated
   point, change record;
4. ``_local_forward``: the local ``K z`` of the new point.

The work array has ``GUARD`` zero rows on both sides of the chunk so that the
recursions need no special first or last steps.
"""

from __future__ import annotations

import numba
import numpy as np

from calab.core.fista_cells import (
    BETA,
    JIT_OPTIONS,
    finish_iteration,
    restart_or_advance,
)

GUARD = 2


def correction_tables(g1: float, g2: float, chunk_len: int) -> np.ndarray:
    """Homogeneous solutions indexed as the passes need them, ``(4, chunk_len)``.

    With ``L = chunk_len``, row by row at ``tau``: ``A[tau]`` and ``A[tau - 1]``
    (forward correction of sample ``tau``), then ``A[L - 2 - tau]`` and
    ``A[L - 3 - tau]`` (correction of the gradient at ``tau``, which is the
    adjoint state one sample later, counted from the chunk's end).
    """
    extended = np.empty(chunk_len + 2)  # A[k] at index k + 2, from k = -2
    extended[0], extended[1] = 0.0, 1.0
    for k in range(2, chunk_len + 2):
        extended[k] = g1 * extended[k - 1] + g2 * extended[k - 2]
    tau = np.arange(chunk_len)
    return np.stack([
        extended[tau + 2], extended[tau + 1],
        extended[chunk_len - tau], extended[chunk_len - 1 - tau],
    ])


@numba.njit(parallel=True, **JIT_OPTIONS)
def iterate(
    Y, S, Z, KS, iters, done, floats, groups, coef, settings, n_steps, tables, valid_rows
):
    """Run up to ``n_steps`` iterations of the groups ``groups`` (see the module docstring).

    ``coef`` is ``(g1, g2, w, alpha, beta, taps)``, ``taps = 0`` for the
    untruncated kernel. ``valid_rows[lane]`` is the number of real samples in
    the lane's chunk (the last chunk of a cell is padded).
    """
    chunk_len, n_lanes = Y.shape[1], Y.shape[2]
    n_chunks = n_lanes // iters.shape[1]
    truncated = coef[5] > 0
    for i in numba.prange(groups.shape[0]):
        g = groups[i]
        work = np.zeros((chunk_len + 2 * GUARD, n_lanes))
        resid = np.zeros((chunk_len, n_lanes)) if truncated else np.zeros((1, 1))
        _local_forward(Z[g], work, coef)
        for _ in range(n_steps):
            if done[g].all():
                break
            if truncated:
                _correct_forward(Z[g], work, resid, coef, tables, n_chunks)
                fit = _truncated_fit_pass(
                    Y[g], KS[g], work, resid, floats[g], coef, valid_rows, n_chunks
                )
                _adjoint_input(resid, work, coef, n_chunks)
            else:
                fit = _fit_pass(
                    Y[g], Z[g], KS[g], work, floats[g], coef, tables, valid_rows, n_chunks
                )
            beta_next = restart_or_advance(fit, floats[g], settings)
            _adjoint_pass(work, coef)
            stats = _prox_pass(S[g], Z[g], work, beta_next, done[g], coef, settings, tables,
                               n_chunks)
            _local_forward(Z[g], work, coef)
            finish_iteration(stats, beta_next, floats[g], iters[g], done[g], settings)


@numba.njit(**JIT_OPTIONS)
def _local_forward(z, work, coef):
    """``work`` = the local ``K z`` of every chunk (zero carries, input shifted by one)."""
    g1, g2, w = coef[0], coef[1], coef[2]
    chunk_len, n_lanes = z.shape
    flat_z, flat_work = z.reshape(-1), work.reshape(-1)
    work[: GUARD + 1] = 0.0
    for tau in range(1, chunk_len):
        row = GUARD + tau
        here, source = _row(flat_work, row, n_lanes), _row(flat_z, tau - 1, n_lanes)
        back1, back2 = _row(flat_work, row - 1, n_lanes), _row(flat_work, row - 2, n_lanes)
        for lane in range(n_lanes):
            here[lane] = g1 * back1[lane] + g2 * back2[lane] + w * source[lane]


@numba.njit(**JIT_OPTIONS)
def _forward_carries(z, work, coef, tables, n_chunks):
    """Per lane ``(k1, k2)``: the true state entering each chunk, chunk by chunk."""
    g2, w = coef[1], coef[2]
    chunk_len, n_lanes = z.shape
    k1 = np.zeros(n_lanes)
    k2 = np.zeros(n_lanes)
    last, second = GUARD + chunk_len - 1, GUARD + chunk_len - 2
    for first_lane in range(0, n_lanes, n_chunks):
        carry1 = carry2 = 0.0
        for lane in range(first_lane, first_lane + n_chunks):
            k1[lane], k2[lane] = carry1, carry2
            if lane == first_lane + n_chunks - 1:
                break
            end = work[last, lane] + tables[0, chunk_len - 1] * carry1
            end += tables[1, chunk_len - 1] * carry2
            before = work[second, lane] + tables[0, chunk_len - 2] * carry1
            before += tables[1, chunk_len - 2] * carry2
            carry1, carry2 = end, g2 * before + w * z[chunk_len - 1, lane]
    return k1, k2


@numba.njit(**JIT_OPTIONS)
def _fit_pass(y, z, ks, work, floats, coef, tables, valid_rows, n_chunks):
    """Residual ``K z - y`` into ``work``; per-cell fit of the current iterate."""
    k1, k2 = _forward_carries(z, work, coef, tables, n_chunks)
    chunk_len, n_lanes = y.shape
    beta, inv = _fit_weights(floats)
    fit = np.zeros(beta.shape[0])
    flat_y, flat_ks, flat_work = y.reshape(-1), ks.reshape(-1), work.reshape(-1)
    for tau in range(chunk_len):
        _residual_row(_row(flat_work, GUARD + tau, n_lanes), tables[0, tau], k1, tables[1, tau],
                      k2, _row(flat_y, tau, n_lanes), _row(flat_ks, tau, n_lanes), beta, inv, fit,
                      n_chunks)
    _clear_padding(y, ks, work, GUARD, fit, valid_rows, n_chunks)
    return fit


@numba.njit(inline="always", **JIT_OPTIONS)
def _residual_row(conv, a1, k1, a2, k2, y_row, ks_row, beta, inv, fit, n_chunks):
    """One time step: ``conv + a1*k1 + a2*k2`` (``K z``) becomes the residual in ``conv``;
    ``K s`` and the fit of the iterate follow.

    Cell by cell, so the per-cell weights and the fit stay in registers.
    """
    for cell in range(fit.shape[0]):
        weight, scale, first = beta[cell], inv[cell], cell * n_chunks
        squares = 0.0
        for chunk in range(n_chunks):  # (a range from first vectorises; one to first + n does not)
            lane = first + chunk
            k_z = conv[lane] + a1 * k1[lane] + a2 * k2[lane]
            yt = y_row[lane]
            conv[lane] = k_z - yt
            k_s = (k_z + weight * ks_row[lane]) * scale
            ks_row[lane] = k_s
            err = k_s - yt
            squares += err * err
        fit[cell] += 0.5 * squares


@numba.njit(**JIT_OPTIONS)
def _clear_padding(y, ks, resid, offset, fit, valid_rows, n_chunks):
    """Padded samples (end of a cell's last chunk) get no residual and no (per-cell) fit.

    The residual is at rows ``offset + tau`` of ``resid``.
    """
    chunk_len, n_lanes = y.shape
    for lane in range(n_chunks - 1, n_lanes, n_chunks):  # only a last chunk is padded
        for tau in range(valid_rows[lane], chunk_len):
            err = ks[tau, lane] - y[tau, lane]
            fit[lane // n_chunks] -= 0.5 * err * err
            resid[offset + tau, lane] = 0.0


@numba.njit(**JIT_OPTIONS)
def _correct_forward(z, work, resid, coef, tables, n_chunks):
    """The local ``K_full z`` of every chunk becomes the true one, in ``work`` and ``resid``."""
    k1, k2 = _forward_carries(z, work, coef, tables, n_chunks)
    chunk_len, n_lanes = z.shape
    flat_work, flat_resid = work.reshape(-1), resid.reshape(-1)
    for tau in range(chunk_len):
        a1, a2 = tables[0, tau], tables[1, tau]
        here = _row(flat_work, GUARD + tau, n_lanes)
        copy = _row(flat_resid, tau, n_lanes)
        for lane in range(n_lanes):
            value = here[lane] + a1 * k1[lane] + a2 * k2[lane]
            here[lane] = value
            copy[lane] = value


@numba.njit(**JIT_OPTIONS)
def _truncated_fit_pass(y, ks, work, resid, floats, coef, valid_rows, n_chunks):
    """``resid = K_trunc z - y`` from the true ``K_full z`` (in ``work``, copied in ``resid``).

    Also the per-cell fit of the current iterate.
    """
    alpha, beta_tail, taps = coef[3], coef[4], int(coef[5])
    chunk_len, n_lanes = y.shape
    beta, inv = _fit_weights(floats)
    chunk_of = _chunk_of_lanes(n_lanes, n_chunks)
    fit = np.zeros(beta.shape[0])
    no_carry = np.zeros(n_lanes)  # the carries are already in: work holds the true K_full z
    flat_y, flat_ks, flat_resid = y.reshape(-1), ks.reshape(-1), resid.reshape(-1)
    flat_work = work.reshape(-1)
    for tau in range(chunk_len):
        out = _row(flat_resid, tau, n_lanes)
        _add_shifted(out, flat_work, GUARD, tau - taps + 1, -alpha, chunk_of, n_chunks)
        _add_shifted(out, flat_work, GUARD, tau - taps, beta_tail, chunk_of, n_chunks)
        _residual_row(out, 0.0, no_carry, 0.0, no_carry, _row(flat_y, tau, n_lanes),
                      _row(flat_ks, tau, n_lanes), beta, inv, fit, n_chunks)
    _clear_padding(y, ks, resid, 0, fit, valid_rows, n_chunks)
    return fit


@numba.njit(**JIT_OPTIONS)
def _adjoint_input(resid, work, coef, n_chunks):
    """``work`` = ``u = r - alpha*r[t+K-1] + beta*r[t+K]``, the input of ``K_full^T``."""
    alpha, beta_tail, taps = coef[3], coef[4], int(coef[5])
    chunk_len, n_lanes = resid.shape
    chunk_of = _chunk_of_lanes(n_lanes, n_chunks)
    flat_work, flat_resid = work.reshape(-1), resid.reshape(-1)
    for tau in range(chunk_len):
        out, here = _row(flat_work, GUARD + tau, n_lanes), _row(flat_resid, tau, n_lanes)
        for lane in range(n_lanes):
            out[lane] = here[lane]
        _add_shifted(out, flat_resid, 0, tau + taps - 1, -alpha, chunk_of, n_chunks)
        _add_shifted(out, flat_resid, 0, tau + taps, beta_tail, chunk_of, n_chunks)


@numba.njit(inline="always", **JIT_OPTIONS)
def _add_shifted(out, source, offset, position, weight, chunk_of, n_chunks):
    """``out[lane] += weight * x[t0(lane) + position]`` for every lane, within its cell.

    ``source`` (flat) holds ``x`` in chunk rows starting at row ``offset`` (``GUARD``
    for the work array); ``chunk_of[lane]`` is the lane's chunk within its cell.
    Samples outside the lane's cell count as zero.
    """
    n_lanes = out.shape[0]
    chunk_len = source.shape[0] // n_lanes - 2 * offset
    shift = position // chunk_len  # whole chunks back (< 0) or ahead (> 0)
    src = _row(source, offset + position - shift * chunk_len, n_lanes)
    low, high = float(-shift), float(n_chunks - shift)
    first, last = max(0, -shift), min(n_lanes, n_lanes - shift)
    targets, chunks = out[first:last], chunk_of[first:last]
    sources = src[first + shift : last + shift]
    for i in range(last - first):
        inside = 1.0 if chunks[i] >= low and chunks[i] < high else 0.0
        targets[i] += inside * weight * sources[i]


@numba.njit(**JIT_OPTIONS)
def _adjoint_pass(work, coef):
    """In place: ``v[t] = g1*v[t+1] + g2*v[t+2] + w*resid[t]`` within each chunk."""
    g1, g2, w = coef[0], coef[1], coef[2]
    n_rows, n_lanes = work.shape
    flat_work = work.reshape(-1)
    for row in range(n_rows - GUARD - 1, GUARD - 1, -1):
        here, ahead1 = _row(flat_work, row, n_lanes), _row(flat_work, row + 1, n_lanes)
        ahead2 = _row(flat_work, row + 2, n_lanes)
        for lane in range(n_lanes):
            here[lane] = g1 * ahead1[lane] + g2 * ahead2[lane] + w * here[lane]


@numba.njit(**JIT_OPTIONS)
def _adjoint_carries(work, coef, tables, n_chunks):
    """Per lane ``(p1, p2)``: the true adjoint state after each chunk, last chunk first."""
    g2 = coef[1]
    n_lanes = work.shape[1]
    chunk_len = work.shape[0] - 2 * GUARD
    p1 = np.zeros(n_lanes)
    p2 = np.zeros(n_lanes)
    # v[t0 + tau] = local[tau] + A[L-1-tau]*p1 + A[L-2-tau]*p2, L = chunk_len
    for first_lane in range(0, n_lanes, n_chunks):
        carry1 = carry2 = 0.0
        for lane in range(first_lane + n_chunks - 1, first_lane - 1, -1):
            p1[lane], p2[lane] = carry1, carry2
            if lane == first_lane:
                break
            start = work[GUARD, lane] + tables[0, chunk_len - 1] * carry1
            start += tables[1, chunk_len - 1] * carry2
            after = work[GUARD + 1, lane] + tables[0, chunk_len - 2] * carry1
            after += tables[1, chunk_len - 2] * carry2
            carry1, carry2 = start, g2 * after
    return p1, p2


@numba.njit(**JIT_OPTIONS)
def _prox_pass(s, z, work, beta_next, done, coef, settings, tables, n_chunks):
    """Projected gradient step from ``z`` (gradient in ``work``), next ``z``, change record."""
    step, threshold, upper = settings[0], settings[1], settings[3]
    chunk_len, n_lanes = s.shape
    p1, p2 = _adjoint_carries(work, coef, tables, n_chunks)
    stats = np.zeros((3, done.shape[0]))
    flat_s, flat_z, flat_work = s.reshape(-1), z.reshape(-1), work.reshape(-1)
    for tau in range(chunk_len):
        a1, a2 = tables[2, tau], tables[3, tau]
        ahead = _row(flat_work, GUARD + tau + 1, n_lanes)
        s_row, z_row = _row(flat_s, tau, n_lanes), _row(flat_z, tau, n_lanes)
        for cell in range(done.shape[0]):
            if done[cell]:  # converged cells keep their activity
                continue
            momentum, first = beta_next[cell], cell * n_chunks
            change = norm = total = 0.0
            for chunk in range(n_chunks):
                lane = first + chunk
                grad = ahead[lane] + a1 * p1[lane] + a2 * p2[lane]
                old = s_row[lane]
                new = min(max(z_row[lane] - step * grad - threshold, 0.0), upper)
                delta = new - old
                s_row[lane] = new
                z_row[lane] = new + momentum * delta
                change += delta * delta
                norm += new * new
                total += new
            stats[0, cell] += change
            stats[1, cell] += norm
            stats[2, cell] += total
    return stats


@numba.njit(inline="always", **JIT_OPTIONS)
def _row(flat, index, width):
    """Row ``index`` of a C-contiguous ``(rows, width)`` array, given as ``array.reshape(-1)``.

    The sweeps take rows as slices of the flat array: numba's loops over ``array[index]``
    rows ran at about half the speed (measured on every pass).
    """
    start = index * width
    return flat[start : start + width]


@numba.njit(inline="always", **JIT_OPTIONS)
def _fit_weights(floats):
    """Per cell: the weight ``beta`` that formed ``z`` and ``1 / (1 + beta)``."""
    beta = floats[BETA].copy()
    return beta, 1.0 / (1.0 + beta)


@numba.njit(inline="always", **JIT_OPTIONS)
def _chunk_of_lanes(n_lanes, n_chunks):
    out = np.empty(n_lanes)
    for lane in range(n_lanes):
        out[lane] = lane % n_chunks
    return out
