"""Preprocessing applied before deconvolution.

- :func:`bandpass_filter`: the optional FFT bandpass derived from the kernel's
  time constants (CaTune's "filter" toggle).
- :func:`rolling_baseline`: the causal rolling 20th-percentile baseline that is
  always subtracted.
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from calab.core import _solver
from calab.core.fista_threads import get_num_threads
from calab.core.options import check_kernel_span, positive_number, time_constants
from calab.core.validation import as_trace_matrix

BASELINE_QUANTILE = 0.2
# Samples from which the rows' argsort is split over threads.
PARALLEL_SORT_SIZE = 50_000
MIN_FILTER_SAMPLES = 8


def filter_cutoffs(tau_rise: float, tau_decay: float, fs: float) -> tuple[float, float]:
    """High-pass and low-pass cut-offs (Hz) of :func:`bandpass_filter`.

    The high-pass cut-off ``1/(2*pi*16*tau_decay)`` keeps the slowest calcium
    transients; the low-pass ``4/(2*pi*tau_rise)`` (capped at Nyquist) keeps
    the fastest rise.
    """
    tau_r, tau_d, fs = time_constants(tau_rise, tau_decay, fs)
    high_pass = 1.0 / (2.0 * math.pi * 16.0 * tau_d)
    low_pass = min(4.0 / (2.0 * math.pi * tau_r), fs / 2.0)
    return high_pass, low_pass


def bandpass_filter(trace: np.ndarray, tau_rise: float, tau_decay: float, fs: float) -> np.ndarray:
    """Apply the FFT bandpass filter derived from the kernel time constants.

    The whole trace is transformed at once. The gain rises from 0 to 1 with a
    raised cosine over ``[fc_hp/2, 3*fc_hp/2]`` and falls from 1 to 0 over
    ``[fc_lp/2, 3*fc_lp/2]`` (cut-offs from :func:`filter_cutoffs`), so the DC
    component is removed. Traces shorter than 8 samples are returned unchanged.

    Parameters
    ----------
    trace : numpy.ndarray
        One trace ``(n_timepoints,)`` or several ``(n_cells, n_timepoints)``.
    tau_rise, tau_decay : float
        Kernel time constants in seconds.
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    numpy.ndarray
        Float64 filtered trace(s), same shape as the input.

    Examples
    --------
    >>> t = np.arange(3000) / 30.0
    >>> out = bandpass_filter(5.0 + np.sin(2 * np.pi * t), 0.1, 0.6, 30.0)
    >>> bool(abs(out.mean()) < 1e-9)
    True
    """
    matrix, was_1d = as_trace_matrix(trace, name="trace")
    high_pass, low_pass = filter_cutoffs(tau_rise, tau_decay, fs)
    n = matrix.shape[1]
    if n < MIN_FILTER_SAMPLES:
        return matrix[0] if was_1d else matrix
    freqs = np.fft.rfftfreq(n, d=1.0 / fs)
    gain = _rising_cosine(freqs, high_pass) * (1.0 - _rising_cosine(freqs, low_pass))
    filtered = np.fft.irfft(np.fft.rfft(matrix, axis=1) * gain, n=n, axis=1)
    return filtered[0] if was_1d else filtered


def _rising_cosine(freqs: np.ndarray, cutoff: float) -> np.ndarray:
    """0 below ``cutoff/2``, 1 above ``3*cutoff/2``, a raised cosine between."""
    lo, hi = 0.5 * cutoff, 1.5 * cutoff
    ramp = np.clip((freqs - lo) / (hi - lo), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * ramp)


def baseline_window(tau_decay: float, fs: float) -> int:
    """Window of the rolling baseline in samples: ``5*ceil(5*tau_decay*fs)``."""
    return 5 * math.ceil(5.0 * tau_decay * fs)


def rolling_baseline(traces: np.ndarray, tau_decay: float, fs: float) -> np.ndarray:
    """Causal rolling 20th-percentile baseline.

    For sample ``t`` the baseline is the order statistic of rank
    ``round((n-1)*0.2)`` of the ``n`` samples in ``[t-W+1, t]`` (fewer at the
    start), with ``W = 5*ceil(5*tau_decay*fs)``.

    Parameters
    ----------
    traces : numpy.ndarray
        ``(n_timepoints,)`` or ``(n_cells, n_timepoints)``.
    tau_decay : float
        Decay time constant in seconds.
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    numpy.ndarray
        Float64 baseline, same shape as ``traces``.

    Examples
    --------
    >>> rolling_baseline(np.arange(10.0), 0.1, 10.0)[:4].tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    tau_decay, fs = positive_number("tau_decay", tau_decay), positive_number("fs", fs)
    check_kernel_span(tau_decay, fs)
    matrix, was_1d = as_trace_matrix(traces)
    window = baseline_window(tau_decay, fs)
    ranks = _window_ranks(window)
    baseline = np.empty(matrix.shape)
    _rolling_order_statistic(matrix, _row_orders(matrix), window, ranks, baseline)
    return baseline[0] if was_1d else baseline


def _row_orders(matrix: np.ndarray) -> np.ndarray:
    """``np.argsort`` of every row; large matrices split over threads by rows (NumPy's
    sort is fast and releases the GIL)."""
    n_parts = min(get_num_threads(), matrix.shape[0])
    if n_parts < 2 or matrix.size < PARALLEL_SORT_SIZE:
        return np.argsort(matrix, axis=1)
    orders = np.empty(matrix.shape, dtype=np.intp)
    bounds = np.linspace(0, matrix.shape[0], n_parts + 1).astype(int)

    def sort_rows(part: int) -> None:
        rows = slice(bounds[part], bounds[part + 1])
        orders[rows] = np.argsort(matrix[rows], axis=1)

    list(_sort_pool(n_parts, os.getpid()).map(sort_rows, range(n_parts)))
    return orders


@functools.cache
def _sort_pool(n_threads: int, pid: int) -> ThreadPoolExecutor:
    """A pool kept per process (``pid``: a forked child gets its own; the parent's threads
    do not exist there): starting threads per call would cost what they save."""
    return ThreadPoolExecutor(n_threads, thread_name_prefix="calab-sort")


def _window_ranks(window: int) -> np.ndarray:
    """Rank of the 20th percentile for every window fill ``n = 1..window``."""
    return np.array(
        [math.floor((n - 1) * BASELINE_QUANTILE + 0.5) for n in range(1, window + 1)],
        dtype=np.int64,
    )


def _rolling_order_statistic(
    matrix: np.ndarray, orders: np.ndarray, window: int, ranks: np.ndarray, out: np.ndarray
) -> None:
    """Order statistics of a sliding window by a cursor walking the sorted samples
    (compiled: ``src/solver/baseline.cpp``; rows over threads, GIL released).

    Every sample is replaced by its rank in the sorted trace (``orders`` is the
    argsort of each row, done by NumPy's faster sort); a table marks which
    ranks are in the window. The answer's rank, the cursor, moves by a few
    marked ranks per sample (one sample enters, one leaves, and the wanted
    order changes by at most one), so each step costs a short scan, with
    blocks of 64 ranks skipped by their counts.
    """
    _solver.rolling_order_statistic(
        np.ascontiguousarray(matrix, dtype=np.float64),
        np.ascontiguousarray(orders, dtype=np.int64), int(window),
        np.ascontiguousarray(ranks, dtype=np.int64), out, get_num_threads(),
    )
