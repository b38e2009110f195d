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
from numbers import Integral, Real
from typing import Any

import numpy as np

INDICATOR_PRESETS: dict[str, tuple[float, float, float]] = {
    "gcamp6f": (0.05, 0.40, 0.20),
    "gcamp6m": (0.08, 0.70, 0.15),
    "gcamp6s": (0.18, 1.50, 0.25),
    "jgcamp8f": (0.01, 0.15, 0.30),
    "ogb1": (0.01, 0.70, 0.08),
}
"""Indicator name -> ``(tau_rise_s, tau_decay_s, peak dF/F per spike)``.

Effective double-exponential parameters for one action potential in mouse
cortical pyramidal neurons, rounded from published single-AP
characterisations (they vary with expression level, temperature, cell type
and imaging method; override them with ``tau_rise_s``, ``tau_decay_s`` and
``peak_dff`` when you know your preparation):

- GCaMP6f/6m/6s: Chen T.-W. et al. (2013) "Ultrasensitive fluorescent
  proteins for imaging neuronal activity", Nature 499:295-300 (1-AP rise
  and half-decay times and dF/F in layer 2/3 of mouse V1, 6s slowest and
  largest, 6f fastest); see also Huang L. et al. (2021) eLife 10:e51675 for
  double-exponential fits in GCaMP6 transgenic lines.
- jGCaMP8f: Zhang Y. et al. (2023) "Fast and sensitive GCaMP calcium
  indicators for imaging neural populations", Nature 615:884-891 (half-rise
  of a few ms, decay an order of magnitude faster than GCaMP6s).
- OGB-1 (Oregon Green BAPTA-1 AM): Kerr J.N.D. et al. (2005) PNAS
  102:14063-14068 and Grewe B.F. et al. (2010) Nature Methods 7:399-405
  (near-instant rise, ~0.5-1 s decay, several % dF/F per AP).
"""

