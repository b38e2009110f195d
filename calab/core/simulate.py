"""Synthetic calcium-imaging recordings with ground truth.

Spikes are drawn in continuous time, placed on a grid ``oversample`` times
finer than the frame rate, convolved with the indicator's double-exponential
response on that fine grid and averaged over each frame (the camera or scanner
integrates light over the frame). Slow drift, photobleaching, Gaussian read
noise, optional Poisson shot noise and a raw-fluorescence offset and scale are
added on top. Everything is vectorised over cells and seeded.

The fine-grid convolution is never materialised: because the kernel is a
difference of two exponentials, the frame average of each exponential obeys an
exact first-order recursion from frame to frame, fed by per-frame sums of the
spikes weighted by their position inside the frame.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calab.core.simulate_config import (
    DRIFT_MODELS,
    INDICATOR_PRESETS,
    NOISE_MODELS,
    SPIKE_MODELS,
    SimulationConfig,
)

__all__ = ["DRIFT_MODELS", "INDICATOR_PRESETS", "NOISE_MODELS", "SPIKE_MODELS",
           "SimulationConfig", "SimulationResult", "continuous_peak", "simulate"]

_CELL_BLOCK = 512  # cells per block of the frame recursion (bounds temporary memory)
_DRIFT_KNOTS_PER_TIMESCALE = 8


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """A simulated recording and its ground truth.

    Attributes
    ----------
    traces : numpy.ndarray
        ``(n_cells, n_timepoints)`` float64 fluorescence,
        ``dc_offset + scale * (b(t) * (1 + calcium + drift + shot) - 1 + noise)``
        with ``b(t)`` the photobleaching factor, ``shot`` the optional Poisson
        shot noise and ``noise`` the Gaussian noise.
    spikes : numpy.ndarray
        Same shape, float64 spike counts per frame.
    calcium : numpy.ndarray
        Same shape, the noise-free indicator signal in dF/F: spikes convolved
        with the double-exponential kernel (peak ``amplitudes`` per spike).
    fs, tau_rise, tau_decay : float
        Frame rate (Hz) and the kernel time constants (s) used.
    amplitudes : numpy.ndarray
        ``(n_cells,)`` peak dF/F of one spike in each cell.
    noise_std : float
        Standard deviation of the Gaussian noise in trace units.
    config : SimulationConfig
        The full configuration.
    """

    traces: np.ndarray
    spikes: np.ndarray
    calcium: np.ndarray
    fs: float
    tau_rise: float
    tau_decay: float
    amplitudes: np.ndarray = field(repr=False)
    noise_std: float
    config: SimulationConfig = field(repr=False)


def simulate(config: SimulationConfig | None = None, **overrides: Any) -> SimulationResult:
    """Simulate calcium-imaging traces with known spikes.

    Parameters
    ----------
    config : SimulationConfig, optional
        Base configuration (default ``SimulationConfig()``).
    **overrides
        Fields of :class:`SimulationConfig` to replace, e.g. ``num_cells=50``.

    Returns
    -------
    SimulationResult
        ``traces``, ``spikes`` and ``calcium`` of shape ``(num_cells, round(duration_s*fs))``.

    Raises
    ------
    TypeError
        Unknown override names or wrongly typed values.
    ValueError
        Values out of range (the message names the field and the allowed range).

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=3, duration_s=10.0, fs=30.0, seed=1)
    >>> sim.traces.shape, sim.spikes.shape, sim.traces.dtype
    ((3, 300), (3, 300), dtype('float64'))
    """
    config = _resolve_config(config, overrides)
    rng = np.random.default_rng(config.seed)
    tau_rise, tau_decay, peak_dff = config.kinetics
    n_cells, n_frames = config.num_cells, config.num_frames
    amplitudes = peak_dff * _lognormal_factors(rng, config.amplitude_jitter, n_cells)
    cells, fine_bins = _draw_spike_events(config, rng)
    weights = amplitudes[cells] * _lognormal_factors(
        rng, config.spike_amplitude_jitter, cells.size
    )
    frames = fine_bins // config.oversample
    spikes = np.bincount(cells * n_frames + frames, minlength=n_cells * n_frames)
    spikes = spikes.reshape(n_cells, n_frames).astype(np.float64)
    calcium = _frame_calcium(config, cells, fine_bins, weights, tau_rise, tau_decay)
    noise_std = peak_dff / config.snr
    traces = _observe(config, rng, calcium, noise_std)
    return SimulationResult(
        traces=traces, spikes=spikes, calcium=calcium, fs=float(config.fs),
        tau_rise=tau_rise, tau_decay=tau_decay, amplitudes=amplitudes,
        noise_std=float(noise_std * config.scale), config=config,
    )


def _resolve_config(config: Any, overrides: dict[str, Any]) -> SimulationConfig:
    if config is None:
        config = SimulationConfig()
    elif not isinstance(config, SimulationConfig):
        raise TypeError(f"config must be a SimulationConfig or None; got {type(config).__name__}")
    allowed = [f.name for f in dataclasses.fields(SimulationConfig)]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise TypeError(
            f"unknown simulation parameter(s) {', '.join(unknown)}; "
            f"allowed fields: {', '.join(allowed)}"
        )
    return dataclasses.replace(config, **overrides) if overrides else config  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- spikes


def _draw_spike_events(
    config: SimulationConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Cell index and fine-grid bin of every spike (unsorted)."""
    n_cells, duration = config.num_cells, config.num_frames / config.fs
    n_fine = config.num_frames * config.oversample
    counts = rng.poisson(config.firing_rate_hz * duration, n_cells)
    cells = np.repeat(np.arange(n_cells), counts)
    fine_bins = rng.integers(0, n_fine, cells.size)
    if config.spike_model == "bursting":
        burst_cells, burst_bins = _draw_bursts(config, rng, duration)
        cells = np.concatenate([cells, burst_cells])
        fine_bins = np.concatenate([fine_bins, burst_bins])
    return cells.astype(np.int64), fine_bins.astype(np.int64)


