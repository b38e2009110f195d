"""The solver's recursive operators against brute-force convolution matrices.

The compiled core (``calab.core._solver``) applies ``K`` (forward sweep and chunk
fix-up) and ``K^T`` (backward sweep, read as the proximal step reads the gradient).
Both operators run on traces cut into chunks (lanes) exactly as the solver packs
them, so the chunk fix-ups, the truncated kernel's lagged taps across chunks and the
padding of the last chunk are checked too; the fit and gradient come from the
residual pass of an iteration itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import toeplitz

from calab.core import fista_state
from calab.core import fista_sweeps as sweeps
from calab.core.convolution import operator_coefficients
from calab.core.fista_state import PackedState, _valid_rows, chunk_layout
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
    state = PackedState(columns.T, None, chunk_layout(n_time), 1)
    state.valid_rows = _valid_rows(n_time, state.n_chunks, state.chunk_len, n_cells)
    return state, state._to_groups(columns.T, n_cells)[0]


def unpacked(state, lanes, n_cells):
    return state._from_groups(lanes[None], n_cells).T


def apply_forward(z, coef, conv_mode, dtype=np.float64):
    """``K z`` through the compiled operator on the solver's packed lanes."""
    state, lanes = chunked(z)
    out = sweeps.apply_operator(lanes.astype(dtype), coef, state.n_chunks)
    assert out.dtype == dtype
    return unpacked(state, out, z.shape[1])


def solver_fit_and_gradient(z, y, coef, dtype=np.float64):
    """Per cell, ``0.5*||K z - y||**2`` and ``K^T (K z - y)`` through the residual pass and
    the adjoint of one solver iteration (momentum 0, so ``K s = K z``); one cell takes the
    group-of-one-cell path."""
    state, lanes = chunked(z)
    y_lanes = chunked(y)[1]
    fit, gradient = sweeps.fit_and_gradient(lanes.astype(dtype), y_lanes.astype(dtype), coef,
                                            state.valid_rows, z.shape[1])
    return fit, unpacked(state, gradient, z.shape[1])


def apply_adjoint(r, coef, conv_mode, dtype=np.float64):
    """``K^T r`` as the solver's proximal step reads the gradient."""
    state, lanes = chunked(r)
    out = sweeps.apply_adjoint(lanes.astype(dtype), coef, state.n_chunks)
    assert out.dtype == dtype
    return unpacked(state, out, r.shape[1])


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


@pytest.mark.parametrize("n_cells", [1, 3])  # one cell: the one-loop-per-row paths
@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
@pytest.mark.parametrize(("tau_r", "tau_d", "fs", "n_time"), CASES)
def test_iteration_passes_give_the_dense_fit_and_gradient(rng, conv_mode, tau_r, tau_d, fs,
                                                          n_time, n_cells):
    spec = kernel_spec(tau_r, tau_d, fs)
    coef = operator_coefficients(spec, conv_mode, n_time)
    z, y = rng.normal(size=(n_time, n_cells)), rng.normal(size=(n_time, n_cells))
    dense = dense_operator(tau_r, tau_d, fs, n_time, conv_mode)
    residual = dense @ z - y
    fit, gradient = solver_fit_and_gradient(z, y, coef)
    np.testing.assert_allclose(fit, 0.5 * np.sum(residual**2, axis=0), rtol=1e-9)
    expected = dense.T @ residual
    np.testing.assert_allclose(gradient, expected, rtol=1e-7, atol=1e-7 * np.abs(expected).max())


@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
@pytest.mark.parametrize(("tau_r", "tau_d", "fs", "n_time"), CASES)
def test_float32_sweeps_apply_the_same_operators(rng, conv_mode, tau_r, tau_d, fs, n_time):
    """The float32 phase's passes: the same operators to float32 rounding."""
    spec = kernel_spec(tau_r, tau_d, fs)
    coef = operator_coefficients(spec, conv_mode, n_time)
    x = rng.normal(size=(n_time, 4))
    dense = dense_operator(tau_r, tau_d, fs, n_time, conv_mode)
    for applied, expected in [(apply_forward(x, coef, conv_mode, np.float32), dense @ x),
                              (apply_adjoint(x, coef, conv_mode, np.float32), dense.T @ x)]:
        assert applied.dtype == np.float32
        np.testing.assert_allclose(applied, expected, rtol=1e-4,
                                   atol=1e-5 * np.abs(expected).max())


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
    """The chunks hold the trace with less than one sample of padding per chunk, in whole
    groups of vector lanes."""
    n_chunks, chunk_len = chunk_layout(n_time)
    assert 0 <= n_chunks * chunk_len - n_time < n_chunks
    assert n_chunks == 1 or (chunk_len >= 2 and n_chunks % 8 == 0)
    if n_time >= fista_state.CHUNK_MULTIPLE * fista_state.CHUNK_SAMPLES:
        assert n_chunks % fista_state.CHUNK_MULTIPLE == 0


@pytest.mark.parametrize("n_time", [1000, 2001])
def test_operators_exact_with_empty_trailing_chunks(rng, monkeypatch, n_time):
    """Short chunks leave whole chunks of padding at the end of each cell's lanes."""
    monkeypatch.setattr(fista_state, "CHUNK_SAMPLES", 8)
    n_chunks, chunk_len = chunk_layout(n_time)
    assert (n_chunks - 1) * chunk_len >= n_time  # at least one empty chunk
    spec = kernel_spec(0.1, 0.6, 30.0)
    x = rng.normal(size=(n_time, 3))
    for conv_mode in ("fft", "banded"):
        coef = operator_coefficients(spec, conv_mode, n_time)
        dense = dense_operator(0.1, 0.6, 30.0, n_time, conv_mode)
        np.testing.assert_allclose(apply_forward(x, coef, conv_mode), dense @ x, atol=1e-9)
        np.testing.assert_allclose(apply_adjoint(x, coef, conv_mode), dense.T @ x, atol=1e-7)
        fit, gradient = solver_fit_and_gradient(x[:, :1], x[:, 1:2], coef)
        residual = dense @ x[:, :1] - x[:, 1:2]
        np.testing.assert_allclose(fit, 0.5 * np.sum(residual**2, axis=0), rtol=1e-9)
        np.testing.assert_allclose(gradient, dense.T @ residual, atol=1e-7)


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
    monkeypatch.setattr(fista_state, "CHUNK_SAMPLES", 10**9)  # one chunk per trace
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


@pytest.mark.parametrize("n_time", [150, 600, 4000])
def test_a_cells_result_does_not_depend_on_its_batch(n_time):
    """Batches of other sizes, and one or two threads, pack a cell with other cells in
    groups of other widths (vector loops of other lengths, float32 phase included): its
    activity and iteration count are bit-identical."""
    import calab
    from calab.core import fista_threads

    sim = calab.simulate(num_cells=20, duration_s=n_time / 30.0, fs=30.0, seed=5,
                         tau_rise_s=0.05, tau_decay_s=0.4)
    traces = sim.traces.astype(np.float32)
    params = (30.0, 0.05, 0.4, 0.03)
    whole = calab.run_deconvolution_full(traces, *params)
    threads = fista_threads.get_num_threads()
    try:
        for n_threads in sorted({1, 3, threads}):
            fista_threads.set_num_threads(n_threads)
            for size in (1, 2, 3, 5, 7):
                for first in range(0, 20, size):
                    part = calab.run_deconvolution_full(traces[first : first + size], *params)
                    assert np.array_equal(part.activity, whole.activity[first : first + size])
                    assert np.array_equal(part.iterations, whole.iterations[first : first + size])
    finally:
        fista_threads.set_num_threads(threads)
