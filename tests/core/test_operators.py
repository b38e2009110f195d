"""The solver's recursive operators against brute-force convolution matrices.

The kernels apply ``K`` (forward sweep) and ``K^T`` (fused into the backward
sweep with the proximal step). With ``y = 0`` the forward residual is ``K z``;
with ``step = 1``, no threshold and a large ``z`` the proximal step returns
``z - K^T r``, which exposes the adjoint.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import toeplitz

from calab.core import fista_kernels as kernels
from calab.core.fista import _operator_coefficients
from calab.core.kernel import build_kernel, kernel_spec

CASES = [
    (0.1, 0.6, 30.0, 300), (0.05, 0.3, 60.0, 500), (0.4, 1.8, 15.0, 120), (0.02, 0.1, 10.0, 40)
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


def apply_forward(z, coef, conv_mode):
    width = z.shape[1]
    floats = np.zeros((kernels.N_FLOATS, width))
    resid = np.empty_like(z)
    y, ks = np.zeros_like(z), np.zeros_like(z)
    if conv_mode == "banded":
        kernels._forward_banded(y, z, ks, floats, coef, resid)
    else:
        ring = np.zeros((max(int(coef[5]), 1), width))
        kernels._forward_truncated(y, z, ks, floats, coef, resid, ring, ring.copy())
    return resid


def apply_adjoint(r, coef, conv_mode):
    width = r.shape[1]
    big = 1e6
    s, z = np.zeros_like(r), np.full_like(r, big)
    settings = np.array([1.0, 0.0, 0.0, np.inf, 1e-4])
    no_momentum, running = np.zeros(width), np.zeros(width, dtype=np.bool_)
    if conv_mode == "banded":
        kernels._backward_banded(s, z, r, no_momentum, running, coef, settings)
    else:
        ring = np.zeros((max(int(coef[5]), 1), width))
        kernels._backward_truncated(s, z, r, no_momentum, running, coef, settings, ring,
                                    ring.copy())
    return big - s


@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
@pytest.mark.parametrize(("tau_r", "tau_d", "fs", "n_time"), CASES)
def test_forward_equals_dense_convolution(rng, conv_mode, tau_r, tau_d, fs, n_time):
    spec = kernel_spec(tau_r, tau_d, fs)
    coef = _operator_coefficients(spec, conv_mode, n_time)
    z = rng.normal(size=(n_time, 4))
    expected = dense_operator(tau_r, tau_d, fs, n_time, conv_mode) @ z
    np.testing.assert_allclose(apply_forward(z, coef, conv_mode), expected, rtol=1e-9,
                               atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
@pytest.mark.parametrize(("tau_r", "tau_d", "fs", "n_time"), CASES)
def test_adjoint_equals_dense_transpose(rng, conv_mode, tau_r, tau_d, fs, n_time):
    spec = kernel_spec(tau_r, tau_d, fs)
    coef = _operator_coefficients(spec, conv_mode, n_time)
    r = rng.normal(size=(n_time, 4))
    expected = dense_operator(tau_r, tau_d, fs, n_time, conv_mode).T @ r
    np.testing.assert_allclose(apply_adjoint(r, coef, conv_mode), expected, rtol=1e-7,
                               atol=1e-7 * np.abs(expected).max())


@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
def test_operators_are_adjoint(rng, conv_mode):
    spec = kernel_spec(0.1, 0.6, 30.0)
    coef = _operator_coefficients(spec, conv_mode, 400)
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
