"""The simulator: shapes, seeding, spike statistics, noise, drift, kernel, validation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import calab
from calab.core.simulate import (
    INDICATOR_PRESETS,
    SimulationConfig,
    SimulationResult,
    _draw_spike_events,
    continuous_peak,
    simulate,
)

QUIET = dict(snr=math.inf, amplitude_jitter=0.0)  # noise-free, identical amplitudes


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    return np.array([np.convolve(row, kernel, mode="valid") for row in np.atleast_2d(x)])


def test_public_names_resolve_to_the_simulator():
    assert calab.simulate is simulate
    assert calab.SimulationConfig is SimulationConfig
    assert calab.SimulationResult is SimulationResult
    assert calab.INDICATOR_PRESETS is INDICATOR_PRESETS


def test_shapes_dtypes_and_metadata():
    sim = simulate(num_cells=4, duration_s=10.0, fs=20.0, indicator="gcamp6s", seed=3)
    for array in (sim.traces, sim.spikes, sim.calcium):
        assert array.shape == (4, 200)
        assert array.dtype == np.float64
        assert np.all(np.isfinite(array))
    assert sim.amplitudes.shape == (4,)
    tau_rise, tau_decay, _ = INDICATOR_PRESETS["gcamp6s"]
    assert (sim.fs, sim.tau_rise, sim.tau_decay) == (20.0, tau_rise, tau_decay)
    assert sim.config.num_cells == 4 and sim.config.indicator == "gcamp6s"
    assert np.all(sim.spikes >= 0) and np.array_equal(sim.spikes, np.round(sim.spikes))
    assert np.all(sim.calcium >= 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sim.fs = 10.0  # type: ignore[misc]


def test_config_object_and_overrides_combine():
    base = SimulationConfig(num_cells=3, duration_s=5.0, seed=9)
    sim = simulate(base, fs=10.0)
    assert sim.traces.shape == (3, 50)
    assert sim.config == dataclasses.replace(base, fs=10.0)
    assert base.fs == 30.0  # the base config is untouched


def test_same_seed_is_identical_and_different_seeds_differ():
    first = simulate(num_cells=5, duration_s=20.0, seed=42, drift_amplitude=0.1,
                     noise="gaussian+poisson", spike_model="bursting")
    again = simulate(num_cells=5, duration_s=20.0, seed=42, drift_amplitude=0.1,
                     noise="gaussian+poisson", spike_model="bursting")
    other = simulate(num_cells=5, duration_s=20.0, seed=43, drift_amplitude=0.1,
                     noise="gaussian+poisson", spike_model="bursting")
    for name in ("traces", "spikes", "calcium"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
        assert not np.array_equal(getattr(first, name), getattr(other, name))
    fresh = [simulate(num_cells=2, duration_s=5.0, seed=None).traces for _ in range(2)]
    assert not np.array_equal(*fresh)


def test_poisson_mean_rate_and_fano_factor():
    sim = simulate(num_cells=200, duration_s=200.0, fs=10.0, firing_rate_hz=0.5, oversample=4)
    rate = sim.spikes.sum() / (200 * 200.0)
    assert rate == pytest.approx(0.5, rel=0.03)
    counts = sim.spikes.reshape(200, -1, 10).sum(axis=2)  # 1 s windows
    fano = counts.var() / counts.mean()
    assert 0.9 < fano < 1.1


def test_bursting_rate_and_higher_fano_factor():
    config = SimulationConfig(num_cells=200, duration_s=200.0, fs=10.0, firing_rate_hz=0.2,
                              spike_model="bursting", burst_rate_hz=0.1, burst_size_mean=5.0,
                              oversample=4)
    assert config.mean_rate_hz == pytest.approx(0.7)
    sim = simulate(config)
    assert sim.spikes.sum() / (200 * 200.0) == pytest.approx(0.7, rel=0.05)
    counts = sim.spikes.reshape(200, -1, 10).sum(axis=2)
    fano_bursting = counts.var() / counts.mean()
    poisson = simulate(config, spike_model="poisson", firing_rate_hz=0.7).spikes
    poisson_counts = poisson.reshape(200, -1, 10).sum(axis=2)
    fano_poisson = poisson_counts.var() / poisson_counts.mean()
    assert fano_bursting > 2.0 * fano_poisson
    assert fano_bursting > 3.0


def test_silent_cells_when_rate_is_zero():
    sim = simulate(num_cells=3, duration_s=10.0, firing_rate_hz=0.0, **QUIET)
    assert not sim.spikes.any() and not sim.calcium.any() and not sim.traces.any()


def test_gaussian_noise_std_matches_snr():
    sim = simulate(num_cells=50, duration_s=60.0, snr=4.0, amplitude_jitter=0.0, seed=5)
    peak = INDICATOR_PRESETS["gcamp6f"][2]
    noise = sim.traces - sim.calcium
    assert noise.std() == pytest.approx(peak / 4.0, rel=0.02)
    assert abs(noise.mean()) < 0.01 * peak
    assert sim.noise_std == pytest.approx(peak / 4.0)


def test_shot_noise_adds_signal_dependent_variance():
    common = dict(num_cells=40, duration_s=60.0, snr=math.inf, amplitude_jitter=0.0, seed=2)
    sim = simulate(noise="gaussian+poisson", photons_per_frame=400.0, **common)
    residual = sim.traces - sim.calcium
    assert residual.std() == pytest.approx(1.0 / math.sqrt(400.0), rel=0.05)
    # the variance grows with the signal: photon counts are Poisson in 1 + dF/F
    bright = sim.calcium > 0.3
    quiet = sim.calcium < 0.01
    assert residual[bright].var() > 1.2 * residual[quiet].var()
    assert np.array_equal(simulate(**common).traces, simulate(**common).calcium)


def test_no_drift_bleaching_or_offset_unless_asked():
    sim = simulate(num_cells=20, duration_s=120.0, snr=5.0, seed=4)
    slow = _moving_average(sim.traces - sim.calcium, 300)  # 10 s averages
    threshold = 0.35 * sim.noise_std  # ~6 standard errors of a 300-frame mean
    assert np.abs(slow).max() < threshold
    # the same criterion catches a drift, bleaching or offset of a fraction of the noise
    for extra in (dict(drift_amplitude=0.5 * sim.noise_std), dict(bleach_amplitude=0.05),
                  dict(dc_offset=threshold)):
        other = simulate(sim.config, **extra)
        assert np.abs(_moving_average(other.traces - other.calcium, 300)).max() > threshold


def test_random_walk_drift_has_the_requested_amplitude():
    sim = simulate(num_cells=100, duration_s=300.0, drift_amplitude=0.2, drift_timescale_s=10.0,
                   seed=6, **QUIET)
    drift = sim.traces - sim.calcium
    assert drift.std() == pytest.approx(0.2, rel=0.1)
    # slow: neighbouring frames are almost equal, samples 30 s apart nearly independent
    assert np.abs(np.diff(drift, axis=1)).max() < 0.05
    lag = 900
    corr = np.corrcoef(drift[:, :-lag].ravel(), drift[:, lag:].ravel())[0, 1]
    assert abs(corr) < 0.2


def test_sinusoidal_drift_has_the_requested_amplitude_and_period():
    sim = simulate(num_cells=3, duration_s=120.0, drift="sinusoidal", drift_amplitude=0.3,
                   drift_timescale_s=20.0, **QUIET)
    drift = sim.traces - sim.calcium
    assert np.allclose(drift.max(axis=1), 0.3, rtol=1e-3)
    assert np.allclose(drift[:, 600:], drift[:, :-600], atol=1e-12)  # period 20 s = 600 frames


def test_photobleaching_follows_the_exponential():
    sim = simulate(num_cells=5, duration_s=100.0, bleach_amplitude=0.4, bleach_tau_s=25.0,
                   **QUIET)
    t = np.arange(sim.traces.shape[1]) / sim.fs
    factor = (1.0 + sim.traces) / (1.0 + sim.calcium)
    expected = 1.0 - 0.4 * (1.0 - np.exp(-t / 25.0))
    assert np.allclose(factor, expected, rtol=1e-12)
    assert factor[:, -1].max() < 0.62


def test_offset_and_scale_are_an_affine_map_of_the_same_recording():
    plain = simulate(num_cells=3, duration_s=20.0, seed=8)
    raw = simulate(num_cells=3, duration_s=20.0, seed=8, dc_offset=400.0, scale=40.0)
    assert np.allclose(raw.traces, 400.0 + 40.0 * plain.traces, rtol=1e-12, atol=1e-9)
    assert np.array_equal(raw.spikes, plain.spikes)
    assert raw.noise_std == pytest.approx(40.0 * plain.noise_std)


def test_amplitude_jitter_varies_cells_around_the_peak():
    sim = simulate(num_cells=400, duration_s=1.0, amplitude_jitter=0.3, seed=1)
    peak = INDICATOR_PRESETS["gcamp6f"][2]
    assert sim.amplitudes.mean() == pytest.approx(peak, rel=0.05)
    assert sim.amplitudes.std() / sim.amplitudes.mean() == pytest.approx(0.3, rel=0.15)
    assert np.all(sim.amplitudes > 0)


def test_calcium_is_the_kernel_convolved_spikes_at_frame_resolution():
    sim = simulate(num_cells=4, duration_s=30.0, fs=30.0, oversample=1, firing_rate_hz=1.5,
                   indicator="gcamp6m", **QUIET)
    tau_r, tau_d, peak = INDICATOR_PRESETS["gcamp6m"]
    i = np.arange(sim.spikes.shape[1])
    kernel = (np.exp(-i / (30.0 * tau_d)) - np.exp(-i / (30.0 * tau_r))) / continuous_peak(
        tau_r, tau_d
    )
    expected = np.array([peak * np.convolve(row, kernel)[: i.size] for row in sim.spikes])
    assert np.allclose(sim.calcium, expected, rtol=1e-10, atol=1e-12)


def test_calcium_is_the_frame_average_of_the_fine_grid_convolution():
    config = SimulationConfig(num_cells=3, duration_s=15.0, fs=20.0, oversample=7,
                              firing_rate_hz=2.0, spike_model="bursting", seed=12, **QUIET)
    sim = simulate(config)
    cells, fine_bins = _draw_spike_events(config, np.random.default_rng(config.seed))
    n_fine = config.num_frames * 7
    fine = np.zeros((3, n_fine))
    np.add.at(fine, (cells, fine_bins), 1.0)
    t = np.arange(n_fine) / (20.0 * 7)
    tau_r, tau_d, peak = config.kinetics
    kernel = peak * (np.exp(-t / tau_d) - np.exp(-t / tau_r)) / continuous_peak(tau_r, tau_d)
    fine_calcium = np.array([np.convolve(row, kernel)[:n_fine] for row in fine])
    assert np.allclose(sim.calcium, fine_calcium.reshape(3, -1, 7).mean(axis=2), atol=1e-12)
    assert np.array_equal(sim.spikes, fine.reshape(3, -1, 7).sum(axis=2))


def test_single_spike_peaks_at_the_requested_amplitude():
    sim = simulate(num_cells=200, duration_s=20.0, fs=30.0, firing_rate_hz=0.05, oversample=20,
                   indicator="gcamp6s", **QUIET)
    peak = INDICATOR_PRESETS["gcamp6s"][2]
    lonely = [row for row, s in zip(sim.calcium, sim.spikes, strict=True) if s.sum() == 1]
    assert len(lonely) > 20
    peaks = np.array([row.max() for row in lonely])
    assert np.all(peaks <= peak * (1 + 1e-9))
    assert np.median(peaks) > 0.97 * peak  # frame averaging lowers it only slightly


@pytest.mark.parametrize("indicator", ["gcamp6s", "gcamp6f"])
def test_decay_time_recovered_from_the_autocorrelation(indicator):
    sim = simulate(num_cells=40, duration_s=300.0, fs=30.0, firing_rate_hz=1.0,
                   indicator=indicator, seed=21, **QUIET)
    tau_r, tau_d, _ = INDICATOR_PRESETS[indicator]
    centred = sim.calcium - sim.calcium.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * centred.shape[1], axis=1)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : centred.shape[1]].mean(axis=0)
    lags = np.arange(acf.size) / sim.fs
    window = (lags > 4 * tau_r) & (lags < 2 * tau_d)
    slope = np.polyfit(lags[window], np.log(acf[window]), 1)[0]
    assert -1.0 / slope == pytest.approx(tau_d, rel=0.15)


@pytest.mark.parametrize("name", sorted(INDICATOR_PRESETS))
def test_every_preset_is_plausible_and_simulates(name):
    tau_rise, tau_decay, peak = INDICATOR_PRESETS[name]
    assert 0 < tau_rise < tau_decay < 5.0 and 0 < peak < 1.0
    sim = simulate(num_cells=2, duration_s=5.0, indicator=name)
    assert (sim.tau_rise, sim.tau_decay) == (tau_rise, tau_decay)
    assert sim.traces.shape == (2, 150)


def test_required_presets_present():
    assert {"gcamp6f", "gcamp6m", "gcamp6s", "jgcamp8f", "ogb1"} <= set(INDICATOR_PRESETS)


def test_kinetic_overrides_replace_the_preset():
    sim = simulate(num_cells=1, duration_s=2.0, tau_rise_s=0.1, tau_decay_s=0.6, peak_dff=1.0,
                   amplitude_jitter=0.0)
    assert (sim.tau_rise, sim.tau_decay) == (0.1, 0.6)
    assert sim.amplitudes[0] == 1.0


def test_unknown_override_lists_allowed_fields():
    with pytest.raises(TypeError, match="bogus_field") as info:
        simulate(bogus_field=1)
    assert "num_cells" in str(info.value) and "firing_rate_hz" in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "error", "fragment"),
    [
        (dict(num_cells=0), ValueError, "num_cells=0"),
        (dict(num_cells=2.5), TypeError, "num_cells=2.5"),
        (dict(num_cells=True), TypeError, "num_cells=True"),
        (dict(fs=-30.0), ValueError, "fs=-30.0"),
        (dict(fs="30"), TypeError, "fs='30'"),
        (dict(duration_s=0.0), ValueError, "duration_s=0.0"),
        (dict(duration_s=0.01, fs=10.0), ValueError, "duration_s=0.01"),
        (dict(firing_rate_hz=-1.0), ValueError, "firing_rate_hz=-1.0"),
        (dict(firing_rate_hz=math.nan), ValueError, "firing_rate_hz=nan"),
        (dict(burst_size_mean=0.5), ValueError, "burst_size_mean=0.5"),
        (dict(oversample=0), ValueError, "oversample=0"),
        (dict(oversample=10.0), TypeError, "oversample=10.0"),
        (dict(snr=0.0), ValueError, "snr=0.0"),
        (dict(snr=math.nan), ValueError, "snr=nan"),
        (dict(bleach_amplitude=1.0), ValueError, "bleach_amplitude=1.0"),
        (dict(drift_amplitude=-0.1), ValueError, "drift_amplitude=-0.1"),
        (dict(scale=0.0), ValueError, "scale=0.0"),
        (dict(dc_offset=math.inf), ValueError, "dc_offset=inf"),
        (dict(indicator="gcamp9"), ValueError, "indicator='gcamp9'"),
        (dict(spike_model="regular"), ValueError, "spike_model='regular'"),
        (dict(noise="pink"), ValueError, "noise='pink'"),
        (dict(drift="linear"), ValueError, "drift='linear'"),
        (dict(tau_rise_s=1.0, tau_decay_s=0.5), ValueError, "tau_rise_s=1.0"),
        (dict(tau_decay_s=-0.5), ValueError, "tau_decay_s=-0.5"),
        (dict(seed=-1), ValueError, "seed=-1"),
        (dict(seed="a"), TypeError, "seed='a'"),
    ],
)
def test_bad_values_name_the_field(overrides, error, fragment):
    with pytest.raises(error) as info:
        simulate(**overrides)
    assert fragment in str(info.value)


def test_range_is_stated_in_the_message():
    with pytest.raises(ValueError, match=r"num_cells=0 must be an integer >= 1"):
        SimulationConfig(num_cells=0)
    with pytest.raises(ValueError, match=r"bleach_amplitude=1.5 .*>= 0.0 and < 1.0"):
        SimulationConfig(bleach_amplitude=1.5)
    with pytest.raises(ValueError, match="'gcamp6f'"):
        SimulationConfig(indicator="GCaMP6F")


def test_config_argument_must_be_a_config():
    with pytest.raises(TypeError, match="config must be a SimulationConfig"):
        simulate({"num_cells": 3})  # type: ignore[arg-type]


@pytest.mark.slow
def test_two_thousand_cells_ten_minutes():
    """Its speed is measured by ``benchmarks/simulate_speed.py``."""
    sim = simulate(num_cells=2000, duration_s=600.0, fs=30.0, seed=0)
    assert sim.traces.shape == (2000, 18000)
    assert sim.spikes.sum() / (2000 * 600.0) == pytest.approx(0.5, rel=0.01)
