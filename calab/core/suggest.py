"""Parameters from the data: rise, decay and sparsity suggested for a recording.

:func:`suggest_params` reads a representative subsample of a recording (cells
spread over it, a centred time window), estimates the kinetics of each cell
from the autocovariance of its trace (:mod:`calab.core.suggest_kinetics`),
pools the cells, and sets the sparsity penalty from the noise the kernel sees.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from calab.core import suggest_kinetics as kin
from calab.core.checks import flag, sampling_rate
from calab.core.kernel import build_kernel
from calab.core.suggest_input import Subsample, read_subsample
from calab.core.suggest_pool import MAX_RISE_RATIO, fit_cells, pool
from calab.core.suggest_refine import FASTEST_RISE_SAMPLES, refine_rise

#: lambda = LAMBDA_PER_NOISE * (noise std of the matched-filtered trace) / G,
#: calibrated on simulated recordings of every indicator preset.
LAMBDA_PER_NOISE = 3.0
#: A cell counts as active when its fitted calcium std exceeds this many noise stds.
ACTIVE_SNR = 0.3
#: ... and the autocovariance model explains at least this share.
ACTIVE_R2 = 0.5
#: Fewest active cells a reliable suggestion rests on.
MIN_ACTIVE_CELLS = 3
#: Shortest trace (seconds) for a reliable suggestion.
MIN_RELIABLE_SECONDS = 60.0
#: Slowest rise / decay ratio the deconvolution fit tries.
REFINE_MAX_RATIO = 0.3
#: A rise under this many frames is not resolved by the sampling (twice the
#: fastest rise the fit tries, :data:`calab.core.suggest_refine.FASTEST_RISE_SAMPLES`).
UNRESOLVED_RISE_FRAMES = 2.0 * FASTEST_RISE_SAMPLES
#: A refined rise of at least this many frames spans frames that smeared activity could
#: imitate: it is refined again, no faster, at EVENT_LAMBDA_SCALE x the suggested lambda.
RESOLVED_RISE_FRAMES = 1.0
#: The event-level lambda of that second fit, in multiples of the suggested lambda.
EVENT_LAMBDA_SCALE = 3.0
#: Used when nothing can be estimated (a typical GCaMP6-like start).
FALLBACK_TAUS = (0.1, 0.6)


class SuggestionWarning(UserWarning):
    """The suggestion rests on too little evidence; ``details['reasons']`` says why."""


def suggest_params(
    traces: Any,
    fs: float,
    *,
    per_cell: bool = False,
    max_cells: int = 200,
    max_seconds: float = 600.0,
    seed: int = 0,
    filter_enabled: bool | None = None,
) -> dict[str, Any]:
    """Suggest ``tau_rise``, ``tau_decay`` and ``lambda_`` from the recording itself.

    Parameters
    ----------
    traces : array-like
        ``(n_timepoints,)`` or ``(n_cells, n_timepoints)`` fluorescence in any
        units and offset: a NumPy array, a dask or zarr array, or anything with
        ``shape`` and NumPy-style indexing. Only the subsample is read.
    fs : float
        Sampling rate in Hz.
    per_cell : bool, optional
        Return ``tau_rise``, ``tau_decay`` and ``lambda_`` as ``(n_cells,)``
        arrays, one value per cell of the recording (cells outside the
        subsample get the pooled values).
    max_cells : int, optional
        Most cells read (spread evenly over the recording; default 200).
    max_seconds : float, optional
        Longest time window read, centred in the recording (default 600 s).
    seed : int, optional
        Seed of the choice of cells (the choice is deterministic for a seed).
    filter_enabled : bool, optional
        Recorded in the result (default ``False``).

    Returns
    -------
    dict
        ``tau_rise``, ``tau_decay`` (s), ``lambda_``, ``fs``, ``filter_enabled``,
        ready for ``run_deconvolution(traces, fs, tau_r, tau_d, lam)``, and
        ``details``: ``cells`` (indices read), ``noise``, ``tau_rise_cell``,
        ``tau_decay_cell``, ``tau_decay_rel_error`` (confidence of each
        cell's decay, relative standard error), ``fit_r2``, ``snr``,
        ``active`` (the cells the pooled estimate rests on), ``reliable`` and
        ``reasons``, ``rise_resolved`` (False when the rise is under half a
        frame, which the sampling cannot resolve) and ``notes`` (why).

    Raises
    ------
    calab.errors.InvalidParameterError
        Empty input, all-NaN or constant traces, ``fs`` outside the plausible
        sampling rates (:data:`calab.core.checks.MIN_SAMPLING_RATE` to
        :data:`calab.core.checks.MAX_SAMPLING_RATE` Hz), ``max_seconds <= 0``.
    calab.errors.ParameterTypeError
        Non-real traces (complex, bool, text), a non-integer ``max_cells`` or
        ``seed``, a non-bool ``per_cell`` or ``filter_enabled``.

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=20, duration_s=300.0, fs=30.0, seed=0)
    >>> p = suggest_params(sim.traces, 30.0)
    >>> bool(0.3 < p["tau_decay"] / sim.tau_decay < 3.0), p["details"]["reliable"]
    (True, True)
    """
    fs = sampling_rate("fs", fs)
    per_cell = flag("per_cell", per_cell)
    if filter_enabled is not None:
        filter_enabled = flag("filter_enabled", filter_enabled)
    sample = read_subsample(traces, fs, max_cells=max_cells, max_seconds=max_seconds,
                            seed=seed)
    matrix, usable = sample.matrix, sample.usable
    reasons: list[str] = list(sample.reasons)
    detrended = kin.detrend(matrix[usable], fs)
    noise, noise_lag = kin.difference_noise(detrended, sample.finite[usable])
    # Band-limited noise is correlated up to about its lag: fit beyond it.
    fit = fit_cells(matrix[usable], fs, first_lag=int(np.median(noise_lag)))
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.nan_to_num(np.where(noise > 0, np.sqrt(fit["signal_var"]) / noise, 0.0))
    active = (fit["fit_r2"] >= ACTIVE_R2) & (snr >= ACTIVE_SNR)
    pooled = pool(fit, active)
    if pooled is not None:
        _refine_pooled(detrended, sample.finite[usable], fs, noise, snr, active, fit,
                       pooled)
    notes = [] if pooled is None else _sub_frame_rise(fs, fit, pooled)
    lam_cell = np.array([noise[i] * _lambda_factor(fit["tau_rise_cell"][i],
                                                    fit["tau_decay_cell"][i], fs)
                         for i in range(noise.size)])
    if active.sum() < MIN_ACTIVE_CELLS:
        reasons.append(f"only {int(active.sum())} of {int(usable.sum())} cells read show "
                       f"clear calcium transients (at least {MIN_ACTIVE_CELLS} needed)")
    duration = matrix.shape[1] / fs
    if duration < MIN_RELIABLE_SECONDS:
        reasons.append(f"the traces last {duration:.1f} s; at least "
                       f"{MIN_RELIABLE_SECONDS:g} s are needed for a precise estimate")
    if pooled is None:
        pooled = {"tau_rise": FALLBACK_TAUS[0], "tau_decay": FALLBACK_TAUS[1]}
        reasons.append("no transients detected: the time constants are generic defaults")
    lam_global = _pooled_lambda(noise, fs, pooled, active)
    reliable = not reasons
    if not reliable:
        warnings.warn("suggest_params: the suggestion is unreliable: " + "; ".join(reasons),
                      SuggestionWarning, stacklevel=2)
    details = _details(sample, fit, noise, lam_cell, snr, active, reliable, reasons)
    details["rise_resolved"], details["notes"] = not notes, notes
    result: dict[str, Any] = {
        "tau_rise": pooled["tau_rise"], "tau_decay": pooled["tau_decay"],
        "lambda_": lam_global, "fs": fs, "filter_enabled": bool(filter_enabled),
    }
    if per_cell:
        result.update(_spread_per_cell(sample, fit, lam_cell, result))
    result["details"] = details
    return result


def suggestion_record(suggestion: Mapping[str, Any]) -> dict[str, Any]:
    """What an output records about a suggestion: its values, how sure, which calab.

    Parameters
    ----------
    suggestion : dict
        A result of :func:`suggest_params` (global, not per cell).

    Returns
    -------
    dict
        Plain JSON values: ``suggested_by`` (``"calab.suggest_params"``),
        ``calab_version``, ``rise_resolved``, ``notes``, ``tau_rise``,
        ``tau_decay``, ``lambda_``, ``fs``, ``reliable``, ``reasons``,
        ``cells_read``, ``active_cells`` and the time ``window`` read (samples).

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=8, duration_s=120.0, fs=30.0, seed=0)
    >>> record = suggestion_record(suggest_params(sim.traces, 30.0))
    >>> record["suggested_by"], record["cells_read"]
    ('calab.suggest_params', 8)
    """
    from calab._version import __version__

    details = suggestion["details"]
    return {
        "suggested_by": "calab.suggest_params", "calab_version": __version__,
        "rise_resolved": bool(details.get("rise_resolved", True)),
        "notes": [str(note) for note in details.get("notes", ())],
        **{key: float(suggestion[key]) for key in ("tau_rise", "tau_decay", "lambda_", "fs")},
        "reliable": bool(details["reliable"]), "reasons": [str(r) for r in details["reasons"]],
        "cells_read": len(details["cells"]), "active_cells": len(details["active"]),
        "window": [int(v) for v in details["window"]],
    }


def _refine_pooled(detrended: np.ndarray, finite: np.ndarray, fs: float, noise: np.ndarray,
                   snr: np.ndarray, active: np.ndarray, fit: dict[str, Any],
                   pooled: dict[str, Any]) -> None:
    """Replace the pooled rise by the one the deconvolution fits best (in place).

    Every cell gets the refined rise (the autocovariance's per-cell rise is
    biased by bursts). The pooled rise keeps the cap of :data:`MAX_RISE_RATIO`
    of the pooled decay; a cell's rise is not capped again by its own decay
    (a noisy per-cell decay would then move a rise the fit measured on the
    pool: on Spikefinder 5 that cost the per-cell suggestion 0.005), only kept
    within the ratios the fit searched (:data:`REFINE_MAX_RATIO`).

    A refined rise of :data:`RESOLVED_RISE_FRAMES` frame or more is fitted
    again, from that rise up to the slowest candidate, at
    :data:`EVENT_LAMBDA_SCALE` times the lambda: at the suggested lambda a
    faster kernel with activity smeared over the rise's frames fits as well
    (simulated GCaMP6s at SNR 20: 65 ms for 180 ms); sparser activity cannot
    do that. A sub-frame rise cannot be imitated so and is kept (Spikefinder 6).
    """
    order = np.flatnonzero(active)
    order = order[np.argsort(-snr[order], kind="stable")]
    slowest = min(float(np.exp(np.median(np.log(fit["tau_rise"][active])))),
                  REFINE_MAX_RATIO * pooled["tau_decay"])
    rise = refine_rise(detrended, finite, fs, noise, order, slowest, pooled["tau_decay"],
                       LAMBDA_PER_NOISE)
    if rise is None:
        return
    if rise * fs >= RESOLVED_RISE_FRAMES:
        slower = refine_rise(detrended, finite, fs, noise, order, slowest, pooled["tau_decay"],
                             EVENT_LAMBDA_SCALE * LAMBDA_PER_NOISE, fastest=rise,
                             keep_slower=False)
        rise = rise if slower is None else slower
    pooled["tau_rise"] = min(rise, MAX_RISE_RATIO * pooled["tau_decay"])
    fit["tau_rise_cell"] = np.minimum(np.full(noise.size, pooled["tau_rise"]),
                                      REFINE_MAX_RATIO * fit["tau_decay_cell"])


def _sub_frame_rise(fs: float, fit: dict[str, Any], pooled: dict[str, Any]) -> list[str]:
    """A rise the sampling cannot resolve: the centre of the band it lies in (in place).

    Below :data:`UNRESOLVED_RISE_FRAMES` frames the sampled kernel hardly
    changes with the rise (its first sample moves by a few % of the peak):
    neither the autocovariance nor the fit can tell such rises apart, and the
    fit tries none faster than a quarter of a frame. Such a rise is reported
    as the geometric centre of that band (about 0.35 frames, 12 ms at 30 Hz),
    the same for every cell, and a note says so. Returns the notes.
    """
    fastest = UNRESOLVED_RISE_FRAMES / 2.0 / fs
    if pooled["tau_rise"] * fs >= UNRESOLVED_RISE_FRAMES:
        return []
    rise = min(math.sqrt(2.0) * fastest, MAX_RISE_RATIO * pooled["tau_decay"])
    estimate = pooled["tau_rise"]
    pooled["tau_rise"] = rise
    fit["tau_rise_cell"] = np.minimum(np.full(fit["tau_rise_cell"].shape, rise),
                                      REFINE_MAX_RATIO * fit["tau_decay_cell"])
    return [f"the rise ({estimate * 1e3:.1f} ms estimated) is under "
            f"{UNRESOLVED_RISE_FRAMES:g} frame at {fs:g} Hz: the sampling cannot resolve it "
            f"(any rise from {fastest * 1e3:.1f} to {2 * fastest * 1e3:.1f} ms, or faster, "
            f"fits alike); reported as {rise * 1e3:.1f} ms for every cell"]


def _lambda_factor(tau_rise: float, tau_decay: float, fs: float) -> float:
    """lambda per unit of noise std: ``LAMBDA_PER_NOISE * ||h|| / G``."""
    kernel = build_kernel(tau_rise, tau_decay, fs)
    return LAMBDA_PER_NOISE * float(np.sqrt(np.sum(kernel**2)) / kernel.sum())


def _pooled_lambda(noise: np.ndarray, fs: float, pooled: dict[str, float],
                   active: np.ndarray) -> float:
    """Median over cells of the lambda rule with the pooled kernel."""
    rows = active if active.any() else np.ones(active.size, dtype=bool)
    factor = _lambda_factor(pooled["tau_rise"], pooled["tau_decay"], fs)
    return float(np.median(noise[rows]) * factor)


def _details(sample: Subsample, fit: dict[str, np.ndarray], noise: np.ndarray,
             lam_cell: np.ndarray, snr: np.ndarray, active: np.ndarray, reliable: bool,
             reasons: list[str]) -> dict[str, Any]:
    cells = sample.cells[sample.usable]
    return {
        "cells": cells,
        "window": sample.window,
        "noise": noise,
        "lambda_cell": lam_cell,
        "tau_rise_cell": fit["tau_rise_cell"],
        "tau_decay_cell": fit["tau_decay_cell"],
        "tau_rise_raw": fit["tau_rise"],
        "tau_decay_raw": fit["tau_decay"],
        "tau_decay_rel_error": np.sqrt(fit["log_var_decay"]),
        "fit_r2": fit["fit_r2"],
        "snr": snr,
        "active": cells[active],
        "skipped": sample.cells[~sample.usable],
        "reliable": reliable,
        "reasons": reasons,
    }


def _spread_per_cell(sample: Subsample, fit: dict[str, np.ndarray], lam_cell: np.ndarray,
                     pooled: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``(n_cells,)`` arrays for the whole recording; unread cells get the pool."""
    n_cells = sample.n_cells
    out = {key: np.full(n_cells, float(pooled[key])) for key in ("tau_rise", "tau_decay",
                                                                  "lambda_")}
    cells = sample.cells[sample.usable]
    out["tau_rise"][cells] = fit["tau_rise_cell"]
    out["tau_decay"][cells] = fit["tau_decay_cell"]
    out["lambda_"][cells] = lam_cell
    return out
