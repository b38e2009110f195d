"""Kinetics and noise of calcium traces, estimated from the traces alone.

Helpers of :func:`calab.core.suggest.suggest_params`, all vectorised over
cells (rows) of an in-memory float64 matrix.

- :func:`detrend` removes slow drift and bleaching with a block-wise low
  percentile, linearly interpolated between blocks.
- :func:`fit_autocovariance` fits the rise and decay time constants to the
  autocovariance of each trace. Activity that is not too strongly correlated in
  time, passed through a double exponential ``h``, has the autocovariance
  ``A * sum_i h[i] h[i+k]`` (a closed form in the two decay factors); noise,
  white or band-limited, only adds to the first few lags, which the fit skips.
- :func:`noise_below_mode` measures the noise of a signal made of noise plus
  non-negative transients from the samples below its mode.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft
from scipy.ndimage import uniform_filter1d

#: Grid of decay time constants searched (seconds).
TAU_DECAY_GRID = np.geomspace(0.04, 4.0, 49)
#: Grid of rise / decay ratios searched.
RISE_RATIO_GRID = np.geomspace(0.008, 0.6, 25)
#: Lags of the autocovariance fitted, in decay time constants of the largest decay.
FIT_SPAN_DECAYS = 3.0
#: Width of the moving average the autocovariance fit subtracts (seconds).
HIGH_PASS_S = 5.0
#: Seconds per block of the drift-removing baseline.
DETREND_BLOCK_S = 10.0
#: Percentile of each block taken as its baseline.
DETREND_PERCENTILE = 20.0


def detrend(matrix: np.ndarray, fs: float) -> np.ndarray:
    """Subtract a slow baseline: the 20th percentile of 10 s blocks, interpolated.

    Parameters
    ----------
    matrix : numpy.ndarray
        ``(n_cells, n_timepoints)`` finite float64 traces.
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    numpy.ndarray
        Same shape, float64: each trace minus its baseline.

    Examples
    --------
    >>> ramp = np.linspace(0.0, 50.0, 3000)[None, :]
    >>> flat = detrend(ramp, 10.0)[:, 60:-60]  # away from the edges, the ramp is gone
    >>> bool(np.abs(flat).max() < 1.0)
    True
    """
    n_cells, n_time = matrix.shape
    block = max(8, round(DETREND_BLOCK_S * fs))
    n_blocks = n_time // block
    if n_blocks < 2:
        level = np.percentile(matrix, DETREND_PERCENTILE, axis=1, keepdims=True)
        flat: np.ndarray = matrix - level
        return flat
    used = n_blocks * block
    offset = (n_time - used) // 2
    blocks = matrix[:, offset:offset + used].reshape(n_cells, n_blocks, block)
    levels = np.percentile(blocks, DETREND_PERCENTILE, axis=2)
    centres = offset + block * (np.arange(n_blocks) + 0.5)
    times = np.arange(n_time)
    baseline = np.empty_like(matrix)
    for row in range(n_cells):
        baseline[row] = np.interp(times, centres, levels[row])
    detrended: np.ndarray = matrix - baseline
    return detrended


def autocovariance(matrix: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocovariance of each mean-removed row at lags ``0..max_lag``.

    Each lag's sum of products is divided by the number of products
    (``n - k``), so long lags are not shrunk towards zero.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(1, 20000))
    >>> acov = autocovariance(x, 3)[0]
    >>> bool(abs(acov[0] - 1) < 0.05 and abs(acov[1]) < 0.05)
    True
    """
    n_time = matrix.shape[1]
    centred = matrix - matrix.mean(axis=1, keepdims=True)
    size = sp_fft.next_fast_len(n_time + max_lag + 1, real=True)
    spectrum = sp_fft.rfft(centred, size, axis=1)
    acov = sp_fft.irfft(spectrum.real**2 + spectrum.imag**2, size, axis=1)
    scaled: np.ndarray = acov[:, : max_lag + 1] / (n_time - np.arange(max_lag + 1))
    return scaled


