"""The validated parameter set of one deconvolution: built once, trusted downstream.

Every entry point (the API, the lazy dask path, the zarr engine, the tuning
bridge, the job service, the CLI) builds one :class:`DeconvolutionOptions`
from what the user gave and passes it down; nothing below re-validates it.
It is also the one home of every default.

``tau_r``, ``tau_d`` and ``lam`` are either scalars (one value for every cell)
or 1-D arrays of one value per cell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from calab.core.checks import (
    choice,
    flag,
    integer_in_range,
    non_negative_number,
    positive_number,
    real_number,
    sampling_rate,
)
from calab.errors import InvalidParameterError, MissingFieldError, ParameterTypeError

__all__ = [
    "CONSTRAINTS", "CONV_MODES", "DEFAULT_CONSTRAINT", "DEFAULT_CONV_MODE", "DEFAULT_FILTER",
    "DEFAULT_MAX_ITERS", "DEFAULT_NAN_POLICY", "DEFAULT_TOL", "KERNEL_SPAN", "MAX_ITERS_LIMIT",
    "MAX_KERNEL_TAPS", "NAN_POLICIES", "DeconvolutionOptions", "check_kernel_span", "choice",
    "flag",
    "integer_in_range", "non_negative_number", "positive_number", "real_number",
    "time_constants",
]

DEFAULT_MAX_ITERS = 2000
DEFAULT_TOL = 1e-4
DEFAULT_CONV_MODE = "fft"
DEFAULT_CONSTRAINT = "nonneg"
DEFAULT_NAN_POLICY = "raise"
DEFAULT_FILTER = False
CONV_MODES = ("fft", "banded")
CONSTRAINTS = ("nonneg", "box01")
NAN_POLICIES = ("raise", "interpolate")
#: ln(1e6): the kernel is cut where exp(-t/tau_d) has fallen to 1e-6.
KERNEL_SPAN = 13.8155
#: Longest kernel accepted whatever the trace (taps; 8 bytes each, per cell and buffer).
MAX_KERNEL_TAPS = 2_000_000
#: Largest integer accepted for ``max_iters``.
MAX_ITERS_LIMIT = 10_000_000

ParamValue = float | np.ndarray


@dataclass(frozen=True, eq=False)
class DeconvolutionOptions:
    """Sampling rate, kernel, sparsity and solver settings of one deconvolution.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz, finite and > 0.
    tau_r, tau_d : float or numpy.ndarray
        Rise and decay time constants in seconds, ``0 < tau_r < tau_d``; a scalar
        or one value per cell.
    lam : float or numpy.ndarray
        Sparsity penalty (>= 0); a scalar or one value per cell.
    max_iters : int
        Maximum FISTA iterations per trace (default 2000).
    conv_mode : {"fft", "banded"}
        Truncated kernel of CaTune's FFT mode, or the untruncated AR(2) kernel.
    constraint : {"nonneg", "box01"}
        ``s >= 0`` or ``0 <= s <= 1``.
    tol : float
        Relative change of ``s`` below which a trace has converged (default 1e-4).
    filter_enabled : bool
        Band-pass filter the traces before the baseline is removed.
    nan_policy : {"raise", "interpolate"}
        What to do with NaN samples.

    Raises
    ------
    calab.errors.ParameterTypeError
        A value of the wrong type (``bool`` or a string where a number belongs).
    calab.errors.InvalidParameterError
        A value out of range, not finite, or too large to represent.

    Examples
    --------
    >>> opts = DeconvolutionOptions(fs=30.0, tau_r=0.1, tau_d=0.6, lam=0.5)
    >>> opts.max_iters, opts.kernel_length()
    (2000, 249)
    >>> DeconvolutionOptions(fs=30.0, tau_r=0.6, tau_d=0.1, lam=0.5)
    Traceback (most recent call last):
    ...
    calab.errors.InvalidParameterError: tau_r=0.6 must be smaller than tau_d=0.1
    """

    fs: float
    tau_r: ParamValue
    tau_d: ParamValue
    lam: ParamValue
    max_iters: int = DEFAULT_MAX_ITERS
    conv_mode: str = DEFAULT_CONV_MODE
    constraint: str = DEFAULT_CONSTRAINT
    tol: float = DEFAULT_TOL
    filter_enabled: bool = DEFAULT_FILTER
    nan_policy: str = DEFAULT_NAN_POLICY

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "fs", sampling_rate("fs", self.fs))
        set_(self, "tau_r", _per_cell_or_scalar("tau_r", self.tau_r, positive_number))
        set_(self, "tau_d", _per_cell_or_scalar("tau_d", self.tau_d, positive_number))
        set_(self, "lam", _per_cell_or_scalar("lam", self.lam, non_negative_number))
        _check_per_cell_lengths(self.tau_r, self.tau_d, self.lam)
        _check_rise_below_decay(self.tau_r, self.tau_d)
        set_(self, "max_iters", integer_in_range("max_iters", self.max_iters, 1, MAX_ITERS_LIMIT))
        set_(self, "conv_mode", choice("conv_mode", self.conv_mode, CONV_MODES))
        set_(self, "constraint", choice("constraint", self.constraint, CONSTRAINTS))
        set_(self, "tol", positive_number("tol", self.tol))
        set_(self, "filter_enabled", flag("filter_enabled", self.filter_enabled))
        set_(self, "nan_policy", choice("nan_policy", self.nan_policy, NAN_POLICIES))
        self.kernel_length()  # refuses an absurd kernel now, before any work
        _check_kernel_not_zero(self.tau_r, self.tau_d, self.fs)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], *, prefix: str = "", **solver_options: Any
    ) -> DeconvolutionOptions:
        """Build from a parameter dict with the export keys.

        ``params`` has ``fs``, ``tau_rise``, ``tau_decay``, ``lambda_`` and
        optionally ``filter_enabled`` (the dict ``calab.tune()`` and
        ``calab.load_export_params`` return); ``solver_options`` are the other
        fields (``max_iters``, ``conv_mode``, ...). ``prefix`` is prepended to
        argument names in messages (``"params."``).

        Examples
        --------
        >>> p = {"fs": 30.0, "tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.5}
        >>> DeconvolutionOptions.from_params(p, max_iters=50).to_params()["tau_decay"]
        0.6
        """
        if not isinstance(params, Mapping):
            raise ParameterTypeError(
                f"{prefix or 'params'} must be a dict with fs, tau_rise, tau_decay and "
                f"lambda_; got {type(params).__name__}", argument=prefix or "params")
        names = {"fs": "fs", "tau_rise": "tau_r", "tau_decay": "tau_d", "lambda_": "lam"}
        missing = [key for key in names if key not in params]
        if missing:
            raise MissingFieldError(
                f"{prefix}{missing[0]} is missing; a parameter set needs "
                "fs, tau_rise, tau_decay and lambda_",
                argument=f"{prefix}{missing[0]}",
            )
        values = {arg: params[key] for key, arg in names.items()}
        if "filter_enabled" in params and "filter_enabled" not in solver_options:
            solver_options["filter_enabled"] = params["filter_enabled"]
        return cls(**values, **solver_options)

    def to_params(self) -> dict[str, Any]:
        """The export-style dict of these options.

        Keys ``tau_rise``, ``tau_decay``, ``lambda_``, ``fs``, ``filter_enabled``;
        per-cell values are returned as lists.
        """
        return {
            "tau_rise": _plain(self.tau_r),
            "tau_decay": _plain(self.tau_d),
            "lambda_": _plain(self.lam),
            "fs": self.fs,
            "filter_enabled": self.filter_enabled,
        }

    def with_changes(self, **changes: Any) -> DeconvolutionOptions:
        """A copy with some fields replaced (and validated)."""
        return replace(self, **changes)

    def solver_settings(self) -> dict[str, Any]:
        """The fields other than the kernel, sampling rate and penalty, as keywords."""
        skip = {"fs", "tau_r", "tau_d", "lam"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    # ------------------------------------------------------------------ per cell
    @property
    def per_cell(self) -> bool:
        """True when any of ``tau_r``, ``tau_d``, ``lam`` has one value per cell."""
        return any(isinstance(v, np.ndarray) for v in (self.tau_r, self.tau_d, self.lam))

    @property
    def n_cells(self) -> int | None:
        """Number of cells the per-cell values describe (None for scalars)."""
        for value in (self.tau_r, self.tau_d, self.lam):
            if isinstance(value, np.ndarray):
                return int(value.size)
        return None

    def for_cells(self, cells: slice | np.ndarray) -> DeconvolutionOptions:
        """The options of a subset of cells (per-cell arrays indexed, scalars kept)."""
        if not self.per_cell:
            return self
        return replace(
            self,
            tau_r=_take(self.tau_r, cells),
            tau_d=_take(self.tau_d, cells),
            lam=_take(self.lam, cells),
        )

    def cell_groups(self) -> list[tuple[np.ndarray | slice, DeconvolutionOptions]]:
        """Split into groups of cells sharing scalar parameters.

        Returns ``[(cells, scalar_options), ...]``; one group ``(slice(None), self)``
        when the options are already scalar.
        """
        if not self.per_cell:
            return [(slice(None), self)]
        n = self.n_cells or 0
        table = np.stack([np.broadcast_to(np.asarray(v, float), (n,))
                          for v in (self.tau_r, self.tau_d, self.lam)], axis=1)
        unique, inverse = np.unique(table, axis=0, return_inverse=True)
        groups: list[tuple[np.ndarray | slice, DeconvolutionOptions]] = []
        for index, (tau_r, tau_d, lam) in enumerate(unique):
            cells = np.flatnonzero(inverse.ravel() == index)
            groups.append((cells, replace(self, tau_r=float(tau_r), tau_d=float(tau_d),
                                          lam=float(lam))))
        return groups

    # ------------------------------------------------------------------ the data
    def kernel_length(self) -> int:
        """Taps of the (longest) truncated kernel, ``ceil(13.8155*tau_d*fs)``, at least 2.

        Raises ``InvalidParameterError`` when it exceeds what memory allows.
        """
        longest = float(np.max(self.tau_d))
        check_kernel_span(longest, self.fs)
        span = KERNEL_SPAN * longest * self.fs
        return max(2, math.ceil(span))

    def check_recording(self, n_cells: int, n_timepoints: int, *, fs: float | None = None) -> None:
        """Refuse options that cannot fit a recording of this shape and sampling rate.

        Parameters
        ----------
        n_cells, n_timepoints : int
            Shape of the recording.
        fs : float, optional
            The sampling rate the recording itself records, if any.

        Raises
        ------
        calab.errors.InvalidParameterError
            Per-cell values of another length; a decay time constant longer
            than the recording; ``fs`` contradicting the recording's own rate.
        """
        if fs is not None and not math.isclose(fs, self.fs, rel_tol=1e-6):
            raise InvalidParameterError(
                f"fs={self.fs} Hz disagrees with the recording's own sampling rate "
                f"of {fs} Hz; pass fs={fs} or omit fs",
                argument="fs",
            )
        count = self.n_cells
        if count is not None and count != n_cells:
            raise InvalidParameterError(
                f"per-cell parameters have {count} values but the recording has "
                f"{n_cells} cells; give one value per cell or a scalar",
                argument="tau_d",
            )
        longest = float(np.max(self.tau_d)) * self.fs
        if longest > n_timepoints:
            raise InvalidParameterError(
                f"tau_d={_plain(np.max(self.tau_d))} s is {longest:,.0f} samples at "
                f"fs={self.fs} Hz, longer than the recording ({n_timepoints} samples); "
                "tau_d is in seconds: use the indicator's decay time constant",
                argument="tau_d",
            )


def time_constants(tau_r: Any, tau_d: Any, fs: Any) -> tuple[float, float, float]:
    """Validate one kernel's rise and decay time constants (s) and sampling rate (Hz).

    The checks of :class:`DeconvolutionOptions` for functions that take a
    kernel alone (``build_kernel``, ``bandpass_filter``, ...).

    Examples
    --------
    >>> time_constants(0.1, 0.6, 30)
    (0.1, 0.6, 30.0)
    >>> time_constants(0.1, 1e300, 30.0)
    Traceback (most recent call last):
    ...
    calab.errors.InvalidParameterError: tau_d=1e+300 s at fs=30.0 Hz gives a kernel of 4.14e+302 ...
    """
    rise, decay = positive_number("tau_r", tau_r), positive_number("tau_d", tau_d)
    rate = sampling_rate("fs", fs)
    _check_rise_below_decay(rise, decay)
    check_kernel_span(decay, rate)
    _check_kernel_not_zero(rise, decay, rate)
    return rise, decay, rate


def _per_cell_or_scalar(name: str, value: Any, check: Any) -> ParamValue:
    """A checked scalar, or a float64 array of one checked value per cell."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not isinstance(value, (list, tuple, np.ndarray)):
        return check(name, value)  # type: ignore[no-any-return]
    try:
        array = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=object)
    except ValueError:
        array = np.empty(0)
    if array.ndim != 1 or array.size == 0:
        raise InvalidParameterError(
            f"{name} must be a number or a 1-D sequence of one number per cell; "
            f"got {type(value).__name__} of shape {np.shape(array)}", argument=name)
    if array.dtype.kind in "iuf":  # numeric arrays: checked at once, first bad value named
        values = array.astype(np.float64)
        lowest_ok = values > 0 if check is positive_number else values >= 0
        bad = np.flatnonzero(~(np.isfinite(values) & lowest_ok))
        if bad.size:
            check(f"{name}[{bad[0]}]", array[bad[0]].item())
        return values
    return np.array([check(f"{name}[{i}]", v.item() if isinstance(v, np.generic) else v)
                     for i, v in enumerate(array)], dtype=np.float64)