def _draw_bursts(config: SimulationConfig, rng: np.random.Generator,
                 duration: float) -> tuple[np.ndarray, np.ndarray]:
    n_bursts = rng.poisson(config.burst_rate_hz * duration, config.num_cells)
    burst_cell = np.repeat(np.arange(config.num_cells), n_bursts)
    onsets = rng.uniform(0.0, duration, burst_cell.size)
    sizes = 1 + rng.poisson(config.burst_size_mean - 1.0, burst_cell.size)
    gaps = rng.exponential(config.burst_isi_s, int(sizes.sum()))
    first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    gaps[first] = 0.0  # the first spike of a burst sits at its onset
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[first], sizes)
    times = np.repeat(onsets, sizes) + elapsed
    keep = times < duration
    fine_bins = np.floor(times[keep] * config.fs * config.oversample).astype(np.int64)
    n_fine = config.num_frames * config.oversample
    return np.repeat(burst_cell, sizes)[keep], np.minimum(fine_bins, n_fine - 1)


def _lognormal_factors(rng: np.random.Generator, cv: float, size: int) -> np.ndarray:
    """Mean-one log-normal factors with coefficient of variation ``cv``."""
    if cv == 0:
        return np.ones(size)
    sigma2 = math.log1p(cv * cv)
    return rng.lognormal(-0.5 * sigma2, math.sqrt(sigma2), size)


# --------------------------------------------------------------------------- calcium


def continuous_peak(tau_rise: float, tau_decay: float) -> float:
    """Maximum over t >= 0 of ``exp(-t/tau_decay) - exp(-t/tau_rise)``."""
    t_peak = math.log(tau_decay / tau_rise) * tau_rise * tau_decay / (tau_decay - tau_rise)
    return math.exp(-t_peak / tau_decay) - math.exp(-t_peak / tau_rise)


def _frame_calcium(config: SimulationConfig, cells: np.ndarray, fine_bins: np.ndarray,
                   weights: np.ndarray, tau_rise: float, tau_decay: float) -> np.ndarray:
    """Frame averages of the fine-grid convolution of the spikes with the kernel."""
    n_cells, n_frames, m = config.num_cells, config.num_frames, config.oversample
    frames, offsets = np.divmod(fine_bins, m)
    order = np.argsort(cells, kind="stable")
    cells, frames, offsets, weights = cells[order], frames[order], offsets[order], weights[order]
    bounds = np.searchsorted(cells, np.arange(0, n_cells + _CELL_BLOCK, _CELL_BLOCK))
    calcium = np.empty((n_cells, n_frames))
    norm = 1.0 / continuous_peak(tau_rise, tau_decay)
    for block, start in enumerate(range(0, n_cells, _CELL_BLOCK)):
        stop = min(start + _CELL_BLOCK, n_cells)
        sel = slice(bounds[block], bounds[block + 1])
        events = (cells[sel] - start, frames[sel], offsets[sel], weights[sel] * norm)
        decay = _exponential_frame_average(events, stop - start, n_frames, m, tau_decay * config.fs)
        rise = _exponential_frame_average(events, stop - start, n_frames, m, tau_rise * config.fs)
        calcium[start:stop] = (decay - rise).T
    return calcium


