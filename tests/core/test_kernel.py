"""The kernel, its gain and its AR(2) form against brute-force definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import calab
from calab.core.kernel import (
    build_kernel,
    compute_lipschitz,
    kernel_peak_fwhm,
    kernel_spec,
    tau_from_peak_fwhm,
    tau_to_ar2,
)

CASES = [
    (0.1, 0.6, 30.0),
    (0.4, 1.8, 15.0),
    (0.05, 0.3, 60.0),
    (0.02, 0.07, 30.0),
    (0.001, 0.002, 10.0),  # length clamps at 2
    (0.2, 0.21, 100.0),  # nearly equal time constants
]


def brute_force_kernel(tau_r: float, tau_d: float, fs: float) -> np.ndarray:
    """The issue's definition, one sample at a time."""
    length = max(2, math.ceil(13.8155 * tau_d * fs))
    raw = [math.exp(-i / (fs * tau_d)) - math.exp(-i / (fs * tau_r)) for i in range(length)]
    peak = max(raw)
    return np.array([value / peak for value in raw])


@pytest.mark.parametrize(("tau_r", "tau_d", "fs"), CASES)
def test_build_kernel_matches_the_definition(tau_r, tau_d, fs):
    kernel = build_kernel(tau_r, tau_d, fs)
    expected = brute_force_kernel(tau_r, tau_d, fs)
    assert kernel.dtype == np.float64
    assert kernel.shape == expected.shape
    assert np.allclose(kernel, expected, rtol=1e-12, atol=1e-15)
    assert kernel[0] == 0.0 and kernel.max() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(("tau_r", "tau_d", "fs"), CASES)
def test_gain_and_spec_match_the_kernel(tau_r, tau_d, fs):
    spec = kernel_spec(tau_r, tau_d, fs)
    expected = brute_force_kernel(tau_r, tau_d, fs)
    assert spec.length == expected.size
    assert spec.gain == pytest.approx(expected.sum(), rel=1e-12)
    assert spec.decay_root == pytest.approx(math.exp(-1 / (fs * tau_d)), rel=1e-15)
    assert spec.rise_root == pytest.approx(math.exp(-1 / (fs * tau_r)), rel=1e-15)
    # the AR(2) gain is the sum of the untruncated kernel
    long = np.arange(200 * expected.size)
    untruncated = (spec.decay_root**long - spec.rise_root**long) / spec.peak
    assert spec.ar2_gain == pytest.approx(untruncated.sum(), rel=1e-9)
    assert spec.ar2_gain >= spec.gain


def test_kernel_length_examples():
    assert build_kernel(0.1, 0.6, 30.0).size == math.ceil(13.8155 * 0.6 * 30.0) == 249
    assert build_kernel(0.001, 0.002, 10.0).size == 2


@pytest.mark.parametrize(("tau_r", "tau_d", "fs"), CASES)
def test_tau_to_ar2(tau_r, tau_d, fs):
    g1, g2, d, r = tau_to_ar2(tau_r, tau_d, fs)
    assert d == pytest.approx(math.exp(-1 / (fs * tau_d)), rel=1e-15)
    assert r == pytest.approx(math.exp(-1 / (fs * tau_r)), rel=1e-15)
    assert g1 == pytest.approx(d + r, rel=1e-15)
    assert g2 == pytest.approx(-d * r, rel=1e-15)


def test_tau_to_ar2_matches_the_catune_export_coefficients():
    g1, g2, d, r = tau_to_ar2(0.1, 0.6, 30.0)
    assert (g1, g2) == pytest.approx((1.6624907794805548, -0.6778095780054503), rel=1e-14)
    assert (d, r) == pytest.approx((0.9459594689067654, 0.7165313105737893), rel=1e-14)


@pytest.mark.parametrize(("tau_r", "tau_d", "fs"), CASES)
def test_ar2_recursion_reproduces_the_kernel(tau_r, tau_d, fs):
    g1, g2, d, r = tau_to_ar2(tau_r, tau_d, fs)
    kernel = build_kernel(tau_r, tau_d, fs)
    peak = kernel_spec(tau_r, tau_d, fs).peak
    weight = (d - r) / peak  # c[1] = h[1] for a unit impulse at t=0
    n = kernel.size
    spikes = np.zeros(n)
    spikes[0] = 1.0
    calcium = np.zeros(n)
    for t in range(1, n):
        previous2 = calcium[t - 2] if t >= 2 else 0.0
        calcium[t] = g1 * calcium[t - 1] + g2 * previous2 + weight * spikes[t - 1]
    assert np.allclose(calcium, kernel, rtol=0, atol=1e-9)


def test_lipschitz_is_squared_gain_for_a_nonnegative_kernel():
    kernel = build_kernel(0.1, 0.6, 30.0)
    assert compute_lipschitz(kernel) == pytest.approx(kernel.sum() ** 2, rel=1e-9)
    # and the largest squared frequency response for a kernel with negative taps
    mixed = np.array([1.0, -1.0])
    assert compute_lipschitz(mixed) == pytest.approx(4.0, rel=1e-6)


def test_public_names():
    assert calab.build_kernel is build_kernel and calab.tau_to_ar2 is tau_to_ar2


@pytest.mark.parametrize(
    ("args", "error", "fragment"),
    [
        ((0.6, 0.1, 30.0), ValueError, "tau_r=0.6"),
        ((0.3, 0.3, 30.0), ValueError, "tau_d=0.3"),
        ((0.0, 0.6, 30.0), ValueError, "tau_r=0.0"),
        ((0.1, -0.6, 30.0), ValueError, "tau_d=-0.6"),
        ((0.1, 0.6, 0.0), ValueError, "fs=0.0"),
        ((0.1, 0.6, math.nan), ValueError, "fs=nan"),
        ((0.1, math.inf, 30.0), ValueError, "tau_d=inf"),
        ((True, 0.6, 30.0), TypeError, "tau_r=True"),
        (("0.1", 0.6, 30.0), TypeError, "tau_r='0.1'"),
    ],
)
def test_bad_time_constants(args, error, fragment):
    for function in (build_kernel, tau_to_ar2):
        with pytest.raises(error) as info:
            function(*args)
        assert fragment in str(info.value)


@pytest.mark.parametrize(("tau_r", "tau_d"), [(0.1, 0.6), (0.005, 0.15), (0.18, 1.5), (0.3, 0.31)])
def test_peak_fwhm_inverts_exactly(tau_r, tau_d):
    t_peak, fwhm = kernel_peak_fwhm(tau_r, tau_d)
    t = np.linspace(0, 30 * tau_d, 2_000_001)
    h = np.exp(-t / tau_d) - np.exp(-t / tau_r)
    above = t[h >= h.max() / 2]
    assert t_peak == pytest.approx(t[h.argmax()], abs=2e-5 * tau_d)
    assert fwhm == pytest.approx(above[-1] - above[0], abs=4e-5 * tau_d)
    back = tau_from_peak_fwhm(t_peak, fwhm)
    assert back == pytest.approx((tau_r, tau_d), rel=1e-6)


@pytest.mark.parametrize(("t_peak", "fwhm"), [(0.2, 0.4), (0.0, 1.0), (0.1, float("nan"))])
def test_tau_from_peak_fwhm_rejects_impossible_shapes(t_peak, fwhm):
    with pytest.raises(ValueError, match=r"t_peak|fwhm"):
        tau_from_peak_fwhm(t_peak, fwhm)
