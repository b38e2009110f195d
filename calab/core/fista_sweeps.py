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

**Two rows per loop.** The sweeps are limited by loads and stores, not by
arithmetic, so the main passes take two time steps per loop over the lanes:
the per-lane carries and partial sums are read and written once for both
rows, and a recursion keeps the newer row in a register instead of reading
it back. The partial sums keep the one-row order of additions.

The passes run in the dtype of the arrays they get (float32 or float64,
:mod:`calab.core.fista_kernel` chains them into iterations): every constant
and accumulator of an inner loop takes that dtype, per-cell sums are added up
in float64 once per row, and the carries of the fix-up are computed in
float64.

The work array has ``GUARD`` zero rows on both sides of the chunk so that the
recursions need no special first or last steps.
"""

from __future__ import annotations

import numba
import numpy as np

from calab.core.fista_cells import BETA, JIT_OPTIONS, STEP, THRESHOLD, TOL, UPPER

GUARD = 2
# Indices of the operator coefficients (calab.core.convolution.operator_coefficients).
G1, G2, W, ALPHA, BETA_TAIL, TAPS = 0, 1, 2, 3, 4, 5


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


# Rows of the scratch buffers (scratch_for): per lane, then per cell.
CARRY1, CARRY2, ZERO_ROW, PARTIALS = 0, 1, 2, 3  # PARTIALS: three rows
SUMS, FIT, NEXT_BETA = 0, 3, 4  # SUMS: three rows


@numba.njit(**JIT_OPTIONS)
def scratch_for(y, n_chunks):
    """Buffers the passes reuse every iteration of a group with lanes like ``y``.

    An allocation costs about as much as sweeping a row, and an iteration made
    about fifteen. Returns ``(lanes, cells, weights, chunk_of)``: per-lane rows in
    ``y``'s dtype (the two carries, a row of zeros, three partial sums), per-cell
    rows in float64 (three sums, the fit, the next momentum weight), two per-cell
    weight rows in ``y``'s dtype, and each lane's chunk within its cell.
    """
    n_lanes = y.shape[1]
    n_cells = n_lanes // n_chunks
    return (
        np.zeros((PARTIALS + 3, n_lanes), y.dtype), np.zeros((NEXT_BETA + 1, n_cells)),
        np.zeros((2, n_cells), y.dtype), _chunk_of_lanes(n_lanes, n_chunks),
    )


@numba.njit(**JIT_OPTIONS)
def _local_forward(z, work, coef):
    """``work`` = the local ``K z`` of every chunk (zero carries, input shifted by one)."""
    g1, g2, w = coef[0], coef[1], coef[2]
    chunk_len, n_lanes = z.shape
    flat_z, flat_work = z.reshape(-1), work.reshape(-1)
    work[: GUARD + 1] = 0.0
    tau = 1
    while tau + 1 < chunk_len:  # two rows per loop: the newer row stays in a register
        row = GUARD + tau
        here, next_row = _row(flat_work, row, n_lanes), _row(flat_work, row + 1, n_lanes)
        source, next_source = _row(flat_z, tau - 1, n_lanes), _row(flat_z, tau, n_lanes)
        back1, back2 = _row(flat_work, row - 1, n_lanes), _row(flat_work, row - 2, n_lanes)
        for lane in range(n_lanes):
            previous = back1[lane]
            value = g1 * previous + g2 * back2[lane] + w * source[lane]
            here[lane] = value
            next_row[lane] = g1 * value + g2 * previous + w * next_source[lane]
        tau += 2
    if tau < chunk_len:
        row = GUARD + tau
        here, source = _row(flat_work, row, n_lanes), _row(flat_z, tau - 1, n_lanes)
        back1, back2 = _row(flat_work, row - 1, n_lanes), _row(flat_work, row - 2, n_lanes)
        for lane in range(n_lanes):
            here[lane] = g1 * back1[lane] + g2 * back2[lane] + w * source[lane]


@numba.njit(**JIT_OPTIONS)
def _forward_carries(z, work, coef, tables, n_chunks, scratch):
    """Per lane ``(k1, k2)``: the true state entering each chunk, chunk by chunk."""
    g2, w = coef[1], coef[2]
    chunk_len, n_lanes = z.shape
    k1, k2 = scratch[0][CARRY1], scratch[0][CARRY2]
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
def _fit_pass(y, z, ks, work, floats, done, coef, tables, valid_rows, n_chunks, scratch):
    """Residual ``K z - y`` into ``work``; per-cell fit of the current iterate.

    Stopped cells (``done``) are skipped: their ``K s`` record stays as they left it.
    """
    k1, k2 = _forward_carries(z, work, coef, tables, n_chunks, scratch)
    chunk_len, n_lanes = y.shape
    beta, inv = _fit_weights(floats, scratch)
    squares = _zeroed_partials(scratch, 1)
    flat_y, flat_ks, flat_work = y.reshape(-1), ks.reshape(-1), work.reshape(-1)
    if done.shape[0] == 1:  # one cell: one loop over all lanes (test kept out of the rows)
        pairs_end = chunk_len - chunk_len % 2
        for tau in range(0, pairs_end, 2):
            _residual_pair_lanes(flat_work, flat_y, flat_ks, tau, tables, k1, k2, beta[0],
                                 inv[0], squares[0], n_lanes)
        for tau in range(pairs_end, chunk_len):
            _residual_lanes(_row(flat_work, GUARD + tau, n_lanes), tables[0, tau], k1,
                            tables[1, tau], k2, _row(flat_y, tau, n_lanes),
                            _row(flat_ks, tau, n_lanes), beta[0], inv[0], squares[0], 0, n_lanes)
    else:
        for tau in range(chunk_len):
            _residual_row(_row(flat_work, GUARD + tau, n_lanes), tables[0, tau], k1,
                          tables[1, tau], k2, _row(flat_y, tau, n_lanes),
                          _row(flat_ks, tau, n_lanes), beta, inv, squares[0], done, n_chunks)
    fit = _half_sums(squares, n_chunks, scratch)
    _clear_padding(y, ks, work, GUARD, fit, done, valid_rows, n_chunks)
    return fit


@numba.njit(inline="always", **JIT_OPTIONS)
def _residual_row(conv, a1, k1, a2, k2, y_row, ks_row, beta, inv, squares, done, n_chunks):
    """One time step: ``conv + a1*k1 + a2*k2`` (``K z``) becomes the residual in ``conv``;
    ``K s`` follows, and each lane's squared error is added to ``squares``.

    Cell by cell, so the per-cell weights stay in registers and stopped cells are skipped.
    """
    for cell in range(done.shape[0]):
        if not done[cell]:
            _residual_lanes(conv, a1, k1, a2, k2, y_row, ks_row, beta[cell], inv[cell], squares,
                            cell * n_chunks, n_chunks)


@numba.njit(inline="always", **JIT_OPTIONS)
def _residual_lanes(conv, a1, k1, a2, k2, y_row, ks_row, weight, scale, squares, first, count):
    """:func:`_residual_row` in lanes ``first .. first + count`` of one cell."""
    for chunk in range(count):  # (a range from first vectorises; one to first + n does not)
        lane = first + chunk
        conv[lane], ks_row[lane], err = _residual_sample(
            conv[lane] + a1 * k1[lane] + a2 * k2[lane], y_row[lane], ks_row[lane], weight, scale)
        squares[lane] += err * err


@numba.njit(inline="always", **JIT_OPTIONS)
def _residual_sample(k_z, yt, ks_before, weight, scale):
    """One sample from its corrected ``K z``: the residual ``K z - y``, ``K s`` from the
    ``K s`` record, and the iterate's error ``K s - y``."""
    k_s = (k_z + weight * ks_before) * scale
    return k_z - yt, k_s, k_s - yt


