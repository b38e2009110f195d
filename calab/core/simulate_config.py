"""What a simulated recording should look like: indicator kinetics, spikes, noise, drift.

:class:`SimulationConfig` holds and validates every knob of
:func:`calab.core.simulate.simulate`; ``INDICATOR_PRESETS`` the kinetics of
common indicators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

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
        rise, decay, peak = (p if v is None else float(v)
                             for v, p in zip(values, preset, strict=True))
        return rise, decay, peak

    @property
    def num_frames(self) -> int:
        """Frames in the recording: ``round(duration_s * fs)``."""
        return round(self.duration_s * self.fs)

    @property
    def mean_rate_hz(self) -> float:
        """Expected spikes per second per cell under the chosen spike model."""
        bursts = self.burst_rate_hz * self.burst_size_mean if self.spike_model == "bursting" else 0
        return self.firing_rate_hz + bursts


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


def _check_int(config: SimulationConfig, name: str, low: int, high: int | None) -> None:
    value = getattr(config, name)
    allowed = f"an integer >= {low}" + ("" if high is None else f" and <= {high}")
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name}={value!r} must be {allowed}")
    if int(value) < low or (high is not None and int(value) > high):
        raise ValueError(f"{name}={value!r} must be {allowed}")


def _check_real(config: SimulationConfig, name: str, low: float | None = None,
                high: float | None = None, low_open: bool = False, allow_inf: bool = False,
                ) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}={value!r} must be a real number")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"{name}={value:.3e} is too large to represent as a float") from None
    ok = math.isfinite(number) or (allow_inf and number == math.inf)
    if low is not None:
        ok = ok and (number > low if low_open else number >= low)
    if high is not None:
        ok = ok and number < high
    if not ok:
        bounds = [f"{'>' if low_open else '>='} {low}" if low is not None else "",
                  f"< {high}" if high is not None else ""]
        allowed = " and ".join(b for b in bounds if b)
        extra = " (inf allowed)" if allow_inf else ""
        raise ValueError(f"{name}={value!r} must be a finite number {allowed}{extra}".strip())


def _check_choice(config: SimulationConfig, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(config, name)
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name}={value!r} is not supported; use one of {choices}")
