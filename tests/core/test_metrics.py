"""Spike correlation and the deconvolution objective."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import calab
from calab.core.kernel import build_kernel
from calab.core.metrics import causal_convolve, objective, spike_correlation


def brute_force_objective(s, y, tau_r, tau_d, fs, lam) -> float:
    kernel = build_kernel(tau_r, tau_d, fs)
    n = y.size
    fit = [sum(kernel[i] * s[t - i] for i in range(min(t + 1, kernel.size))) for t in range(n)]
    misfit = sum((y[t] - fit[t]) ** 2 for t in range(n))
    return 0.5 * misfit + lam * sum(kernel) * sum(s)


@pytest.mark.parametrize(
    ("tau_r", "tau_d", "fs", "n"), [(0.1, 0.6, 30.0, 60), (0.02, 0.1, 20.0, 90)]
)
def test_objective_matches_brute_force(rng, tau_r, tau_d, fs, n):
    s = np.maximum(rng.standard_normal((3, n)), 0.0)
    y = rng.standard_normal((3, n))
    values = objective(s, y, tau_r, tau_d, fs, 0.7)
    assert values.shape == (3,) and values.dtype == np.float64
    for cell in range(3):
        expected = brute_force_objective(s[cell], y[cell], tau_r, tau_d, fs, 0.7)
        assert values[cell] == pytest.approx(expected, rel=1e-12)
    single = objective(s[1], y[1], tau_r, tau_d, fs, 0.7)
    assert single.shape == () and float(single) == pytest.approx(values[1], rel=1e-14)


def test_objective_at_zero_is_half_the_energy(rng):
    y = rng.standard_normal((2, 100))
    values = objective(np.zeros_like(y), y, 0.1, 0.6, 30.0, 5.0)
    assert np.allclose(values, 0.5 * np.sum(y**2, axis=1), rtol=1e-14)


def test_objective_of_the_exact_generator_is_the_penalty():
    s = np.zeros(300)
    s[[20, 90, 91, 200]] = [1.0, 0.5, 2.0, 0.7]
    kernel = build_kernel(0.1, 0.6, 30.0)
    y = causal_convolve(s, kernel)[0]
    value = float(objective(s, y, 0.1, 0.6, 30.0, 0.25))
    assert value == pytest.approx(0.25 * kernel.sum() * s.sum(), rel=1e-10)


def test_objective_validates_its_inputs(rng):
    y = rng.standard_normal((2, 50))
    with pytest.raises(ValueError, match="same shape"):
        objective(np.zeros((2, 49)), y, 0.1, 0.6, 30.0, 1.0)
    with pytest.raises(ValueError, match=r"lam=-1\.0"):
        objective(np.zeros_like(y), y, 0.1, 0.6, 30.0, -1.0)
    with pytest.raises(ValueError, match=r"tau_r=0\.6"):
        objective(np.zeros_like(y), y, 0.6, 0.1, 30.0, 1.0)


def test_causal_convolve_matches_numpy(rng):
    signals = rng.standard_normal((3, 500))
    kernel = build_kernel(0.1, 0.6, 30.0)
    expected = np.array([np.convolve(row, kernel)[:500] for row in signals])
    assert np.allclose(causal_convolve(signals, kernel), expected, rtol=0, atol=1e-10)


def test_spike_correlation_basic_properties():
    spikes = np.zeros((3, 300))
    spikes[:, [30, 100, 101, 250]] = 1.0
    activity = np.stack([2.5 * spikes[0], -spikes[1], np.roll(spikes[2], 1)])
    corr = spike_correlation(activity, spikes, 30.0, sigma_s=0.1)
    assert corr.shape == (3,)
    assert corr[0] == pytest.approx(1.0)
    assert corr[1] == pytest.approx(-1.0)
    assert 0.8 < corr[2] < 1.0  # one frame late: high after smoothing ...
    raw = spike_correlation(activity, spikes, 30.0, sigma_s=0.0)
    assert raw[2] < 0.3  # ... but not without
    expected = np.corrcoef(activity[2], spikes[2])[0, 1]
    assert raw[2] == pytest.approx(expected, rel=1e-12)


def test_spike_correlation_is_nan_for_silent_cells_without_warnings(rng):
    spikes = np.zeros((3, 200))
    spikes[0, 50] = 1.0
    activity = rng.random((3, 200))
    activity[2] = 4.0  # constant activity
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        corr = spike_correlation(activity, spikes, 30.0)
    assert np.isfinite(corr[0])
    assert math.isnan(corr[1]) and math.isnan(corr[2])


def test_spike_correlation_one_d_and_validation(rng):
    spikes = (rng.random(400) < 0.05).astype(float)
    value = spike_correlation(spikes + 0.01 * rng.standard_normal(400), spikes, 30.0)
    assert value.shape == () and float(value) > 0.95
    with pytest.raises(ValueError, match="same shape"):
        spike_correlation(np.zeros(10), np.zeros(11), 30.0)
    with pytest.raises(ValueError, match=r"sigma_s=-0\.1"):
        spike_correlation(spikes, spikes, 30.0, sigma_s=-0.1)
    with pytest.raises(ValueError, match=r"fs=0"):
        spike_correlation(spikes, spikes, 0)


def test_deconvolution_recovers_simulated_spikes():
    sim = calab.simulate(num_cells=6, duration_s=60.0, fs=30.0, indicator="gcamp6f", snr=8.0,
                         firing_rate_hz=0.5, seed=17)
    activity = calab.run_deconvolution(sim.traces, sim.fs, sim.tau_rise, sim.tau_decay, 0.05)
    corr = spike_correlation(activity, sim.spikes, sim.fs)
    baseline = spike_correlation(sim.traces, sim.spikes, sim.fs)
    assert np.all(corr > 0.6)
    assert np.mean(corr) > np.mean(baseline) + 0.1  # deconvolution beats the raw trace