def kernel_autocovariance(tau_r: np.ndarray, tau_d: np.ndarray, fs: float,
                          lags: np.ndarray) -> np.ndarray:
    """``sum_i h[i] h[i+k]`` of the kernels ``h[i] = d**i - r**i`` at ``lags``.

    ``tau_r`` and ``tau_d`` broadcast against each other; the result has their
    broadcast shape plus one axis of lags. Each row is scaled to 1 at lag 0.

    Examples
    --------
    >>> a = kernel_autocovariance(np.array([0.05]), np.array([0.4]), 30.0, np.arange(3))
    >>> a.shape, float(a[0, 0])
    ((1, 3), 1.0)
    """
    tau_d = np.asarray(tau_d, dtype=np.float64)[..., None]
    tau_r = np.asarray(tau_r, dtype=np.float64)[..., None]
    u = np.asarray(lags, dtype=np.float64) / fs
    # Continuous-time autocovariance of exp(-t/tau_d) - exp(-t/tau_r), each
    # exponential weighted by the effect of averaging the light over a frame.
    cross = tau_d * tau_r / (tau_d + tau_r)
    slow = (0.5 * tau_d - cross) * _frame_average(tau_d, fs)
    fast = (0.5 * tau_r - cross) * _frame_average(tau_r, fs)
    value = slow * np.exp(-u / tau_d) + fast * np.exp(-u / tau_r)
    unit: np.ndarray = value / (slow + fast)
    return unit


def _frame_average(tau: np.ndarray, fs: float) -> np.ndarray:
    """Factor an exponential's autocovariance gains from averaging over each frame."""
    half = 0.5 / (tau * fs)
    return (np.sinh(half) / half) ** 2


