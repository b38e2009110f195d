"""The convolution operator of each mode, as the solver applies it, in O(T).

Both modes start from the untruncated kernel, the AR(2) recursion
``c[t] = g1*c[t-1] + g2*c[t-2] + w*s[t-1]``. ``"banded"`` uses it as is;
``"fft"`` (CaTune's operator) cuts the kernel at ``KernelSpec.length`` taps,
which is the recursion minus two lagged taps of itself
(:mod:`calab.core.fista_sweeps` derives it).
"""

from __future__ import annotations

import numpy as np

from calab.core import _solver
from calab.core.fista_threads import get_num_threads, native_gate
from calab.core.kernel import KernelSpec


def operator_coefficients(spec: KernelSpec, conv_mode: str, n_time: int) -> np.ndarray:
    """``(g1, g2, w, alpha, beta, taps)``; ``taps = 0`` for the untruncated kernel."""
    d, r = spec.decay_root, spec.rise_root
    g1, g2 = spec.ar2_coefficients
    recursion = [g1, g2, (d - r) / spec.peak]
    taps = spec.length
    if conv_mode == "banded" or taps >= n_time:  # untruncated, or the cut never bites
        return np.array([*recursion, 0.0, 0.0, 0.0])
    alpha = (d**taps - r**taps) / (d - r)
    beta = (r * d**taps - d * r**taps) / (d - r)
    return np.array([*recursion, alpha, beta, float(taps)])


def convolve(activity: np.ndarray, spec: KernelSpec, conv_mode: str = "fft") -> np.ndarray:
    """Causal convolution of activity rows with the kernel (first T samples), in O(T).

    ``"fft"`` uses the truncated kernel, ``"banded"`` the untruncated AR(2) one,
    exactly as the solver applies them.
    """
    if activity.size == 0:
        return np.zeros(activity.shape)
    g1, g2, w, alpha, beta, taps = operator_coefficients(spec, conv_mode, activity.shape[-1])
    rows = np.ascontiguousarray(activity, dtype=np.float64).reshape(-1, activity.shape[-1])
    recursion = np.empty_like(rows)
    with native_gate.call():  # compiled: no scipy.signal import (about 1 s in a new process)
        _solver.ar2_recursion(rows, float(g1), float(g2), float(w), recursion,
                              get_num_threads())
    full: np.ndarray = recursion.reshape(activity.shape)
    fit = full.copy()
    if taps:
        lag = int(taps)
        fit[..., lag - 1 :] -= alpha * full[..., : full.shape[-1] - lag + 1]
        fit[..., lag:] += beta * full[..., : full.shape[-1] - lag]
    return np.asarray(fit)
