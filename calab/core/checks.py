"""Checks of single parameter values, shared by every layer that reads user input.

Each check returns the value in its canonical Python type or raises an error
of the :mod:`calab.errors` family naming the argument, the value received and
what is allowed. ``bool`` is not a number; numbers must be finite and
representable as a float.

Examples
--------
>>> positive_number("fs", 30)
30.0
>>> positive_number("fs", True)
Traceback (most recent call last):
...
calab.errors.ParameterTypeError: fs=True must be a real number (a finite number > 0)
>>> positive_number("fs", 10**400)
Traceback (most recent call last):
...
calab.errors.InvalidParameterError: fs=10000... is too large to represent as a float; ...
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

from calab.errors import InvalidParameterError, ParameterTypeError


def real_number(name: str, value: Any, allowed: str = "a finite number") -> float:
    """``value`` as a float; ``bool``, strings and non-representable numbers are refused.

    ``allowed`` describes the accepted values in messages.
    """
    if (isinstance(value, (bool, np.bool_, np.complexfloating))
            or not isinstance(value, (Real, np.number))):
        raise ParameterTypeError(
            f"{name}={short_repr(value)} must be a real number ({allowed})", argument=name
        )
    try:
        number = float(value)
    except OverflowError:
        raise InvalidParameterError(
            f"{name}={short_repr(value)} is too large to represent as a float; it must be "
            f"{allowed}", argument=name,
        ) from None
    if not math.isfinite(number):
        raise InvalidParameterError(f"{name}={short_repr(value)} must be {allowed}",
                                    argument=name)
    return number


def positive_number(name: str, value: Any) -> float:
    """A finite float > 0."""
    number = real_number(name, value, "a finite number > 0")
    if number <= 0:
        raise InvalidParameterError(f"{name}={short_repr(value)} must be a finite number > 0",
                                    argument=name)
    return number


def non_negative_number(name: str, value: Any) -> float:
    """A finite float >= 0."""
    number = real_number(name, value, "a finite number >= 0")
    if number < 0:
        raise InvalidParameterError(f"{name}={short_repr(value)} must be a finite number >= 0",
                                    argument=name)
    return number


#: Plausible sampling rates of a calcium recording (Hz): 0.1 Hz (one frame in
#: 10 s) to 100 kHz. Anything outside is a unit mistake (ms for s, kHz for Hz).
MIN_SAMPLING_RATE = 0.1
MAX_SAMPLING_RATE = 100_000.0


def sampling_rate(name: str, value: Any) -> float:
    """A sampling rate in Hz within ``MIN_SAMPLING_RATE..MAX_SAMPLING_RATE``.

    Examples
    --------
    >>> sampling_rate("fs", 30)
    30.0
    >>> sampling_rate("fs", 1e9)
    Traceback (most recent call last):
    ...
    calab.errors.InvalidParameterError: fs=1000000000.0 Hz is not a plausible sampling rate; ...
    """
    allowed = (f"a sampling rate in Hz between {MIN_SAMPLING_RATE:g} and "
               f"{MAX_SAMPLING_RATE:,.0f}")
    number = real_number(name, value, allowed)
    if not MIN_SAMPLING_RATE <= number <= MAX_SAMPLING_RATE:
        raise InvalidParameterError(
            f"{name}={short_repr(value)} Hz is not a plausible sampling rate; it must be "
            f"{allowed}", argument=name)
    return number


def integer_in_range(name: str, value: Any, low: int, high: int) -> int:
    """An integer (not ``bool``) with ``low <= value <= high``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Integral, np.integer)):
        raise ParameterTypeError(
            f"{name}={short_repr(value)} must be an integer >= {low} (at most {high:,})",
            argument=name,
        )
    if not low <= int(value) <= high:
        raise InvalidParameterError(
            f"{name}={short_repr(value)} must be an integer >= {low} (at most {high:,})",
            argument=name,
        )
    return int(value)


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """One of the ``allowed`` strings."""
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise InvalidParameterError(
            f"{name}={short_repr(value)} is not supported; use one of {options}", argument=name
        )
    return value


def flag(name: str, value: Any) -> bool:
    """A real boolean (``True``/``False``, NumPy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterTypeError(
            f"{name}={short_repr(value)} must be true or false (a bool)", argument=name
        )
    return bool(value)



def short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` of a value, cut for huge integers and strings."""
    try:
        text = repr(value)
    except ValueError:  # ints beyond Python's str-conversion digit limit
        text = f"<integer with more than {limit} digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