def high_pass(matrix: np.ndarray, fs: float, seconds: float = HIGH_PASS_S
              ) -> tuple[np.ndarray, np.ndarray]:
    """Subtract a centred moving average of ``seconds`` (default :data:`HIGH_PASS_S`).

    Returns the filtered traces and the autocorrelation of the filter
    (``delta - box``), which :func:`fit_autocovariance` applies to its models
    so that the filter biases nothing, it only removes slow drift.
    """
    width = max(3, 2 * (round(seconds * fs) // 2) + 1)
    width = min(width, 2 * (matrix.shape[1] // 4) + 1)
    smooth = uniform_filter1d(matrix, width, axis=1, mode="reflect")
    taps = np.full(width, -1.0 / width)
    taps[width // 2] += 1.0
    return matrix - smooth, np.correlate(taps, taps, mode="full")


def autocovariance_models(fs: float, max_lag: int, first_lag: int,
                          filter_acf: np.ndarray) -> dict[str, np.ndarray]:
    """The autocovariance of every grid kernel at lags ``first_lag..max_lag``.

    Each pair of :data:`TAU_DECAY_GRID` x :data:`RISE_RATIO_GRID` (rise =
    ratio * decay) gives one row, passed through the high-pass filter the
    traces went through (``filter_acf``) and centred over the lags, ready for
    :func:`fit_autocovariance`.
    """
    lags = np.arange(first_lag, max_lag + 1)
    tau_d = TAU_DECAY_GRID[:, None]
    tau_r = tau_d * RISE_RATIO_GRID[None, :]
    half = filter_acf.size // 2
    span = max_lag + half
    raw = kernel_autocovariance(tau_r, np.broadcast_to(tau_d, tau_r.shape), fs,
                                np.abs(np.arange(-span, span + 1))).reshape(-1, 2 * span + 1)
    size = 1 << int(np.ceil(np.log2(raw.shape[1] + filter_acf.size)))
    passed = np.fft.irfft(np.fft.rfft(raw, size, axis=1) * np.fft.rfft(filter_acf, size),
                          size, axis=1)
    centre = span + half  # where lag 0 of the raw model lands after the full convolution
    models = passed[:, centre + lags]
    centred = models - models.mean(axis=1, keepdims=True)
    return {"lags": lags, "centred": centred,
            "sum_squares": np.einsum("ml,ml->m", centred, centred),
            "at_zero": passed[:, centre], "grid_shape": np.array(tau_r.shape)}


def fit_autocovariance(acov: np.ndarray, models: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Fit ``(tau_r, tau_d)`` per row of ``acov`` against the grid ``models``.

    For each grid kernel the amplitude and a constant floor are fitted by
    least squares; the kernel with the smallest residual wins and is refined
    by a parabola through its neighbours on the log grid.

    Parameters
    ----------
    acov : numpy.ndarray
        ``(n_cells, >= max_lag + 1)`` autocovariances (:func:`autocovariance`).
    models : dict
        From :func:`autocovariance_models`.

    Returns
    -------
    dict
        ``tau_rise``, ``tau_decay`` (seconds), ``fit_r2`` (share of the
        autocovariance over the fitted lags the model explains, 0..1) and
        ``signal_var`` (variance of the fitted calcium signal), each ``(n_cells,)``.
    """
    n_cells = acov.shape[0]
    shape = tuple(models["grid_shape"])
    target = acov[:, models["lags"]]
    centred_target = target - target.mean(axis=1, keepdims=True)
    cross = centred_target @ models["centred"].T  # (cells, models)
    sum_squares = models["sum_squares"]
    amplitude = cross / np.where(sum_squares > 0, sum_squares, np.inf)[None, :]
    explained = np.where(amplitude > 0, cross * amplitude, -np.inf)
    total_ss = np.einsum("cl,cl->c", centred_target, centred_target)
    best = np.argmax(explained, axis=1)
    di, ri = np.unravel_index(best, shape)
    grid_scores = explained.reshape(n_cells, *shape)
    log_d = _refine(np.log(TAU_DECAY_GRID), grid_scores, di, ri, 1)
    log_ratio = _refine(np.log(RISE_RATIO_GRID), grid_scores, di, ri, 2)
    rows = np.arange(n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.clip(explained[rows, best] / total_ss, 0.0, 1.0)
    signal_var = np.maximum(amplitude[rows, best], 0) * models["at_zero"][best]
    decay = np.exp(log_d)
    return {"tau_rise": decay * np.exp(log_ratio), "tau_decay": decay,
            "fit_r2": np.nan_to_num(r2, nan=0.0), "signal_var": signal_var}


def _refine(log_grid: np.ndarray, score: np.ndarray, di: np.ndarray, ri: np.ndarray,
            axis: int) -> np.ndarray:
    """Parabolic refinement of the argmax along one grid axis (log scale)."""
    rows = np.arange(score.shape[0])
    index = di if axis == 1 else ri
    size = log_grid.size
    inner = (index > 0) & (index < size - 1)
    lo = np.clip(index - 1, 0, size - 1)
    hi = np.clip(index + 1, 0, size - 1)
    if axis == 1:
        s0, s1, s2 = score[rows, lo, ri], score[rows, index, ri], score[rows, hi, ri]
    else:
        s0, s1, s2 = score[rows, di, lo], score[rows, di, index], score[rows, di, hi]
    step = log_grid[1] - log_grid[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        curvature = s0 - 2 * s1 + s2
        shift = np.where(inner & np.isfinite(curvature) & (curvature < 0),
                         0.5 * (s0 - s2) / curvature, 0.0)
    shift = np.nan_to_num(np.clip(shift, -0.5, 0.5))
    refined: np.ndarray = log_grid[index] + shift * step
    return refined


def noise_below_mode(signal: np.ndarray) -> np.ndarray:
    """Noise std per row of ``noise + non-negative transients``, from below its mode.

    The mode is located as the centre of the densest 20% of sorted samples
    (the shortest interval holding a fifth of them); the noise is the root
    mean square distance to the mode of the samples below it, which
    transients cannot reach.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=(1, 20000)); x[0, ::50] += 30.0
    >>> bool(abs(noise_below_mode(x)[0] - 1.0) < 0.05)
    True
    """
    ordered = np.sort(signal, axis=1)
    n = ordered.shape[1]
    width = max(2, n // 5)
    spans = ordered[:, width:] - ordered[:, :-width]
    start = np.argmin(spans, axis=1)
    rows = np.arange(ordered.shape[0])
    mode = 0.5 * (ordered[rows, start] + ordered[rows, start + width])
    below = ordered < mode[:, None]
    depth = np.where(below, ordered - mode[:, None], 0.0)
    count = np.maximum(below.sum(axis=1), 1)
    noise: np.ndarray = np.sqrt((depth**2).sum(axis=1) / count)
    return noise


#: Largest lag (samples) the noise estimate looks at for band-limited data.
MAX_NOISE_LAG = 16
#: Share of the top of the spectrum (by frequency) :func:`top_of_spectrum_noise` reads.
TOP_BAND = 0.2
#: Noise is white when its top-of-spectrum level is at least this share of the
#: lag-1 difference level (simulated white noise: 0.7-1.6 at SNR 2-40; recordings
#: resampled up and the Spikefinder sets: 0.0-0.17).
WHITE_TOP_RATIO = 0.5


def top_of_spectrum_noise(matrix: np.ndarray) -> np.ndarray:
    """Noise std per row as white noise would show it in the top of the spectrum.

    The median periodogram over the top :data:`TOP_BAND` of frequencies,
    as a white-noise standard deviation; ~0 for band-limited recordings.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> bool(abs(top_of_spectrum_noise(rng.normal(size=(1, 20000)))[0] - 1) < 0.05)
    True
    """
    centred = matrix - matrix.mean(axis=1, keepdims=True)
    power = np.abs(sp_fft.rfft(centred, axis=1)) ** 2
    band = power[:, int((1.0 - TOP_BAND) * power.shape[1]):]
    level: np.ndarray = np.sqrt(np.median(band, axis=1) / np.log(2.0) / matrix.shape[1])
    return level


def difference_noise(matrix: np.ndarray,
                     finite: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """White-equivalent noise std per sample, robust to band-limited recordings.

    The median absolute difference between samples ``k`` apart measures the
    noise once ``k`` exceeds the noise's correlation length: for white noise
    that is ``k = 1``; a recording band-limited to ``fs / (2k)`` (resampled
    up) has smooth noise whose lag-``k`` differences keep growing until then.
    The first lag where they stop growing by 10 % is taken, and the level is
    scaled by ``sqrt(k)``: band-limited noise of variance ``v`` looks to a
    slow kernel like white noise of variance ``k * v``.

    ``finite`` (same shape, optional) marks the samples that were measured:
    differences touching a filled-in sample are left out.

    Returns
    -------
    tuple of numpy.ndarray
        ``(noise, lag)`` per row.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise, lag = difference_noise(rng.normal(size=(1, 20000)))
    >>> bool(abs(noise[0] - 1) < 0.05), int(lag[0])
    (True, 1)
    """
    if finite is not None and not finite.all():
        gappy = ~finite.all(axis=1)
        noise, lag = difference_noise(matrix) if (~gappy).any() else (
            np.zeros(matrix.shape[0]), np.ones(matrix.shape[0], dtype=np.int64))
        for row in np.flatnonzero(gappy):
            keep = finite[row]
            noise[row:row + 1], lag[row:row + 1] = difference_noise(matrix[row:row + 1, keep])
        return noise, lag
    n_cells, n_time = matrix.shape
    top = max(1, min(MAX_NOISE_LAG, n_time // 8))
    scale = 1.0 / (0.6745 * np.sqrt(2.0))
    previous = np.median(np.abs(matrix[:, 1:] - matrix[:, :-1]), axis=1) * scale
    noise = previous.copy()
    lag = np.ones(n_cells, dtype=np.int64)
    # White noise reaches the top of the spectrum, where calcium transients carry
    # next to nothing; band-limited noise does not. Rows whose top band holds the
    # lag-1 level are white (lag 1): the lag-k differences of a high-SNR trace
    # grow with its own slow transients, which passed for band-limited noise
    # (GCaMP6f at SNR 20: noise 3x too high, lag 3-4).
    open_rows = np.flatnonzero(top_of_spectrum_noise(matrix) < WHITE_TOP_RATIO * previous)
    for k in range(2, top + 2):
        if open_rows.size == 0:
            break
        rows = matrix[open_rows]
        level = np.median(np.abs(rows[:, k:] - rows[:, :-k]), axis=1) * scale
        growing = level > 1.1 * previous[open_rows]
        done = open_rows[~growing]
        lag[done] = k - 1
        noise[done] = previous[done]
        previous[open_rows] = level
        open_rows = open_rows[growing]
    lag[open_rows] = top
    noise[open_rows] = previous[open_rows]
    return noise * np.sqrt(lag), lag
