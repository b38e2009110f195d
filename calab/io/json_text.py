"""One safe JSON reader for files and request bodies.

:func:`load_json_text` parses strict JSON and refuses, with a clear
``ValueError`` of the :mod:`calab.errors` family, what would otherwise crash
deep inside Python: nesting deeper than ``max_depth`` (``json`` recurses and
raises ``RecursionError``), integers of more digits than Python converts,
``NaN``/``Infinity`` literals, and lone UTF-16 surrogates that cannot be
written back as UTF-8. Both HTTP apps and every JSON file reader use it.

Examples
--------
>>> load_json_text('{"fs": 30.0, "cells": [1, 2]}')
{'fs': 30.0, 'cells': [1, 2]}
>>> load_json_text("[" * 100_000)
Traceback (most recent call last):
...
calab.errors.InvalidParameterError: JSON is nested more than 64 levels deep; ...
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from calab.errors import InvalidParameterError

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "load_json_text"]

#: Deepest nesting of arrays and objects accepted.
MAX_DEPTH = 64
#: Most digits of a JSON integer accepted (Python's own conversion limit is 4300).
MAX_INT_DIGITS = 4300

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def load_json_text(text: str | bytes, *, max_depth: int = MAX_DEPTH,
                   max_int_digits: int = MAX_INT_DIGITS, what: str = "JSON") -> Any:
    """Parse strict JSON text, refusing input that would crash or mislead the parser.

    Parameters
    ----------
    text : str or bytes
        The document (bytes are decoded as UTF-8).
    max_depth : int, optional
        Keyword-only. Deepest nesting of arrays/objects accepted (default 64).
    max_int_digits : int, optional
        Keyword-only. Most digits of an integer literal accepted (default 4300).
    what : str, optional
        Keyword-only. What the text is (a file name, "request body"), for messages.

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    calab.errors.InvalidParameterError
        (a ``ValueError``) Invalid UTF-8 or JSON (with line and column), nesting
        deeper than ``max_depth``, an integer of more than ``max_int_digits``
        digits, a float overflowing to infinity, ``NaN``/``Infinity``, or a lone
        surrogate escape.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidParameterError(
                f"{what} is not valid UTF-8 (byte {err.start})", argument=what
            ) from None
    _check_depth(text, max_depth, what)
    try:
        value = json.loads(text, parse_int=lambda digits: _integer(digits, max_int_digits, what),
                           parse_float=lambda literal: _float(literal, what),
                           parse_constant=lambda name: _constant(name, what))
    except json.JSONDecodeError as err:
        raise InvalidParameterError(
            f"{what} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno} "
            f"(char {err.pos})", argument=what,
        ) from None
    except RecursionError:  # defensive: the depth check should make this impossible
        raise InvalidParameterError(f"{what} is nested too deeply", argument=what) from None
    _check_encodable(value, what)
    return value


def _check_depth(text: str, max_depth: int, what: str) -> None:
    """Deepest nesting of ``[``/``{`` outside strings, without recursion."""
    if "[" not in text and "{" not in text:
        return
    steps = (1 if m.group() in "[{" else -1 for m in _BRACKETS.finditer(_STRING.sub('""', text)))
    if any(depth > max_depth for depth in accumulate(steps)):  # stops at the first too deep
        raise InvalidParameterError(
            f"{what} is nested more than {max_depth} levels deep; a parameter document "
            "needs a few levels", argument=what,
        )


def _integer(digits: str, limit: int, what: str) -> int:
    if len(digits.lstrip("-")) > limit:
        raise InvalidParameterError(
            f"{what} holds an integer of {len(digits.lstrip('-')):,} digits (at most "
            f"{limit} are accepted)", argument=what,
        )
    return int(digits)


def _float(literal: str, what: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise InvalidParameterError(
            f"{what} holds the number {literal[:40]}, too large to represent as a float",
            argument=what,
        )
    return value


def _constant(name: str, what: str) -> float:
    raise InvalidParameterError(
        f"{what} holds {name}, which is not valid JSON; use finite numbers", argument=what
    )


def _check_encodable(value: Any, what: str) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidParameterError(
            f"{what} holds a lone UTF-16 surrogate ({err.object[err.start:err.end]!a}), "
            "which is not text; send valid Unicode", argument=what,
        ) from None
