"""Preprocessing against brute-force definitions and the reference's anchors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from calab.core.deconvolve import preprocess
from calab.core.preprocess import bandpass_filter, rolling_baseline

try:
    from tests.conftest import reference_cases
except ImportError:  # pytest started outside the repository root: load it by path
    import importlib.util
    from pathlib import Path

    _spec = importlib.util.spec_from_file_location(
        "_calab_tests_conftest", Path(__file__).resolve().parents[1] / "conftest.py"
    )
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    reference_cases = _module.reference_cases


def brute_force_baseline(trace: np.ndarray, tau_d: float, fs: float) -> np.ndarray:
    """Causal rolling 20th percentile: sort each window, take rank round((n-1)*0.2)."""
    window = 5 * math.ceil(5 * tau_d * fs)
    out = np.empty(trace.size)
    for t in range(trace.size):
        samples = sorted(trace[max(0, t - window + 1) : t + 1])
        rank = math.floor((len(samples) - 1) * 0.2 + 0.5)  # round half up
        out[t] = samples[rank]
    return out


def brute_force_gain(freq: float, tau_r: float, tau_d: float, fs: float) -> float:
    """Per-frequency gain of the bandpass, written out piece by piece."""
    fc_hp = 1.0 / (2 * math.pi * 16 * tau_d)
    fc_lp = min(4.0 / (2 * math.pi * tau_r), fs / 2)
    if freq <= fc_hp / 2:
        high = 0.0
    elif freq >= 1.5 * fc_hp:
        high = 1.0
    else:
        high = 0.5 * (1 - math.cos(math.pi * (freq - fc_hp / 2) / fc_hp))
    if freq <= fc_lp / 2:
        low = 1.0
    elif freq >= 1.5 * fc_lp:
        low = 0.0
    else:
        low = 0.5 * (1 + math.cos(math.pi * (freq - fc_lp / 2) / fc_lp))
    return high * low


def brute_force_bandpass(trace: np.ndarray, tau_r: float, tau_d: float, fs: float):
    n = trace.size
    if n < 8:
        return trace.copy()
    spectrum = np.fft.rfft(trace)
    for k in range(spectrum.size):
        spectrum[k] *= brute_force_gain(k * fs / n, tau_r, tau_d, fs)
    return np.fft.irfft(spectrum, n=n)


@pytest.mark.parametrize(
    ("tau_d", "fs", "n"), [(0.1, 10.0, 300), (0.3, 20.0, 257), (0.05, 8.0, 40)]
)
def test_rolling_baseline_matches_brute_force(rng, tau_d, fs, n):
    traces = rng.standard_normal((3, n))
    traces[1] = rng.integers(0, 4, n)  # many ties
    traces[2, ::7] = 50.0  # outliers
    baseline = rolling_baseline(traces, tau_d, fs)
    expected = np.array([brute_force_baseline(row, tau_d, fs) for row in traces])
    assert baseline.shape == traces.shape and baseline.dtype == np.float64
    assert np.array_equal(baseline, expected)
    assert np.array_equal(rolling_baseline(traces[1], tau_d, fs), expected[1])


def test_rolling_baseline_window_and_rank_at_the_start():
    # W = 5*ceil(5*0.1*10) = 25; ranks round((n-1)*0.2) for n = 1..25
    trace = np.arange(40.0)[::-1]  # decreasing: the window minimum is the newest sample
    baseline = rolling_baseline(trace, 0.1, 10.0)
    for t in range(40):
        n = min(t + 1, 25)
        window = np.sort(trace[t - n + 1 : t + 1])
        assert baseline[t] == window[math.floor((n - 1) * 0.2 + 0.5)]
    assert baseline[30] == trace[30] + 5  # n=25 -> rank 5 of the sorted window


def test_rolling_baseline_leaves_input_untouched_and_accepts_strided(rng):
    data = rng.standard_normal((4, 400))
    copy = data.copy()
    strided = data[::2, ::2]
    assert np.array_equal(
        rolling_baseline(strided, 0.2, 10.0),
        rolling_baseline(np.ascontiguousarray(strided), 0.2, 10.0),
    )
    assert np.array_equal(data, copy)


@pytest.mark.parametrize(
    ("tau_r", "tau_d", "fs", "n"),
    [(0.1, 0.6, 30.0, 1000), (0.4, 1.8, 15.0, 777), (0.01, 0.3, 30.0, 512), (0.1, 0.6, 30.0, 9)],
)
def test_bandpass_matches_brute_force(rng, tau_r, tau_d, fs, n):
    traces = rng.standard_normal((2, n)) + 3.0
    filtered = bandpass_filter(traces, tau_r, tau_d, fs)
    expected = np.array([brute_force_bandpass(row, tau_r, tau_d, fs) for row in traces])
    assert filtered.shape == traces.shape
    assert np.allclose(filtered, expected, rtol=0, atol=1e-12)
    assert abs(filtered.mean()) < 1e-12  # DC removed


def test_bandpass_gain_on_pure_tones():
    fs, n, tau_r, tau_d = 30.0, 3000, 0.1, 0.6
    t = np.arange(n) / fs
    for k in (1, 5, 12, 30, 300, 700, 1400):  # bins of 0.01 Hz
        freq = k * fs / n
        tone = np.cos(2 * np.pi * freq * t)
        out = bandpass_filter(tone, tau_r, tau_d, fs)
        gain = brute_force_gain(freq, tau_r, tau_d, fs)
        assert np.allclose(out, gain * tone, atol=1e-9), f"{freq} Hz"


def test_bandpass_short_traces_are_unchanged(rng):
    trace = rng.standard_normal(7)
    assert np.array_equal(bandpass_filter(trace, 0.1, 0.6, 30.0), trace)
    assert bandpass_filter(trace, 0.1, 0.6, 30.0).shape == (7,)


def test_bandpass_validates_time_constants(rng):
    with pytest.raises(ValueError, match=r"tau_r=0\.6"):
        bandpass_filter(rng.standard_normal(100), 0.6, 0.1, 30.0)


CASES = reference_cases()


def _case(folder):
    return json.loads((folder / "case.json").read_text())


@pytest.mark.skipif(not CASES, reason="../shared/reference is absent")
@pytest.mark.parametrize("folder", CASES, ids=[c.name for c in CASES])
def test_preprocessing_matches_the_reference_anchor(folder):
    case = _case(folder)
    traces = np.load(folder / "traces.npy")
    anchor = np.load(folder / "anchor_preprocessed.npy").astype(np.float64)
    y = preprocess(traces, case["tau_rise"], case["tau_decay"], case["fs"],
                   case["filter_enabled"])
    assert y.shape == anchor.shape
    scale = np.abs(anchor).max()
    assert np.abs(y - anchor).max() <= 1e-6 * scale


@pytest.mark.skipif(not CASES, reason="../shared/reference is absent")
@pytest.mark.parametrize("folder", CASES, ids=[c.name for c in CASES])
def test_bandpass_matches_the_reference_anchor(folder):
    if not (folder / "anchor_filtered.npy").is_file():
        pytest.skip("case without the filter")
    case = _case(folder)
    traces = np.load(folder / "traces.npy")
    anchor = np.load(folder / "anchor_filtered.npy")
    filtered = bandpass_filter(traces, case["tau_rise"], case["tau_decay"], case["fs"])
    assert np.abs(filtered - anchor).max() <= 1e-6 * np.abs(anchor).max()
    # the baseline step on the filtered trace gives the preprocessed anchor
    y = filtered - rolling_baseline(filtered, case["tau_decay"], case["fs"])
    reference = np.load(folder / "anchor_preprocessed.npy")
    assert np.abs(y - reference).max() <= 1e-6 * np.abs(reference).max()
