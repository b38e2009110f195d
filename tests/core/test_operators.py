"""The solver's recursive operators against brute-force convolution matrices.

The kernels apply ``K`` (forward sweep) and ``K^T`` (fused into the backward
sweep with the proximal step). With ``y = 0`` the forward residual is ``K z``;
with ``step = 1``, no threshold and a large ``z`` the proximal step returns
``z - K^T r``, which exposes the adjoint. Both operators run on traces cut
into chunks (lanes) exactly as the solver packs them, so the chunk fix-ups,
the truncated kernel's lagged taps across chunks and the padding of the last
chunk are checked too.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import toeplitz

from calab.core import fista_cells as cells
from calab.core import fista_sweeps as sweeps
from calab.core.fista import _PackedState, _valid_rows, chunk_layout, operator_coefficients
from calab.core.kernel import build_kernel, kernel_spec

# Short traces (one chunk), chunked ones with a padded last chunk, and taps spanning
# several chunks (0.6 s at 30 Hz: 249 taps over chunks of about 130 samples).
CASES = [
    (0.1, 0.6, 30.0, 300), (0.05, 0.3, 60.0, 500), (0.4, 1.8, 15.0, 120), (0.02, 0.1, 10.0, 40),
    (0.1, 0.6, 30.0, 1000), (0.1, 0.6, 30.0, 2001), (0.3, 0.35, 20.0, 1500),
]


def dense_operator(tau_r, tau_d, fs, n_time, conv_mode):
    """Explicit lower-triangular Toeplitz matrix of the causal convolution."""
    if conv_mode == "fft":
        h = build_kernel(tau_r, tau_d, fs)
    else:  # untruncated: the same formula, as long as the recording
        spec = kernel_spec(tau_r, tau_d, fs)
        i = np.arange(n_time)
        h = (spec.decay_root**i - spec.rise_root**i) / spec.peak
    column = np.zeros(n_time)
    column[: min(h.size, n_time)] = h[:n_time]
    return toeplitz(column, np.zeros(n_time))


def chunked(columns):
    """The solver's packing of ``(n_time, cells)`` columns: one group, lanes = cells x chunks."""
    n_time, n_cells = columns.shape
    state = _PackedState(columns.T, None, chunk_layout(n_time))
    state.valid_rows = _valid_rows(n_time, state.n_chunks, state.chunk_len, n_cells)
    return state, state._to_groups(columns.T, n_cells)[0]


def unpacked(state, lanes, n_cells):
    return state._from_groups(lanes[None], n_cells).T


def apply_forward(z, coef, conv_mode):
    """``K z`` through the solver's own passes (``y = 0``, so the residual is ``K z``)."""
    state, lanes = chunked(z)
    work = np.zeros((state.chunk_len + 2 * sweeps.GUARD, lanes.shape[1]))
    tables = sweeps.correction_tables(coef[0], coef[1], state.chunk_len)
    floats = np.zeros((cells.N_FLOATS, z.shape[1]))
    zeros = np.zeros_like(lanes)
    sweeps._local_forward(lanes, work, coef)
    if coef[5] > 0:  # truncated
        resid = np.zeros_like(lanes)
        sweeps._correct_forward(lanes, work, resid, coef, tables, state.n_chunks)
        sweeps._truncated_fit_pass(zeros, zeros.copy(), work, resid, floats, coef,
                                   state.valid_rows, state.n_chunks)
        return unpacked(state, resid, z.shape[1])
    sweeps._fit_pass(zeros, lanes, zeros.copy(), work, floats, coef, tables, state.valid_rows,
                     state.n_chunks)
    return unpacked(state, work[sweeps.GUARD : -sweeps.GUARD], z.shape[1])


def apply_adjoint(r, coef, conv_mode):
    """``K^T r``: with step 1, no threshold and a large ``z`` the prox returns ``z - K^T r``."""
    state, lanes = chunked(r)
    n_cells, big = r.shape[1], 1e6
    work = np.zeros((state.chunk_len + 2 * sweeps.GUARD, lanes.shape[1]))
    if coef[5] > 0:
        sweeps._adjoint_input(lanes, work, coef, state.n_chunks)
    else:
        work[sweeps.GUARD : -sweeps.GUARD] = lanes
    tables = sweeps.correction_tables(coef[0], coef[1], state.chunk_len)
    settings = np.array([1.0, 0.0, 0.0, np.inf, 1e-4])
    s, z = np.zeros_like(lanes), np.full_like(lanes, big)
    sweeps._adjoint_pass(work, coef)
    sweeps._prox_pass(s, z, work, np.zeros(n_cells), np.zeros(n_cells, dtype=np.bool_), coef,
                      settings, tables, state.n_chunks)
    return big - unpacked(state, s, n_cells)