@numba.njit(inline="always", **JIT_OPTIONS)
def _residual_pair_lanes(flat_work, flat_y, flat_ks, tau, tables, k1, k2, weight, scale,
                         squares, n_lanes):
    """:func:`_residual_lanes` of rows ``tau`` and ``tau + 1`` over all lanes in one loop:
    the carries and partial sums are read and written once for both rows."""
    a1, a2, b1, b2 = tables[0, tau], tables[1, tau], tables[0, tau + 1], tables[1, tau + 1]
    conv, conv2 = _row(flat_work, GUARD + tau, n_lanes), _row(flat_work, GUARD + tau + 1, n_lanes)
    y_row, y_next = _row(flat_y, tau, n_lanes), _row(flat_y, tau + 1, n_lanes)
    ks_row, ks_next = _row(flat_ks, tau, n_lanes), _row(flat_ks, tau + 1, n_lanes)
    for lane in range(n_lanes):
        c1, c2 = k1[lane], k2[lane]
        conv[lane], ks_row[lane], err = _residual_sample(
            conv[lane] + a1 * c1 + a2 * c2, y_row[lane], ks_row[lane], weight, scale)
        conv2[lane], ks_next[lane], err2 = _residual_sample(
            conv2[lane] + b1 * c1 + b2 * c2, y_next[lane], ks_next[lane], weight, scale)
        squares[lane] = (squares[lane] + err * err) + err2 * err2  # the one-row order


