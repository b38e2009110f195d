"""Per-cell quality figures of a fit, and the power spectrum of traces.

The tuning app shows them per cell (the metrics tab, pinned snapshots) and
draws the spectrum with the bandpass filter's passband. The same definitions
are computed in the browser (``calab/web/js/metrics.js``) for what a card shows.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import welch

from calab.core.options import DeconvolutionOptions, positive_number
from calab.core.preprocess import bandpass_filter

#: Activity below this fraction of a cell's maximum counts as zero.
ZERO_FRACTION = 1e-3


def fitted_and_fit(
    filled: np.ndarray, reconvolution: np.ndarray, options: DeconvolutionOptions
) -> tuple[np.ndarray, np.ndarray]:
    """The trace the solver fitted and the fit to it, on the trace's own scale.

    With the bandpass filter on, that is the filtered trace (the noise the
    filter removed is not part of the fit); otherwise ``filled`` and the
    reconvolution. ``filled`` is the gap-free input the result was solved on.

    Examples
    --------
    >>> opts = DeconvolutionOptions(fs=30.0, tau_r=0.1, tau_d=0.6, lam=0.5)
    >>> trace, fit = fitted_and_fit(np.ones((1, 4)), np.zeros((1, 4)), opts)
    >>> fit.tolist()
    [[0.0, 0.0, 0.0, 0.0]]
    """
    if not options.filter_enabled:
        return filled, reconvolution
    shown = bandpass_filter(filled, float(options.tau_r), float(options.tau_d), options.fs)
    return shown, shown - (filled - reconvolution)


def fit_figures(
    trace: np.ndarray, fit: np.ndarray, activity: np.ndarray, fs: float
) -> dict[str, np.ndarray]:
    """R², fit SNR, sparsity and event rate of each cell.

    Parameters
    ----------
    trace, fit, activity : numpy.ndarray
        ``(n_cells, n_timepoints)``: what was fitted (the filtered trace when
        the filter is on), the fit (the reconvolved activity plus baseline) and
        the activity.
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    dict of numpy.ndarray
        Each ``(n_cells,)``: ``r2 = 1 - var(trace - fit)/var(trace)``;
        ``snr = std(fit)/std(trace - fit)``; ``sparsity``, the share of time
        points whose activity is below 1e-3 of the cell's maximum; and
        ``event_rate``, runs of activity above that level per second (Hz).

    Examples
    --------
    >>> trace = np.array([[0.0, 1.0, 0.0, 1.0]])
    >>> figures = fit_figures(trace, trace * 0.5, np.array([[0.0, 2.0, 0.0, 0.0]]), fs=4.0)
    >>> float(figures["r2"][0]), float(figures["snr"][0]), float(figures["sparsity"][0])
    (0.75, 1.0, 0.75)
    >>> float(figures["event_rate"][0])
    1.0
    """
    fs = positive_number("fs", fs)
    trace, fit, activity = (np.atleast_2d(np.asarray(a, dtype=np.float64))
                            for a in (trace, fit, activity))
    residual = trace - fit
    total, left = trace.var(axis=1), residual.var(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - left / total, 0.0)
        snr = np.where(left > 0, np.sqrt(fit.var(axis=1) / left), np.inf)
    level = ZERO_FRACTION * np.maximum(activity.max(axis=1, initial=0.0), 0.0)[:, None]
    active = activity > level
    onsets = (active[:, 0].astype(int) + np.count_nonzero(active[:, 1:] & ~active[:, :-1], axis=1))
    seconds = max(activity.shape[1], 1) / fs
    return {
        "r2": r2,
        "snr": snr,
        "sparsity": 1.0 - active.mean(axis=1),
        "event_rate": onsets / seconds,
    }


def power_spectrum(
    traces: np.ndarray, fs: float, segment_s: float = 30.0
) -> tuple[np.ndarray, np.ndarray]:
    """Welch periodogram of each cell (mean removed, Hann windows, half overlap).

    Parameters
    ----------
    traces : numpy.ndarray
        ``(n_cells, n_timepoints)`` finite traces.
    fs : float
        Sampling rate in Hz.
    segment_s : float, optional
        Length of the averaged segments in seconds (shortened to the trace).

    Returns
    -------
    freqs : numpy.ndarray
        ``(n_freqs,)`` frequencies in Hz, from 0 to ``fs/2``.
    power : numpy.ndarray
        ``(n_cells, n_freqs)`` power spectral density (trace units² per Hz).

    Examples
    --------
    >>> t = np.arange(3000) / 30.0
    >>> freqs, power = power_spectrum(np.sin(2 * np.pi * 2.0 * t)[None, :], 30.0)
    >>> float(freqs[power[0].argmax()])
    2.0
    """
    fs = positive_number("fs", fs)
    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    nperseg = int(min(traces.shape[1], max(16, round(segment_s * fs))))
    freqs, power = welch(traces, fs=fs, nperseg=nperseg, detrend="constant", axis=1)
    return freqs, power
