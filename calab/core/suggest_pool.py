"""Per-cell kinetics of :func:`calab.core.suggest.suggest_params`, pooled over cells.

:func:`fit_cells` fits each cell's rise and decay to its autocovariance
(:mod:`calab.core.suggest_kinetics`) and measures how precise each estimate
is from disjoint segments of the trace; :func:`pool` takes the medians over
the active cells and shrinks each cell's estimate towards them by its
precision (empirical Bayes on ``log tau``), so that a cell keeps its own value
only when the cells really differ.
"""

from __future__ import annotations

import math

import numpy as np

from calab.core import suggest_kinetics as kin

#: Segments each trace is cut into to measure how precise its estimate is.
SEGMENTS = 4
#: Largest rise / decay ratio suggested. Bursts of spikes make transients rise
#: more slowly than the indicator does and the autocovariance cannot tell the
#: two apart; on Spikefinder recordings a rise above ~1/8 of the decay always
#: scored worse, while every indicator preset stays below it.
MAX_RISE_RATIO = 0.12
#: The segments' spread understates the spread of whole-trace estimates: on
#: simulated recordings with identical kinetics in every cell, the variance of
#: log tau_d over cells was about twice the segment estimate.
VARIANCE_INFLATION = 2.0


def fit_cells(matrix: np.ndarray, fs: float, first_lag: int) -> dict[str, np.ndarray]:
    """Per-cell kinetics from the autocovariance, and their precision from segments.

    Parameters
    ----------
    matrix : numpy.ndarray
        ``(n_cells, n_timepoints)`` finite float64 traces.
    fs : float
        Sampling rate in Hz.
    first_lag : int
        First lag fitted (noise, white or band-limited, only adds before it).

    Returns
    -------
    dict
        :func:`calab.core.suggest_kinetics.fit_autocovariance`'s ``(n_cells,)``
        arrays plus ``log_var_decay`` and ``log_var_rise`` (variance of each
        cell's ``log tau`` from the segments' spread) and, when the traces are
        long enough to cut, ``segments_decay`` and ``segments_rise``
        (``(SEGMENTS, n_cells)`` log estimates of the disjoint segments).

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=6, duration_s=300.0, fs=30.0, seed=2)
    >>> fit = fit_cells(sim.traces, 30.0, first_lag=1)
    >>> fit["segments_decay"].shape, bool(np.all(fit["log_var_decay"] > 0))
    ((4, 6), True)
    """
    filtered, filter_acf = kin.high_pass(matrix, fs)
    n_time = matrix.shape[1]
    max_lag = int(min(n_time // 4, math.ceil(kin.FIT_SPAN_DECAYS * kin.TAU_DECAY_GRID[-1] * fs)))
    max_lag = max(max_lag, first_lag + 4)
    models = kin.autocovariance_models(fs, max_lag, first_lag, filter_acf)
    length = n_time // SEGMENTS
    if length < 2 * max_lag:  # too short to cut: one fit, no precision figure
        fit = kin.fit_autocovariance(kin.autocovariance(filtered, max_lag), models)
        fit["log_var_decay"] = fit["log_var_rise"] = np.ones(matrix.shape[0])
        return fit
    # The whole trace's autocovariance is the mean of its segments' (up to the
    # few products across the cuts), so each FFT covers one segment only.
    parts = [kin.autocovariance(filtered[:, i * length:(i + 1) * length], max_lag)
             for i in range(SEGMENTS)]
    fit = kin.fit_autocovariance(np.mean(parts, axis=0), models)
    fits = [kin.fit_autocovariance(part, models) for part in parts]
    log_d = np.log([f["tau_decay"] for f in fits])
    log_r = np.log([f["tau_rise"] for f in fits])
    fit["log_var_decay"] = log_d.var(axis=0, ddof=1) / SEGMENTS
    fit["log_var_rise"] = log_r.var(axis=0, ddof=1) / SEGMENTS
    fit["segments_decay"], fit["segments_rise"] = log_d, log_r
    return fit


def _between_cells(segments: np.ndarray) -> float:
    """Variance of the true log tau between cells, from disjoint segments' estimates.

    ``segments`` is ``(n_segments, n_cells)``. Estimation errors of different
    segments are independent, so the covariance over cells of two segments'
    estimates is the variance of what the cells really share, whatever the
    errors' size; the mean over segment pairs, at least 0. (The segments'
    own spread understates the errors of slow decays, whose estimates pile up
    at the end of the grid, and made noise look like differences between cells.)
    """
    n_segments, n_cells = segments.shape
    if n_cells < 3:
        return 0.0
    centred = segments - segments.mean(axis=1, keepdims=True)
    cov = centred @ centred.T / (n_cells - 1)
    off_diagonal = (cov.sum() - np.trace(cov)) / (n_segments * (n_segments - 1))
    return max(float(off_diagonal), 0.0)


def _robust_var(values: np.ndarray) -> float:
    if values.size < 3:
        return 0.0
    mad = np.median(np.abs(values - np.median(values)))
    return float((1.4826 * mad) ** 2)


def pool(fit: dict[str, np.ndarray], active: np.ndarray) -> dict[str, float] | None:
    """Pooled time constants (medians over the active cells), and per-cell ones.

    Each cell's estimate is shrunk towards the pool by its precision
    (empirical Bayes on log tau): ``weight = between / (between + var)``,
    ``var`` the cell's error variance, ``between`` the variance between
    cells, the smaller of the spread beyond the errors and the covariance of
    disjoint segments. Noisy cells, and every cell when the cells do not
    really differ, take the pooled value. Writes ``tau_decay_cell`` and
    ``tau_rise_cell`` (seconds, ``(n_cells,)``) into ``fit``.

    Parameters
    ----------
    fit : dict
        From :func:`fit_cells` (updated in place).
    active : numpy.ndarray
        ``(n_cells,)`` bool: the cells the pool rests on.

    Returns
    -------
    dict or None
        ``tau_rise`` and ``tau_decay`` (s), or None without active cells.

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=8, duration_s=300.0, fs=30.0, seed=2)
    >>> fit = fit_cells(sim.traces, 30.0, first_lag=1)
    >>> pooled = pool(fit, np.ones(8, dtype=bool))
    >>> bool(0.5 < pooled["tau_decay"] / sim.tau_decay < 2.0), fit["tau_decay_cell"].shape
    (True, (8,))
    """
    pooled: dict[str, float] = {}
    for name, var_name in (("tau_decay", "log_var_decay"), ("tau_rise", "log_var_rise")):
        logs = np.log(fit[name])
        var = np.maximum(fit[var_name], 1e-6)
        segments = fit.get("segments_" + name[4:])
        if active.any():
            # A variance from four segments is itself noisy, and small ones go with
            # short estimates: pool it halfway to the mean, and take a plain median.
            var = VARIANCE_INFLATION * 0.5 * (var + float(np.mean(var[active])))
            centre = float(np.median(logs[active]))
            # Cells differ only as much as both the spread beyond the segments'
            # errors and the agreement of disjoint segments say they do.
            spread = max(_robust_var(logs[active]) - float(np.mean(var[active])), 0.0)
            between = 0.0 if segments is None else min(spread,
                                                       _between_cells(segments[:, active]))
        else:
            centre, between = float(np.median(logs)), 0.0
        weight = between / (between + var)
        weight = np.where(active, weight, 0.0)
        fit[name + "_cell"] = np.exp(centre + weight * (logs - centre))
        pooled[name] = float(np.exp(centre))
    fit["tau_rise_cell"] = np.minimum(fit["tau_rise_cell"], MAX_RISE_RATIO * fit["tau_decay_cell"])
    pooled["tau_rise"] = min(pooled["tau_rise"], MAX_RISE_RATIO * pooled["tau_decay"])
    return pooled if active.any() else None