@numba.njit(**JIT_OPTIONS)
def _clear_padding(y, ks, resid, offset, fit, done, valid_rows, n_chunks):
    """Padded samples (after a trace's end, in its last chunks) get no residual and no fit.

    The residual is at rows ``offset + tau`` of ``resid``.
    """
    chunk_len = y.shape[0]
    for cell in range(done.shape[0]):
        if done[cell]:
            continue
        for lane in range((cell + 1) * n_chunks - 1, cell * n_chunks - 1, -1):
            if valid_rows[lane] == chunk_len:
                break
            for tau in range(valid_rows[lane], chunk_len):
                err = ks[tau, lane] - y[tau, lane]
                fit[cell] -= 0.5 * err * err
                resid[offset + tau, lane] = 0.0


@numba.njit(**JIT_OPTIONS)
def _correct_forward(z, work, resid, coef, tables, n_chunks, scratch):
    """The local ``K_full z`` of every chunk becomes the true one, in ``work`` and ``resid``."""
    k1, k2 = _forward_carries(z, work, coef, tables, n_chunks, scratch)
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
def _truncated_fit_pass(y, ks, work, resid, floats, done, coef, valid_rows, n_chunks, scratch):
    """``resid = K_trunc z - y`` from the true ``K_full z`` (in ``work``, copied in ``resid``).

    Also the per-cell fit of the current iterate.
    """
    alpha, beta_tail, taps = coef[ALPHA], coef[BETA_TAIL], int(coef[TAPS])
    chunk_len, n_lanes = y.shape
    beta, inv = _fit_weights(floats, scratch)
    chunk_of = scratch[3]
    squares = _zeroed_partials(scratch, 1)
    zero = y.dtype.type(0)
    no_carry = scratch[0][ZERO_ROW]  # work holds the true K_full z: carries are in
    flat_y, flat_ks, flat_resid = y.reshape(-1), ks.reshape(-1), resid.reshape(-1)
    flat_work = work.reshape(-1)
    for tau in range(chunk_len):
        out = _row(flat_resid, tau, n_lanes)
        _truncate_row(out, flat_work, tau, alpha, beta_tail, taps, chunk_of, n_chunks)
        _residual_row(out, zero, no_carry, zero, no_carry, _row(flat_y, tau, n_lanes),
                      _row(flat_ks, tau, n_lanes), beta, inv, squares[0], done, n_chunks)
    fit = _half_sums(squares, n_chunks, scratch)
    _clear_padding(y, ks, resid, 0, fit, done, valid_rows, n_chunks)
    return fit


@numba.njit(**JIT_OPTIONS)  # not inlined: a reduction pass calls it
def _truncate_row(out, flat_work, tau, alpha, beta_tail, taps, chunk_of, n_chunks):
    """Row ``tau``: ``out`` (``K_full z``) minus the kernel's tail, from ``work`` (flat)."""
    _add_shifted(out, flat_work, GUARD, tau - taps + 1, -alpha, chunk_of, n_chunks)
    _add_shifted(out, flat_work, GUARD, tau - taps, beta_tail, chunk_of, n_chunks)