def _check_per_cell_lengths(*values: ParamValue) -> None:
    sizes = {name: v.size for name, v in zip(("tau_r", "tau_d", "lam"), values, strict=True)
             if isinstance(v, np.ndarray)}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name} has {size}" for name, size in sizes.items())
        raise InvalidParameterError(
            f"per-cell parameters must have one value per cell each; {listed} values",
            argument=next(iter(sizes)))


def _check_rise_below_decay(tau_r: ParamValue, tau_d: ParamValue) -> None:
    rise, decay = np.asarray(tau_r, float), np.asarray(tau_d, float)
    shape = np.broadcast(rise, decay).shape
    bad = np.flatnonzero(np.broadcast_to(rise >= decay, shape))
    if bad.size:
        where = "" if rise.ndim == decay.ndim == 0 else f" (cell {bad[0]})"
        r = float(np.broadcast_to(rise, shape).flat[bad[0]])
        d = float(np.broadcast_to(decay, shape).flat[bad[0]])
        raise InvalidParameterError(
            f"tau_r={r} must be smaller than tau_d={d}{where}", argument="tau_r")


def check_kernel_span(tau_d: float, fs: float) -> None:
    """Refuse a decay time constant whose kernel would not fit in memory (validated floats)."""
    span = KERNEL_SPAN * tau_d * fs
    if not span <= MAX_KERNEL_TAPS:  # also catches inf
        raise InvalidParameterError(
            f"tau_d={tau_d} s at fs={fs} Hz gives a kernel of {span:,.3g} samples (at most "
            f"{MAX_KERNEL_TAPS:,} are allowed); tau_d is in seconds: use a decay time "
            "constant of the indicator (typically 0.05-3 s)",
            argument="tau_d",
        )


def _check_kernel_not_zero(tau_r: ParamValue, tau_d: ParamValue, fs: float) -> None:
    """The sampled kernel ``d**i - r**i`` is zero everywhere when ``d == r`` in floats."""
    with np.errstate(under="ignore"):
        d = np.exp(-1.0 / (fs * np.asarray(tau_d, dtype=np.float64)))
        r = np.exp(-1.0 / (fs * np.asarray(tau_r, dtype=np.float64)))
    shape = np.broadcast(d, r).shape
    bad = np.flatnonzero(np.broadcast_to(~(d > r), shape))
    if bad.size:
        rise = float(np.broadcast_to(tau_r, shape).flat[bad[0]])
        decay = float(np.broadcast_to(tau_d, shape).flat[bad[0]])
        raise InvalidParameterError(
            f"tau_r={rise} and tau_d={decay} are too short for fs={fs} Hz: the sampled "
            "kernel is zero; use time constants longer than one sample (1/fs)",
            argument="tau_d",
        )


def _take(value: ParamValue, cells: slice | np.ndarray) -> ParamValue:
    return value[cells] if isinstance(value, np.ndarray) else value


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist() if value.ndim else float(value)
    return float(value) if isinstance(value, (np.floating, np.integer)) else value