def _exponential_frame_average(events: tuple[np.ndarray, ...], n_cells: int,
                               n_frames: int, m: int, tau_frames: float) -> np.ndarray:
    """Time-major ``(n_frames, n_cells)`` frame averages of ``sum_k w_k exp(-(t-t_k)/tau)``.

    On the fine grid (step ``1/m`` frame, decay ``q`` per step) a spike at
    offset ``o`` of frame ``n`` contributes ``(1-q**(m-o)) / (m*(1-q))`` to
    frame ``n`` and carries ``q**(m-o)`` into the state at the start of frame
    ``n+1``; the state decays by ``q**m`` per frame and adds
    ``(1-q**m) / (m*(1-q))`` times itself to each frame average.
    """
    cell, frame, offset, weight = events
    q = math.exp(-1.0 / (m * tau_frames))
    remaining = m - offset
    in_frame = weight * -np.expm1(remaining * math.log(q)) / (m * -math.expm1(math.log(q)))
    carried = weight * q**remaining
    index = frame * n_cells + cell
    size = n_frames * n_cells
    # bincount returns integers when there are no events at all: force float64
    direct = np.bincount(index, in_frame, size).astype(np.float64, copy=False)
    inflow = np.bincount(index, carried, size).astype(np.float64, copy=False)
    direct, inflow = direct.reshape(n_frames, n_cells), inflow.reshape(n_frames, n_cells)
    state = _first_order_recursion(inflow, q**m)
    state *= -math.expm1(m * math.log(q)) / (m * -math.expm1(math.log(q)))
    state += direct
    return state


def _first_order_recursion(inflow: np.ndarray, decay: float) -> np.ndarray:
    """``x[0] = 0``, ``x[t+1] = decay*x[t] + inflow[t]`` along axis 0 (in place)."""
    previous = np.zeros(inflow.shape[1])
    for t in range(inflow.shape[0]):
        current = inflow[t].copy()
        inflow[t] = previous
        previous *= decay
        previous += current
    return inflow


# --------------------------------------------------------------------------- observation


def _observe(config: SimulationConfig, rng: np.random.Generator, calcium: np.ndarray,
             noise_std: float) -> np.ndarray:
    """Raw traces from the noise-free dF/F: drift, bleaching, noise, offset and scale."""
    n_frames = calcium.shape[1]
    times = np.arange(n_frames) / config.fs
    signal = calcium.copy()
    if config.drift_amplitude > 0:
        signal += _drift(config, rng, times)
    if config.noise == "gaussian+poisson":
        photons = config.photons_per_frame * np.clip(1.0 + signal, 0.0, None)
        shot = rng.poisson(photons) - photons
        signal += shot / config.photons_per_frame
    if config.bleach_amplitude > 0:
        bleach = 1.0 - config.bleach_amplitude * -np.expm1(-times / config.bleach_tau_s)
        signal = bleach * (1.0 + signal) - 1.0
    if math.isfinite(config.snr):
        signal += rng.normal(0.0, noise_std, signal.shape)
    if config.scale != 1.0:
        signal *= config.scale
    if config.dc_offset != 0.0:
        signal += config.dc_offset
    return np.asarray(signal)


def _drift(config: SimulationConfig, rng: np.random.Generator, times: np.ndarray) -> np.ndarray:
    n_cells, tau = config.num_cells, config.drift_timescale_s
    if config.drift == "sinusoidal":
        phase = rng.uniform(0.0, 2.0 * math.pi, (n_cells, 1))
        return np.asarray(config.drift_amplitude * np.sin(2.0 * math.pi * times / tau + phase))
    step = tau / _DRIFT_KNOTS_PER_TIMESCALE
    n_knots = math.ceil(times[-1] / step) + 2
    rho = math.exp(-step / tau)
    innovations = rng.standard_normal((n_knots, n_cells)) * math.sqrt(1.0 - rho * rho)
    innovations[0] = rng.standard_normal(n_cells)
    knots = np.empty_like(innovations)
    knots[0] = innovations[0]
    for k in range(1, n_knots):
        knots[k] = rho * knots[k - 1] + innovations[k]
    position = times / step
    left = np.floor(position).astype(np.int64)
    frac = position - left
    drift = knots[left] * (1.0 - frac)[:, None] + knots[left + 1] * frac[:, None]
    return np.asarray(config.drift_amplitude * drift.T)