@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
@pytest.mark.parametrize(("tau_r", "tau_d", "fs", "n_time"), CASES)
def test_forward_equals_dense_convolution(rng, conv_mode, tau_r, tau_d, fs, n_time):
    spec = kernel_spec(tau_r, tau_d, fs)
    coef = operator_coefficients(spec, conv_mode, n_time)
    z = rng.normal(size=(n_time, 4))
    expected = dense_operator(tau_r, tau_d, fs, n_time, conv_mode) @ z
    np.testing.assert_allclose(apply_forward(z, coef, conv_mode), expected, rtol=1e-9,
                               atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
@pytest.mark.parametrize(("tau_r", "tau_d", "fs", "n_time"), CASES)
def test_adjoint_equals_dense_transpose(rng, conv_mode, tau_r, tau_d, fs, n_time):
    spec = kernel_spec(tau_r, tau_d, fs)
    coef = operator_coefficients(spec, conv_mode, n_time)
    r = rng.normal(size=(n_time, 4))
    expected = dense_operator(tau_r, tau_d, fs, n_time, conv_mode).T @ r
    np.testing.assert_allclose(apply_adjoint(r, coef, conv_mode), expected, rtol=1e-7,
                               atol=1e-7 * np.abs(expected).max())


@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
def test_operators_are_adjoint(rng, conv_mode):
    spec = kernel_spec(0.1, 0.6, 30.0)
    coef = operator_coefficients(spec, conv_mode, 400)
    x, r = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    lhs = np.sum(apply_forward(x, coef, conv_mode) * r, axis=0)
    rhs = np.sum(x * apply_adjoint(r, coef, conv_mode), axis=0)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-8)


def test_step_matches_the_operator_norm():
    """1/L with L = G**2 bounds the true operator norm (FISTA's step condition)."""
    spec = kernel_spec(0.1, 0.6, 30.0)
    dense = dense_operator(0.1, 0.6, 30.0, 600, "fft")
    norm = np.linalg.norm(dense, 2)
    assert norm <= spec.gain
    assert norm > 0.95 * spec.gain  # and the bound is tight, so steps are not wasted


@pytest.mark.parametrize("n_time", [1, 2, 255, 256, 257, 9000, 9100, 17_999, 18_000, 100_003])
def test_chunk_layout_covers_the_trace_once(n_time):
    """Every chunk but the last is full; the last holds between 1 and chunk_len samples."""
    n_chunks, chunk_len = chunk_layout(n_time)
    last = n_time - (n_chunks - 1) * chunk_len
    assert 0 < last <= chunk_len
    assert n_chunks == 1 or chunk_len >= 2


@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
@pytest.mark.parametrize("constraint", ["nonneg", "box01"])
def test_chunked_solve_equals_the_whole_trace_solve(monkeypatch, rng, conv_mode, constraint):
    """The solver on chunk lanes reaches the same solution as on whole traces (one lane each)."""
    from calab.core import fista

    spec = kernel_spec(0.1, 0.6, 30.0)
    spikes = (rng.random((3, 1001)) < 0.03) * rng.uniform(0.5, 2.0, (3, 1001))
    y = causal_convolve_rows(spikes, build_kernel(0.1, 0.6, 30.0)) + rng.normal(0, 0.2, (3, 1001))
    options = dict(max_iters=5000, tol=1e-8, conv_mode=conv_mode, constraint=constraint)
    chunked = fista.solve(y, spec, 0.3, **options)
    assert chunk_layout(1001)[0] > 1
    monkeypatch.setattr(fista, "CHUNK_SAMPLES", 10**9)  # one chunk per trace
    whole = fista.solve(y, spec, 0.3, **options)
    value = objective_of(y, spec, 0.3, conv_mode)
    np.testing.assert_allclose(value(chunked.activity), value(whole.activity), rtol=1e-9)
    np.testing.assert_allclose(chunked.activity, whole.activity, atol=1e-4)
    if constraint == "box01":
        assert chunked.activity.max() <= 1.0


def causal_convolve_rows(rows, kernel):
    return np.stack([np.convolve(row, kernel)[: row.size] for row in rows])


def objective_of(y, spec, lam, conv_mode):
    """F(s) with the mode's own operator and gain (dense, brute force)."""
    dense = dense_operator(0.1, 0.6, 30.0, y.shape[1], conv_mode)
    gain = spec.ar2_gain if conv_mode == "banded" else spec.gain
    return lambda s: 0.5 * ((s @ dense.T - y) ** 2).sum(axis=1) + lam * gain * s.sum(axis=1)
