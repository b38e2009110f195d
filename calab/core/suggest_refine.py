"""The rise time refined by the deconvolution fit itself.

The autocovariance cannot tell a slow indicator rise from bursts of spikes:
on real recordings its rise comes out several times too slow. The
deconvolution can: a kernel that rises too slowly cannot follow sharp onsets
and leaves them in the residual, while a kernel that rises too fast must
spread each onset over several samples of activity, which the sparsity
penalty charges for when lambda is large enough (see below).
:func:`refine_rise` therefore deconvolves a small subsample (the most
active cells, a window of about a minute) with a few candidate rise times,
each with the suggested sparsity penalty, and keeps the rise of the
smallest objective, normalised by each cell's noise.

With a lambda that small the penalty hardly charges for spreading: a kernel
faster than the indicator plus activity smeared over the frames of its rise
fits as well, so a rise of a frame or more can come out too fast (simulated
GCaMP6m and GCaMP6s). The caller then runs the fit again with ``fastest`` set
to that rise and an event-level (larger) lambda, at which sparse events make
the rise identifiable, keeping the best candidate (``keep_slower=False``).
"""

from __future__ import annotations

import numpy as np

from calab.core.deconvolve import deconvolve_matrix
from calab.core.kernel import build_kernel
from calab.core.options import DeconvolutionOptions

#: Most cells deconvolved (the most active ones).
REFINE_CELLS = 16
#: Length of the window deconvolved (seconds).
REFINE_SECONDS = 60.0
#: Candidate rise times, log-spaced from :data:`FASTEST_RISE_SAMPLES` samples
#: to the autocovariance estimate.
REFINE_CANDIDATES = 7
#: Fastest candidate rise, in samples.
FASTEST_RISE_SAMPLES = 0.25
#: FISTA iterations per candidate: enough to rank candidates, not to converge.
REFINE_ITERS = 200
#: A slower rise is kept when its excess objective is within this many standard errors.
SIGNIFICANCE = 2.0
#: Share of a window's samples that must have been measured (not filled in).
MIN_FINITE_SHARE = 0.99


def refine_rise(matrix: np.ndarray, finite: np.ndarray, fs: float, noise: np.ndarray,
                order: np.ndarray, slowest: float, tau_decay: float,
                lambda_per_noise: float, *, fastest: float | None = None,
                keep_slower: bool = True) -> float | None:
    """The rise time (s) whose deconvolution fits the most active cells best.

    Only the rise is searched; the decay stays the autocovariance's (a
    decay searched the same way was less accurate on simulated recordings).

    Parameters
    ----------
    matrix : numpy.ndarray
        ``(n_cells, n_timepoints)`` finite, detrended traces.
    finite : numpy.ndarray
        Same shape: which samples were measured.
    fs : float
        Sampling rate in Hz.
    noise : numpy.ndarray
        ``(n_cells,)`` noise std of each trace.
    order : numpy.ndarray
        Indices of the active cells, most active first.
    slowest : float
        Slowest candidate rise (s), e.g. the autocovariance estimate.
    tau_decay : float
        The autocovariance's decay time constant (s).
    lambda_per_noise : float
        The sparsity rule: ``lambda = lambda_per_noise * noise * ||h|| / G``.
    fastest : float, optional
        Fastest candidate rise (s); default :data:`FASTEST_RISE_SAMPLES`
        samples. Given, candidates span ``fastest`` to ``slowest`` however
        close they are.
    keep_slower : bool, optional
        Keep the slowest candidate not significantly worse than the best
        (default); False keeps the best.

    Returns
    -------
    float or None
        The rise, or None when no cell has a long enough clean window or
        ``slowest`` is within twice the fastest candidate already.

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=8, duration_s=60.0, fs=30.0, seed=0)
    >>> x = sim.traces - np.median(sim.traces, axis=1, keepdims=True)
    >>> rise = refine_rise(x, np.isfinite(x), 30.0, np.full(8, 0.05), np.arange(8),
    ...                    0.3, sim.tau_decay, 3.0)
    >>> bool(0.25 / 30.0 <= rise <= 0.3)
    True
    """
    length = min(matrix.shape[1], round(REFINE_SECONDS * fs))
    usable = [row for row in order
              if finite[row, :length].mean() >= MIN_FINITE_SHARE and noise[row] > 0]
    rows = np.asarray(usable[:REFINE_CELLS], dtype=np.int64)
    limit = 2.0
    if fastest is None:
        fastest = FASTEST_RISE_SAMPLES / fs
    else:
        limit = 1.0 + 1e-6
    if rows.size == 0 or length < 4 * tau_decay * fs or slowest <= limit * fastest:
        return None  # nothing to read, or the autocovariance's rise is fast already
    window = matrix[rows, :length]
    weight = 1.0 / noise[rows] ** 2
    per_unit = lambda_per_noise * float(np.median(noise[rows]))
    log_rises = np.linspace(np.log(fastest), np.log(slowest), REFINE_CANDIDATES)
    costs = np.array([_objective(window, weight, fs, float(np.exp(r)), tau_decay, per_unit)
                      for r in log_rises])  # (candidates, cells)
    scores = costs.sum(axis=1)
    best = int(np.argmin(scores))
    # The slowest rise not significantly worse than the best, paired over cells.
    excess = costs - costs[best]
    n_rows = costs.shape[1]
    spread = (excess.std(axis=1, ddof=1) / np.sqrt(n_rows) if n_rows > 1
              else np.zeros(len(log_rises)))
    close = np.flatnonzero(excess.mean(axis=1) <= SIGNIFICANCE * spread)
    pick = int(close.max()) if close.size and keep_slower else best
    if pick != best:
        return float(np.exp(log_rises[pick]))
    return float(np.exp(_parabola_argmin(log_rises, scores)))


def _objective(window: np.ndarray, weight: np.ndarray, fs: float, tau_rise: float,
               tau_decay: float, lambda_per_unit: float) -> np.ndarray:
    """Each cell's ``(0.5 * RSS + lambda * G * sum(s)) / noise**2`` for one kernel."""
    kernel = build_kernel(tau_rise, tau_decay, fs)
    gain = float(kernel.sum())
    lam = lambda_per_unit * float(np.sqrt(np.sum(kernel**2))) / gain
    options = DeconvolutionOptions(fs=fs, tau_r=tau_rise, tau_d=tau_decay, lam=lam,
                                   max_iters=REFINE_ITERS)
    result = deconvolve_matrix(window, options)
    residual = window - result.reconvolution
    cost = 0.5 * np.sum(residual**2, axis=1) + lam * gain * result.activity.sum(axis=1)
    weighted: np.ndarray = weight * cost
    return weighted


def _parabola_argmin(grid: np.ndarray, scores: np.ndarray) -> float:
    """Minimum of ``scores`` on ``grid``, refined by a parabola through its neighbours."""
    best = int(np.argmin(scores))
    if best in (0, grid.size - 1):
        return float(grid[best])
    s0, s1, s2 = scores[best - 1:best + 2]
    curvature = s0 - 2 * s1 + s2
    shift = 0.5 * (s0 - s2) / curvature if curvature > 0 else 0.0
    return float(grid[best] + np.clip(shift, -0.5, 0.5) * (grid[1] - grid[0]))
