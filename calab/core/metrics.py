"""Quality measures of a deconvolution: spike correlation and the objective.

Used by the tests, the benchmarks and the demo to compare solvers and to
score activity against simulated ground truth.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import oaconvolve

from calab.core.kernel import build_kernel
from calab.core.options import non_negative_number, positive_number
from calab.core.validation import as_trace_matrix


def spike_correlation(
    activity: np.ndarray, spikes: np.ndarray, fs: float, sigma_s: float = 0.1
) -> np.ndarray:
    """Per-cell Pearson correlation of activity with spikes after Gaussian smoothing.

    Both signals are smoothed along time with a Gaussian of standard deviation
    ``sigma_s`` seconds (``0`` for no smoothing) before correlating.

    Parameters
    ----------
    activity, spikes : numpy.ndarray
        ``(n_timepoints,)`` or ``(n_cells, n_timepoints)``, same shape.
    fs : float
        Sampling rate in Hz.
    sigma_s : float, optional
        Smoothing width in seconds (default 0.1), >= 0.

    Returns
    -------
    numpy.ndarray
        ``(n_cells,)`` correlations in [-1, 1] (a 0-d array for 1-D input);
        NaN where either smoothed signal is constant (e.g. a silent cell).

    Examples
    --------
    >>> s = np.zeros(300); s[[50, 120, 200]] = 1.0
    >>> float(spike_correlation(2.0 * s, s, 30.0))
    1.0
    """
    a, was_1d = as_trace_matrix(activity, name="activity")
    s, _ = as_trace_matrix(spikes, name="spikes")
    if a.shape != s.shape:
        raise ValueError(
            f"activity and spikes must have the same shape; got {np.shape(activity)} "
            f"and {np.shape(spikes)}"
        )
    fs = positive_number("fs", fs)
    sigma_s = non_negative_number("sigma_s", sigma_s)
    if sigma_s > 0:
        a = gaussian_filter1d(a, sigma_s * fs, axis=1, mode="nearest")
        s = gaussian_filter1d(s, sigma_s * fs, axis=1, mode="nearest")
    corr = _row_pearson(a, s)
    return corr.reshape(()) if was_1d else corr


def objective(
    activity: np.ndarray, y: np.ndarray, tau_r: float, tau_d: float, fs: float, lam: float
) -> np.ndarray:
    """Per-cell objective ``F(s) = 0.5*||y - h*s||**2 + lam*G*sum(s)``.

    ``h`` is :func:`calab.build_kernel` (peak 1, truncated), ``G = sum(h)`` and
    ``h*s`` the causal convolution keeping the first ``T`` samples.

    Parameters
    ----------
    activity : numpy.ndarray
        ``s``, ``(n_timepoints,)`` or ``(n_cells, n_timepoints)``.
    y : numpy.ndarray
        The preprocessed traces the activity was fitted to, same shape.
    tau_r, tau_d : float
        Kernel rise and decay time constants in seconds.
    fs : float
        Sampling rate in Hz.
    lam : float
        Sparsity penalty, >= 0.

    Returns
    -------
    numpy.ndarray
        ``(n_cells,)`` float64 objective values (a 0-d array for 1-D input).

    Examples
    --------
    >>> y = np.ones(100)
    >>> float(objective(np.zeros(100), y, 0.1, 0.6, 30.0, 1.0))
    50.0
    """
    s, was_1d = as_trace_matrix(activity, name="activity")
    target, _ = as_trace_matrix(y, name="y")
    if s.shape != target.shape:
        raise ValueError(
            f"activity and y must have the same shape; got {np.shape(activity)} "
            f"and {np.shape(y)}"
        )
    lam = non_negative_number("lam", lam)
    kernel = build_kernel(tau_r, tau_d, fs)
    fit = causal_convolve(s, kernel)
    value = 0.5 * np.sum((target - fit) ** 2, axis=1) + lam * kernel.sum() * s.sum(axis=1)
    return np.asarray(value.reshape(()) if was_1d else value)


def causal_convolve(signals: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Causal convolution of each row with ``kernel``, first ``T`` samples kept.

    Examples
    --------
    >>> causal_convolve(np.array([[1.0, 0.0, 0.0]]), np.array([0.0, 1.0, 0.5])).tolist()
    [[0.0, 1.0, 0.5]]
    """
    signals = np.atleast_2d(np.asarray(signals, dtype=np.float64))
    n_time = signals.shape[1]
    kernel_row = np.asarray(kernel, dtype=np.float64)[None, :]
    return np.asarray(oaconvolve(signals, kernel_row, axes=1)[:, :n_time])


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation; NaN for rows where either side is constant."""
    magnitude_a = np.abs(a).max(axis=1)
    magnitude_b = np.abs(b).max(axis=1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    spread_a = np.sqrt(np.sum(a * a, axis=1))
    spread_b = np.sqrt(np.sum(b * b, axis=1))
    tiny = 1e-12 * np.sqrt(a.shape[1])
    constant = (spread_a <= tiny * magnitude_a) | (spread_b <= tiny * magnitude_b)
    constant |= (spread_a == 0) | (spread_b == 0)
    denominator = np.where(constant, 1.0, spread_a * spread_b)
    corr = np.sum(a * b, axis=1) / denominator
    return np.where(constant, np.nan, np.clip(corr, -1.0, 1.0))