SPIKE_MODELS = ("poisson", "bursting")
NOISE_MODELS = ("gaussian", "gaussian+poisson")
DRIFT_MODELS = ("random_walk", "sinusoidal")
_CELL_BLOCK = 512  # cells per block of the frame recursion (bounds temporary memory)
_DRIFT_KNOTS_PER_TIMESCALE = 8


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of :func:`simulate` (validated on construction).

    Attributes
    ----------
    num_cells : int
        Number of cells (rows), >= 1.
    duration_s, fs : float
        Recording length in seconds and frame rate in Hz (at least one frame).
    indicator : str
        A key of :data:`INDICATOR_PRESETS`.
    tau_rise_s, tau_decay_s, peak_dff : float or None
        Override the preset's rise/decay time constants (s) and peak dF/F per spike.
    spike_model : {"poisson", "bursting"}
        ``"poisson"``: homogeneous Poisson spikes at ``firing_rate_hz``.
        ``"bursting"``: the same isolated spikes plus bursts starting at
        ``burst_rate_hz``, each of ``1 + Poisson(burst_size_mean - 1)`` spikes
        with exponential intervals of mean ``burst_isi_s``.
    firing_rate_hz, burst_rate_hz : float
        Rates (>= 0) of isolated spikes and of burst onsets, Hz.
    burst_size_mean : float
        Mean spikes per burst, >= 1.
    burst_isi_s : float
        Mean interval between spikes inside a burst, > 0 s.
    oversample : int
        Fine-grid steps per frame (1 to 1000).
    snr : float
        Nominal peak dF/F of one spike over the Gaussian noise std (> 0; ``inf``
        for no Gaussian noise).
    noise : {"gaussian", "gaussian+poisson"}
        Add Poisson shot noise of ``photons_per_frame`` photons at baseline.
    photons_per_frame : float
        Mean photon count per frame at baseline (shot noise std 1/sqrt of it, dF/F).
    drift : {"random_walk", "sinusoidal"}
        Shape of the slow baseline drift: a mean-reverting (Ornstein-Uhlenbeck)
        random walk with correlation time ``drift_timescale_s``, or a sine of
        that period with a random phase per cell.
    drift_amplitude : float
        Standard deviation (random walk) or amplitude (sine) of the drift, dF/F, >= 0.
    drift_timescale_s : float
        Correlation time or period of the drift, > 0 s.
    bleach_amplitude : float
        Fraction of fluorescence lost to photobleaching as t -> inf, in [0, 1).
    bleach_tau_s : float
        Photobleaching time constant, > 0 s.
    dc_offset, scale : float
        Raw-fluorescence form ``F = dc_offset + scale * dF/F`` (scale > 0).
    amplitude_jitter : float
        Coefficient of variation of a log-normal per-cell amplitude factor, >= 0.
    spike_amplitude_jitter : float
        Coefficient of variation of a log-normal per-spike amplitude factor, >= 0.
    seed : int or None
        Seed of the random generator; ``None`` draws fresh entropy.
    """

    num_cells: int = 10
    duration_s: float = 60.0
    fs: float = 30.0
    indicator: str = "gcamp6f"
    tau_rise_s: float | None = None
    tau_decay_s: float | None = None
    peak_dff: float | None = None
    spike_model: str = "poisson"
    firing_rate_hz: float = 0.5
    burst_rate_hz: float = 0.05
    burst_size_mean: float = 4.0
    burst_isi_s: float = 0.02
    oversample: int = 10
    snr: float = 5.0
    noise: str = "gaussian"
    photons_per_frame: float = 1000.0
    drift: str = "random_walk"
    drift_amplitude: float = 0.0
    drift_timescale_s: float = 30.0
    bleach_amplitude: float = 0.0
    bleach_tau_s: float = 120.0
    dc_offset: float = 0.0
    scale: float = 1.0
    amplitude_jitter: float = 0.1
    spike_amplitude_jitter: float = 0.0
    seed: int | None = 0

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def kinetics(self) -> tuple[float, float, float]:
        """``(tau_rise_s, tau_decay_s, peak_dff)`` after applying the overrides."""
        preset = INDICATOR_PRESETS[self.indicator]
        values = (self.tau_rise_s, self.tau_decay_s, self.peak_dff)
        return tuple(p if v is None else float(v) for v, p in zip(values, preset, strict=True))

    @property
    def num_frames(self) -> int:
        """Frames in the recording: ``round(duration_s * fs)``."""
        return round(self.duration_s * self.fs)

    @property
    def mean_rate_hz(self) -> float:
        """Expected spikes per second per cell under the chosen spike model."""
        bursts = self.burst_rate_hz * self.burst_size_mean if self.spike_model == "bursting" else 0
        return self.firing_rate_hz + bursts


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
    return dataclasses.replace(config, **overrides) if overrides else config


# --------------------------------------------------------------------------- spikes


def _draw_spike_events(config: SimulationConfig, rng: np.random.Generator):
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


def _draw_bursts(config: SimulationConfig, rng: np.random.Generator, duration: float):
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


def _frame_calcium(config, cells, fine_bins, weights, tau_rise, tau_decay) -> np.ndarray:
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


def _exponential_frame_average(events, n_cells: int, n_frames: int, m: int, tau_frames: float):
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


def _observe(config: SimulationConfig, rng, calcium: np.ndarray, noise_std: float):
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
    return signal


def _drift(config: SimulationConfig, rng, times: np.ndarray) -> np.ndarray:
    n_cells, tau = config.num_cells, config.drift_timescale_s
    if config.drift == "sinusoidal":
        phase = rng.uniform(0.0, 2.0 * math.pi, (n_cells, 1))
        return config.drift_amplitude * np.sin(2.0 * math.pi * times / tau + phase)
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
    return config.drift_amplitude * drift.T


# --------------------------------------------------------------------------- validation


def _validate(config: SimulationConfig) -> None:
    _check_int(config, "num_cells", 1, None)
    _check_int(config, "oversample", 1, 1000)
    for name in ("duration_s", "fs", "burst_isi_s", "drift_timescale_s", "bleach_tau_s",
                 "photons_per_frame", "scale"):
        _check_real(config, name, low=0.0, low_open=True)
    for name in ("firing_rate_hz", "burst_rate_hz", "drift_amplitude", "amplitude_jitter",
                 "spike_amplitude_jitter"):
        _check_real(config, name, low=0.0)
    _check_real(config, "burst_size_mean", low=1.0)
    _check_real(config, "bleach_amplitude", low=0.0, high=1.0)
    _check_real(config, "dc_offset")
    _check_real(config, "snr", low=0.0, low_open=True, allow_inf=True)
    _check_choice(config, "indicator", tuple(INDICATOR_PRESETS))
    _check_choice(config, "spike_model", SPIKE_MODELS)
    _check_choice(config, "noise", NOISE_MODELS)
    _check_choice(config, "drift", DRIFT_MODELS)
    for name in ("tau_rise_s", "tau_decay_s", "peak_dff"):
        if getattr(config, name) is not None:
            _check_real(config, name, low=0.0, low_open=True)
    tau_rise, tau_decay, _ = config.kinetics
    if tau_rise >= tau_decay:
        raise ValueError(
            f"tau_rise_s={tau_rise} must be smaller than tau_decay_s={tau_decay} "
            f"(indicator={config.indicator!r})"
        )
    if config.num_frames < 1:
        raise ValueError(
            f"duration_s={config.duration_s} at fs={config.fs} gives no frame; "
            "need duration_s * fs >= 0.5"
        )
    if config.seed is not None:
        _check_int(config, "seed", 0, None)


def _check_int(config, name: str, low: int, high: int | None) -> None:
    value = getattr(config, name)
    allowed = f"an integer >= {low}" + ("" if high is None else f" and <= {high}")
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name}={value!r} must be {allowed}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}={value!r} must be {allowed}")


def _check_real(config, name: str, low=None, high=None, low_open=False, allow_inf=False):
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}={value!r} must be a real number")
    ok = math.isfinite(value) or (allow_inf and value == math.inf)
    if low is not None:
        ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and value < high
    if not ok:
        bounds = [f"{'>' if low_open else '>='} {low}" if low is not None else "",
                  f"< {high}" if high is not None else ""]
        allowed = " and ".join(b for b in bounds if b)
        extra = " (inf allowed)" if allow_inf else ""
        raise ValueError(f"{name}={value!r} must be a finite number {allowed}{extra}".strip())


def _check_choice(config, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(config, name)
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name}={value!r} is not supported; use one of {choices}")
