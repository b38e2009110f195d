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
from dataclasses import dataclass, field, fields, replace
from numbers import Integral, Real
from typing import Any

import numpy as np

from calab.errors import InvalidParameterError, ParameterTypeError

DEFAULT_MAX_ITERS = 2000
DEFAULT_TOL = 1e-4
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
    conv_mode: str = "fft"
    constraint: str = "nonneg"
    tol: float = DEFAULT_TOL
    filter_enabled: bool = False
    nan_policy: str = "raise"
    _checked: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "fs", positive_number("fs", self.fs))
        set_(self, "tau_r", _per_cell_or_scalar("tau_r", self.tau_r, positive_number))
        set_(self, "tau_d", _per_cell_or_scalar("tau_d", self.tau_d, positive_number))
        set_(self, "lam", _per_cell_or_scalar("lam", self.lam, non_negative_number))
        _check_rise_below_decay(self.tau_r, self.tau_d)
        set_(self, "max_iters", integer_in_range("max_iters", self.max_iters, 1, MAX_ITERS_LIMIT))
        set_(self, "conv_mode", choice("conv_mode", self.conv_mode, CONV_MODES))
        set_(self, "constraint", choice("constraint", self.constraint, CONSTRAINTS))
        set_(self, "tol", positive_number("tol", self.tol))
        set_(self, "filter_enabled", flag("filter_enabled", self.filter_enabled))
        set_(self, "nan_policy", choice("nan_policy", self.nan_policy, NAN_POLICIES))
        set_(self, "_checked", True)
        self.kernel_length()  # refuses an absurd kernel now, before any work

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
        names = {"fs": "fs", "tau_rise": "tau_r", "tau_decay": "tau_d", "lambda_": "lam"}
        missing = [key for key in names if key not in params]
        if missing:
            raise InvalidParameterError(
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
        skip = {"fs", "tau_r", "tau_d", "lam", "_checked"}
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
        groups = []
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
        span = KERNEL_SPAN * float(np.max(self.tau_d)) * self.fs
        if not span <= MAX_KERNEL_TAPS:  # also catches inf
            raise InvalidParameterError(
                f"tau_d={_plain(np.max(self.tau_d))} s at fs={self.fs} Hz gives a kernel of "
                f"{span:,.3g} samples (at most {MAX_KERNEL_TAPS:,} are allowed); tau_d is in "
                "seconds: use a decay time constant of the indicator (typically 0.05-3 s)",
                argument="tau_d",
            )
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


# ---------------------------------------------------------------------- checks
def real_number(name: str, value: Any) -> float:
    """``value`` as a float; ``bool``, strings and non-representable numbers are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.number)):
        raise ParameterTypeError(
            f"{name}={_short(value)} must be a real number", argument=name
        )
    if isinstance(value, np.complexfloating):
        raise ParameterTypeError(f"{name}={_short(value)} must be a real number", argument=name)
    try:
        number = float(value)
    except OverflowError:
        raise InvalidParameterError(
            f"{name}={_short(value)} is too large to represent as a float", argument=name
        ) from None
    if not math.isfinite(number):
        raise InvalidParameterError(f"{name}={_short(value)} must be finite", argument=name)
    return number


def positive_number(name: str, value: Any) -> float:
    """A finite float > 0."""
    number = real_number(name, value)
    if number <= 0:
        raise InvalidParameterError(f"{name}={_short(value)} must be a finite number > 0",
                                    argument=name)
    return number


def non_negative_number(name: str, value: Any) -> float:
    """A finite float >= 0."""
    number = real_number(name, value)
    if number < 0:
        raise InvalidParameterError(f"{name}={_short(value)} must be a finite number >= 0",
                                    argument=name)
    return number


def integer_in_range(name: str, value: Any, low: int, high: int) -> int:
    """An integer (not ``bool``) with ``low <= value <= high``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Integral, np.integer)):
        raise ParameterTypeError(
            f"{name}={_short(value)} must be an integer between {low} and {high:,}",
            argument=name,
        )
    if not low <= value <= high:
        raise InvalidParameterError(
            f"{name}={_short(value)} must be an integer between {low} and {high:,}",
            argument=name,
        )
    return int(value)


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """One of the ``allowed`` strings."""
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise InvalidParameterError(
            f"{name}={_short(value)} is not supported; use one of {options}", argument=name
        )
    return value


def flag(name: str, value: Any) -> bool:
    """A real boolean (``True``/``False``, NumPy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterTypeError(f"{name}={_short(value)} must be True or False", argument=name)
    return bool(value)


def _per_cell_or_scalar(name: str, value: Any, check: Any) -> ParamValue:
    if isinstance(value, (list, tuple, np.ndarray)):
        items = np.asarray(value, dtype=object).ravel() if not isinstance(
            value, np.ndarray) or value.dtype == object else value.ravel()
        if np.ndim(value) != 1 or len(items) == 0:
            raise InvalidParameterError(
                f"{name} must be a number or a 1-D sequence of one number per cell; "
                f"got shape {np.shape(value)}", argument=name)
        return np.array([check(f"{name}[{i}]", v.item() if isinstance(v, np.generic) else v)
                         for i, v in enumerate(items)], dtype=np.float64)
    return check(name, value)


def _check_rise_below_decay(tau_r: ParamValue, tau_d: ParamValue) -> None:
    rise, decay = np.asarray(tau_r, float), np.asarray(tau_d, float)
    if rise.size > 1 and decay.size > 1 and rise.size != decay.size:
        raise InvalidParameterError(
            f"tau_r has {rise.size} values and tau_d {decay.size}; give one per cell",
            argument="tau_r")
    bad = np.flatnonzero(np.broadcast_to(rise >= decay, np.broadcast(rise, decay).shape))
    if bad.size:
        where = "" if rise.ndim == decay.ndim == 0 else f" (cell {bad[0]})"
        r = float(np.broadcast_to(rise, np.broadcast(rise, decay).shape).flat[bad[0]])
        d = float(np.broadcast_to(decay, np.broadcast(rise, decay).shape).flat[bad[0]])
        raise InvalidParameterError(
            f"tau_r={r} must be smaller than tau_d={d}{where}", argument="tau_r")


def _take(value: ParamValue, cells: slice | np.ndarray) -> ParamValue:
    return value[cells] if isinstance(value, np.ndarray) else value


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist() if value.ndim else float(value)
    return float(value) if isinstance(value, (np.floating, np.integer)) else value


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` of a value, cut for huge integers and strings."""
    try:
        text = repr(value)
    except ValueError:  # ints beyond Python's str-conversion digit limit
        text = f"<integer with more than {limit} digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