@numba.njit(**JIT_OPTIONS)
def apply_operator(x, out, work, coef, tables, n_chunks):
    """``out = K x`` for lanes ``x``, the operator of ``coef`` (``work``: scratch)."""
    chunk_len, n_lanes = x.shape
    scratch = scratch_for(x, n_chunks)
    _local_forward(x, work, coef)
    _correct_forward(x, work, out, coef, tables, n_chunks, scratch)
    if coef[TAPS] > 0:
        chunk_of = scratch[3]
        flat_out, flat_work = out.reshape(-1), work.reshape(-1)
        alpha, beta_tail, taps = coef[ALPHA], coef[BETA_TAIL], int(coef[TAPS])
        for tau in range(chunk_len):
            _truncate_row(_row(flat_out, tau, n_lanes), flat_work, tau, alpha, beta_tail, taps,
                          chunk_of, n_chunks)


@numba.njit(**JIT_OPTIONS)
def _adjoint_input(resid, work, coef, n_chunks, chunk_of):
    """``work`` = ``u = r - alpha*r[t+K-1] + beta*r[t+K]``, the input of ``K_full^T``.

    ``chunk_of``: each lane's chunk within its cell (:func:`scratch_for`).
    """
    alpha, beta_tail, taps = coef[ALPHA], coef[BETA_TAIL], int(coef[TAPS])
    chunk_len, n_lanes = resid.shape
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
    one, zero = out.dtype.type(1), out.dtype.type(0)
    for i in range(last - first):
        inside = one if chunks[i] >= low and chunks[i] < high else zero
        targets[i] += inside * weight * sources[i]


@numba.njit(**JIT_OPTIONS)
def _adjoint_pass(work, coef):
    """In place: ``v[t] = g1*v[t+1] + g2*v[t+2] + w*resid[t]`` within each chunk."""
    g1, g2, w = coef[0], coef[1], coef[2]
    n_rows, n_lanes = work.shape
    flat_work = work.reshape(-1)
    row = n_rows - GUARD - 1
    while row - 1 >= GUARD:  # two rows per loop: the newer row stays in a register
        here, before = _row(flat_work, row, n_lanes), _row(flat_work, row - 1, n_lanes)
        ahead1, ahead2 = _row(flat_work, row + 1, n_lanes), _row(flat_work, row + 2, n_lanes)
        for lane in range(n_lanes):
            following = ahead1[lane]
            value = g1 * following + g2 * ahead2[lane] + w * here[lane]
            here[lane] = value
            before[lane] = g1 * value + g2 * following + w * before[lane]
        row -= 2
    if row >= GUARD:
        here, ahead1 = _row(flat_work, row, n_lanes), _row(flat_work, row + 1, n_lanes)
        ahead2 = _row(flat_work, row + 2, n_lanes)
        for lane in range(n_lanes):
            here[lane] = g1 * ahead1[lane] + g2 * ahead2[lane] + w * here[lane]


