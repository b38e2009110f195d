"""Per-cell fit figures and the Welch spectrum of calab.core.fit_quality."""

from __future__ import annotations

import numpy as np
import pytest

from calab.core.fit_quality import fit_figures, power_spectrum


def test_fit_figures_match_their_definitions(rng):
    trace = rng.normal(size=(2, 500))
    fit = 0.5 * trace
    activity = np.zeros((2, 500))
    activity[:, [10, 11, 50]] = 1.0
    figures = fit_figures(trace, fit, activity, fs=10.0)
    assert figures["r2"] == pytest.approx(0.75)
    assert figures["snr"] == pytest.approx(1.0)
    assert figures["sparsity"] == pytest.approx(1 - 3 / 500)
    assert figures["event_rate"] == pytest.approx(2 / 50.0)  # two runs in 50 s


def test_a_perfect_fit_and_silent_activity():
    trace = np.sin(np.linspace(0, 20, 300))[None]
    figures = fit_figures(trace, trace, np.zeros_like(trace), fs=30.0)
    assert figures["r2"][0] == 1.0 and figures["snr"][0] == np.inf
    assert figures["sparsity"][0] == 1.0 and figures["event_rate"][0] == 0.0


def test_power_spectrum_finds_a_line_and_keeps_the_variance(rng):
    fs = 30.0
    t = np.arange(9000) / fs
    traces = np.stack([np.sin(2 * np.pi * 1.5 * t), rng.normal(size=t.size)])
    freqs, power = power_spectrum(traces, fs)
    assert freqs[0] == 0.0 and freqs[-1] == pytest.approx(fs / 2)
    assert freqs[power[0].argmax()] == pytest.approx(1.5, abs=1 / 30)
    # Parseval: the density integrates to the variance of white noise
    assert np.trapezoid(power[1], freqs) == pytest.approx(1.0, rel=0.1)
    with pytest.raises(ValueError, match="fs"):
        power_spectrum(traces, 0.0)
