"""The double-exponential calcium kernel and its AR(2) form.

The kernel sampled at ``fs`` is ``h[i] = d**i - r**i`` with
``d = exp(-1/(fs*tau_d))`` and ``r = exp(-1/(fs*tau_r))``, scaled so that its
sampled maximum is 1 and truncated to ``ceil(13.8155*tau_d*fs)`` samples (the
decay has fallen to 1e-6 there). ``G = sum(h)`` scales the sparsity penalty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from calab.core.options import KERNEL_SPAN, time_constants

__all__ = ["KERNEL_SPAN", "KernelSpec", "build_kernel", "compute_lipschitz", "kernel_length",
           "kernel_spec", "tau_to_ar2"]


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