@numba.njit(**JIT_OPTIONS)
def _adjoint_carries(work, coef, tables, n_chunks, scratch):
    """Per lane ``(p1, p2)``: the true adjoint state after each chunk, last chunk first."""
    g2 = coef[1]
    n_lanes = work.shape[1]
    chunk_len = work.shape[0] - 2 * GUARD
    p1, p2 = scratch[0][CARRY1], scratch[0][CARRY2]
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
def _prox_pass(s, z, work, beta_next, done, coef, settings, tables, n_chunks, scratch):
    """Projected gradient step from ``z`` (gradient in ``work``), next ``z``, change record.

    A group of one cell (a chunked trace) takes one loop over all its lanes per row; the
    test for it stays outside the loop over rows (inside, it halved the speed).
    """
    chunk_len, n_lanes = s.shape
    momenta = scratch[2][0]
    for cell in range(done.shape[0]):
        momenta[cell] = beta_next[cell]
    p1, p2 = _adjoint_carries(work, coef, tables, n_chunks, scratch)
    partials = _zeroed_partials(scratch, 2)  # per lane: the change's excess; sum of s
    flat_s, flat_z, flat_work = s.reshape(-1), z.reshape(-1), work.reshape(-1)
    pairs_end = chunk_len - chunk_len % 2
    if done.shape[0] == 1:
        for tau in range(0, pairs_end, 2):
            _prox_pair_lanes(flat_s, flat_z, flat_work, tau, 0, n_lanes, momenta[0], p1, p2,
                             partials, settings, tables)
        for tau in range(pairs_end, chunk_len):
            _prox_lanes(flat_s, flat_z, flat_work, tau, 0, n_lanes, momenta[0], p1, p2,
                        partials, settings, tables)
        return _cell_sums(partials, n_chunks, scratch[1][SUMS : SUMS + 2])
    for tau in range(0, pairs_end, 2):
        for cell in range(done.shape[0]):
            if not done[cell]:  # converged cells keep their activity
                _prox_pair_lanes(flat_s, flat_z, flat_work, tau, cell * n_chunks, n_chunks,
                                 momenta[cell], p1, p2, partials, settings, tables)
    for tau in range(pairs_end, chunk_len):
        for cell in range(done.shape[0]):
            if not done[cell]:
                _prox_lanes(flat_s, flat_z, flat_work, tau, cell * n_chunks, n_chunks,
                            momenta[cell], p1, p2, partials, settings, tables)
    return _cell_sums(partials, n_chunks, scratch[1][SUMS : SUMS + 2])


@numba.njit(inline="always", **JIT_OPTIONS)
def _prox_pair_lanes(flat_s, flat_z, flat_work, tau, first, count, momentum, p1, p2, partials,
                     settings, tables):
    """:func:`_prox_lanes` of rows ``tau`` and ``tau + 1`` in one loop: the per-lane
    carries and partial sums are read and written once for both rows."""
    n_lanes = partials.shape[1]
    step, threshold, upper = settings[STEP], settings[THRESHOLD], settings[UPPER]
    zero = flat_s.dtype.type(0)
    a1, a2, b1, b2 = tables[2, tau], tables[3, tau], tables[2, tau + 1], tables[3, tau + 1]
    ahead = _row(flat_work, GUARD + tau + 1, n_lanes)
    later = _row(flat_work, GUARD + tau + 2, n_lanes)
    s_row, z_row = _row(flat_s, tau, n_lanes), _row(flat_z, tau, n_lanes)
    s_next, z_next = _row(flat_s, tau + 1, n_lanes), _row(flat_z, tau + 1, n_lanes)
    excess, totals = partials[0], partials[1]
    tol2 = settings[TOL] * settings[TOL]
    for chunk in range(count):
        lane = first + chunk
        c1, c2 = p1[lane], p2[lane]
        grad = ahead[lane] + a1 * c1 + a2 * c2
        new, delta = _prox_sample(z_row[lane], grad, s_row[lane], step, threshold, upper, zero)
        s_row[lane], z_row[lane] = new, new + momentum * delta
        grad2 = later[lane] + b1 * c1 + b2 * c2
        new2, delta2 = _prox_sample(z_next[lane], grad2, s_next[lane], step, threshold, upper,
                                    zero)
        s_next[lane], z_next[lane] = new2, new2 + momentum * delta2
        first_excess = excess[lane] + (delta * delta - tol2 * (new * new))  # one-row order
        excess[lane] = first_excess + (delta2 * delta2 - tol2 * (new2 * new2))
        totals[lane] = (totals[lane] + new) + new2


