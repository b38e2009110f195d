"""The double-exponential calcium kernel and its AR(2) form.

The kernel sampled at ``fs`` is ``h[i] = d**i - r**i`` with
``d = exp(-1/(fs*tau_d))`` and ``r = exp(-1/(fs*tau_r))``, scaled so that its
sampled maximum is 1 and truncated to ``ceil(13.8155*tau_d*fs)`` samples (the
decay has fallen to 1e-6 there). ``G = sum(h)`` scales the sparsity penalty.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from calab.core.options import KERNEL_SPAN, time_constants
from calab.errors import InvalidParameterError

__all__ = ["KERNEL_SPAN", "KernelSpec", "build_kernel", "compute_lipschitz", "kernel_length",
           "kernel_peak_fwhm", "kernel_spec", "tau_from_peak_fwhm", "tau_to_ar2"]


@dataclass(frozen=True)
class KernelSpec:
    """Everything the solver needs to know about one kernel.

    Attributes
    ----------
    decay_root, rise_root : float
        ``d`` and ``r``, the per-sample decay factors of the two exponentials.
    peak : float
        Sampled maximum of ``d**i - r**i`` (the normalisation).
    length : int
        Number of taps of the truncated kernel.
    gain : float
        ``G``, the sum of the truncated, peak-normalised kernel.
    ar2_gain : float
        DC gain of the untruncated kernel (the AR(2) recursion's exact gain).
    """

    decay_root: float
    rise_root: float
    peak: float
    length: int
    gain: float
    ar2_gain: float

    @property
    def ar2_coefficients(self) -> tuple[float, float]:
        """``(g1, g2)`` of ``c[t] = g1*c[t-1] + g2*c[t-2] + ...``."""
        d, r = self.decay_root, self.rise_root
        return d + r, -d * r


def kernel_length(tau_d: float, fs: float) -> int:
    """Number of taps of the truncated kernel: ``ceil(13.8155*tau_d*fs)``, at least 2."""
    return max(2, math.ceil(KERNEL_SPAN * tau_d * fs))


def kernel_spec(tau_r: float, tau_d: float, fs: float) -> KernelSpec:
    """Describe the kernel of validated time constants (seconds) and sampling rate (Hz).

    The values are trusted: they come from a
    :class:`calab.core.options.DeconvolutionOptions` or from
    :func:`calab.core.options.time_constants`.
    """
    d = math.exp(-1.0 / (fs * tau_d))
    r = math.exp(-1.0 / (fs * tau_r))
    length = kernel_length(tau_d, fs)
    raw = _raw_kernel(d, r, length)
    peak = float(raw.max())
    gain = float(raw.sum() / peak)
    ar2_gain = (d - r) / ((1.0 - d) * (1.0 - r)) / peak
    return KernelSpec(d, r, peak, length, gain, ar2_gain)


def build_kernel(tau_rise: float, tau_decay: float, fs: float) -> np.ndarray:
    """Build the peak-normalised double-exponential calcium kernel.

    Parameters
    ----------
    tau_rise, tau_decay : float
        Rise and decay time constants in seconds, ``0 < tau_rise < tau_decay``.
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    numpy.ndarray
        Float64 kernel of length ``ceil(13.8155*tau_decay*fs)`` (at least 2),
        ``h[0] == 0`` and ``max(h) == 1``.

    Examples
    --------
    >>> h = build_kernel(0.1, 0.6, 30.0)
    >>> len(h), float(h.max())
    (249, 1.0)
    """
    spec = kernel_spec(*time_constants(tau_rise, tau_decay, fs))
    return _raw_kernel(spec.decay_root, spec.rise_root, spec.length) / spec.peak


def tau_to_ar2(tau_rise: float, tau_decay: float, fs: float) -> tuple[float, float, float, float]:
    """AR(2) coefficients of the kernel.

    Returns
    -------
    tuple of float
        ``(g1, g2, d, r)`` with ``g1 = d + r``, ``g2 = -d*r``,
        ``d = exp(-1/(fs*tau_decay))`` and ``r = exp(-1/(fs*tau_rise))``.

    Examples
    --------
    >>> g1, g2, d, r = tau_to_ar2(0.1, 0.6, 30.0)
    >>> round(g1, 4), round(g2, 4)
    (1.6625, -0.6778)
    """
    tau_r, tau_d, fs = time_constants(tau_rise, tau_decay, fs)
    d = math.exp(-1.0 / (fs * tau_d))
    r = math.exp(-1.0 / (fs * tau_r))
    return d + r, -d * r, d, r


def compute_lipschitz(kernel: np.ndarray) -> float:
    """Lipschitz constant of the gradient of ``0.5*||y - kernel*s||**2``.

    This is the largest squared magnitude of the kernel's frequency response,
    which for a non-negative kernel equals ``sum(kernel)**2``.

    Examples
    --------
    >>> compute_lipschitz(np.array([0.0, 1.0, 0.5]))
    2.25
    """
    h = np.asarray(kernel, dtype=np.float64).ravel()
    if h.size == 0 or not np.all(np.isfinite(h)):
        raise ValueError("kernel must be a non-empty array of finite numbers")
    n_fft = 1 << max(10, math.ceil(math.log2(8 * h.size)))
    response = np.abs(np.fft.rfft(h, n_fft)).max()
    return float(max(response, abs(h.sum())) ** 2)


def _raw_kernel(d: float, r: float, length: int) -> np.ndarray:
    i = np.arange(length, dtype=np.float64)
    return d**i - r**i


# --- peak time and FWHM of the continuous kernel exp(-t/tau_d) - exp(-t/tau_r) ----------
#: FWHM / peak-time ratio of the limit tau_r -> tau_d (the alpha function t*exp(-t/tau)).
MIN_FWHM_PEAK_RATIO = 2.4464
_BISECTIONS = 100


def kernel_peak_fwhm(tau_rise: float, tau_decay: float) -> tuple[float, float]:
    """Peak time and full width at half maximum of the continuous kernel.

    The kernel is ``h(t) = exp(-t/tau_decay) - exp(-t/tau_rise)``. Its peak is
    at ``t_peak = ln(tau_decay/tau_rise) * tau_decay*tau_rise/(tau_decay - tau_rise)``;
    the two half-maximum crossings are found by bisection on either side.

    Parameters
    ----------
    tau_rise, tau_decay : float
        Time constants in seconds, ``0 < tau_rise < tau_decay``.

    Returns
    -------
    tuple of float
        ``(t_peak, fwhm)`` in seconds.

    Examples
    --------
    >>> t_peak, fwhm = kernel_peak_fwhm(0.1, 0.6)
    >>> round(t_peak, 6), round(fwhm, 6)
    (0.215011, 0.693801)
    """
    tau_r, tau_d, _ = time_constants(tau_rise, tau_decay, 1.0)
    return _peak_fwhm(tau_r, tau_d)


def tau_from_peak_fwhm(t_peak: float, fwhm: float) -> tuple[float, float]:
    """Rise and decay time constants of the kernel with a given peak time and FWHM.

    The inverse of :func:`kernel_peak_fwhm`. The shape depends only on the
    ratio ``k = tau_decay/tau_rise``, and ``fwhm/t_peak`` grows with ``k``, so
    ``k`` is found by bisection on ``log k`` and the time scale follows.

    Parameters
    ----------
    t_peak, fwhm : float
        Peak time and full width at half maximum, in seconds;
        ``fwhm/t_peak`` must exceed 2.4464 (the limit ``tau_rise -> tau_decay``).

    Returns
    -------
    tuple of float
        ``(tau_rise, tau_decay)`` in seconds.

    Raises
    ------
    calab.errors.InvalidParameterError
        (a ``ValueError``) Non-positive or non-finite values, or a FWHM too
        narrow or too wide for the peak time.

    Examples
    --------
    >>> tau_r, tau_d = tau_from_peak_fwhm(0.215011, 0.693801)
    >>> round(tau_r, 4), round(tau_d, 4)
    (0.1, 0.6)
    """
    for name, value in (("t_peak", t_peak), ("fwhm", fwhm)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InvalidParameterError(
                f"{name}={value!r} must be a finite number of seconds > 0", argument=name
            )
    ratio = fwhm / t_peak
    lo, hi = math.log(1.0 + 1e-6), math.log(1e6)
    if not _shape_ratio(math.exp(lo)) < ratio < _shape_ratio(math.exp(hi)):
        raise InvalidParameterError(
            f"fwhm={fwhm!r} s must be between {MIN_FWHM_PEAK_RATIO} and "
            f"{_shape_ratio(math.exp(hi)):.0f} times t_peak={t_peak!r} s",
            argument="fwhm",
        )
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if _shape_ratio(math.exp(mid)) < ratio:
            lo = mid
        else:
            hi = mid
    k = math.exp(0.5 * (lo + hi))
    unit_peak, _ = _peak_fwhm(1.0, k)
    tau_rise = t_peak / unit_peak
    return tau_rise, k * tau_rise


def _shape_ratio(k: float) -> float:
    peak, width = _peak_fwhm(1.0, k)
    return width / peak


def _peak_fwhm(tau_r: float, tau_d: float) -> tuple[float, float]:
    def h(t: float) -> float:
        return math.exp(-t / tau_d) - math.exp(-t / tau_r)

    t_peak = math.log(tau_d / tau_r) * tau_d * tau_r / (tau_d - tau_r)
    half = 0.5 * h(t_peak)
    before = _bisect(h, half, 0.0, t_peak, rising=True)
    after = _bisect(h, half, t_peak, t_peak + 40.0 * tau_d, rising=False)
    return t_peak, after - before


def _bisect(h: Callable[[float], float], level: float, lo: float, hi: float, *,
            rising: bool) -> float:
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if (h(mid) < level) == rising:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