@numba.njit(inline="always", **JIT_OPTIONS)
def _prox_lanes(flat_s, flat_z, flat_work, tau, first, count, momentum, p1, p2, partials,
                settings, tables):
    """The proximal step of row ``tau`` in lanes ``first .. first + count``."""
    n_lanes = partials.shape[1]
    step, threshold, upper = settings[STEP], settings[THRESHOLD], settings[UPPER]
    zero = flat_s.dtype.type(0)
    a1, a2 = tables[2, tau], tables[3, tau]
    ahead = _row(flat_work, GUARD + tau + 1, n_lanes)
    s_row, z_row = _row(flat_s, tau, n_lanes), _row(flat_z, tau, n_lanes)
    excess, totals = partials[0], partials[1]
    tol2 = settings[TOL] * settings[TOL]
    for chunk in range(count):  # (a range from first vectorises; one to first + n does not)
        lane = first + chunk
        grad = ahead[lane] + a1 * p1[lane] + a2 * p2[lane]
        new, delta = _prox_sample(z_row[lane], grad, s_row[lane], step, threshold, upper, zero)
        s_row[lane], z_row[lane] = new, new + momentum * delta
        excess[lane] += delta * delta - tol2 * (new * new)
        totals[lane] += new


@numba.njit(inline="always", **JIT_OPTIONS)
def _prox_sample(z_value, grad, s_before, step, threshold, upper, zero):
    """One sample's projected gradient step from ``z``: the new iterate and its change."""
    new = min(max(z_value - step * grad - threshold, zero), upper)
    return new, new - s_before


@numba.njit(inline="always", **JIT_OPTIONS)
def _cell_sums(partials, n_chunks, sums):
    """Per cell, the sum of its lanes' ``partials`` (one row per quantity) into ``sums``
    (float64, one row per quantity and a column per cell), which it returns.

    The passes add up per-cell quantities lane by lane across the rows (an elementwise
    update that vectorises without reordering any sum) and per cell here, in a fixed
    order. A vectorised reduction would leave the order to the compiler, which differs
    between freshly compiled and cached machine code: float32 sums would differ in the
    last bit and could flip a restart, so results would depend on the numba cache.
    """
    for k in range(partials.shape[0]):
        for cell in range(sums.shape[1]):
            total = 0.0
            for lane in range(cell * n_chunks, (cell + 1) * n_chunks):
                total += partials[k, lane]
            sums[k, cell] = total
    return sums


@numba.njit(inline="always", **JIT_OPTIONS)
def _row(flat, index, width):
    """Row ``index`` of a C-contiguous ``(rows, width)`` array, given as ``array.reshape(-1)``.

    The sweeps take rows as slices of the flat array: numba's loops over ``array[index]``
    rows ran at about half the speed (measured on every pass).
    """
    start = index * width
    return flat[start : start + width]


@numba.njit(inline="always", **JIT_OPTIONS)
def _fit_weights(floats, scratch):
    """Per cell: the weight ``beta`` that formed ``z`` and ``1 / (1 + beta)``, in the
    dtype of the lanes (rows of the scratch buffers)."""
    weights = scratch[2]
    for cell in range(weights.shape[1]):
        beta = floats[BETA, cell]
        weights[0, cell], weights[1, cell] = beta, 1.0 / (1.0 + beta)
    return weights[0], weights[1]


@numba.njit(inline="always", **JIT_OPTIONS)
def _zeroed_partials(scratch, n_rows):
    """``n_rows`` per-lane rows of partial sums, set to zero (rows of the scratch buffers)."""
    partials = scratch[0][PARTIALS : PARTIALS + n_rows]
    partials[:] = 0.0
    return partials


@numba.njit(inline="always", **JIT_OPTIONS)
def _half_sums(squares, n_chunks, scratch):
    """Per cell, half the sum of its lanes' ``squares`` (one row): the fit (a scratch row)."""
    fit = scratch[1][FIT]
    sums = _cell_sums(squares, n_chunks, scratch[1][SUMS : SUMS + 1])
    for cell in range(fit.shape[0]):
        fit[cell] = 0.5 * sums[0, cell]
    return fit


@numba.njit(inline="always", **JIT_OPTIONS)
def _chunk_of_lanes(n_lanes, n_chunks):
    out = np.empty(n_lanes)
    for lane in range(n_lanes):
        out[lane] = lane % n_chunks
    return out
