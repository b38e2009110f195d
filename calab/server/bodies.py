"""Request bodies: one safe JSON reader for both HTTP apps.

:func:`read_json_object` is the way in for every JSON route. It refuses, with a
4xx in the one error body (:mod:`calab.server.errors`) and before any work:

- a body larger than the route's byte limit (413), or not UTF-8 text (400);
- malformed JSON (400, with line and column);
- nesting deeper than :data:`MAX_DEPTH` (a body of 100,000 ``[`` stops the
  C scanner at its recursion guard; shallower trees are measured iteratively);
- integers longer than :data:`MAX_INT_DIGITS` digits, floats overflowing to
  infinity, and ``NaN`` / ``Infinity`` (400);
- lone UTF-16 surrogates in strings or field names (400; they cannot be
  stored, logged or encoded back);
- anything but a JSON object at the top level (400), and, with ``allowed``,
  field names outside the route's schema (422 naming the field).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from starlette.requests import Request

from calab.server.errors import UNPROCESSABLE, ApiError

#: Default byte limit of a JSON request body.
MAX_JSON_BYTES = 1 * 2**20
#: Deepest nesting of arrays and objects accepted.
MAX_DEPTH = 32
#: Longest integer literal accepted (digits); 10**400 passes so validation can name its field.
MAX_INT_DIGITS = 1000


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes with a 413."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or len(declared) > 18:
            raise ApiError(400, f"invalid Content-Length header {declared[:40]!r}")
        if int(declared) > limit:
            raise ApiError(413, f"request body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(
    request: Request, limit: int = MAX_JSON_BYTES, *, allowed: Collection[str] | None = None,
    what: str = "request body",
) -> dict[str, Any]:
    """Read, check and parse a JSON object body (see the module docstring).

    Parameters
    ----------
    request : starlette.requests.Request
        The request.
    limit : int
        Largest accepted body, in bytes.
    allowed : collection of str, optional
        Field names the route accepts; any other is refused (422 naming it).
    what : str
        How messages name the body.

    Returns
    -------
    dict
        The decoded object.
    """
    body = parse_json_bytes(await read_body(request, limit), what)
    if not isinstance(body, dict):
        raise ApiError(400, f"the {what} must be a JSON object {{...}}; got {_kind(body)}")
    if allowed is not None:
        refuse_unknown_fields(body, allowed)
    return body


def refuse_unknown_fields(body: dict[str, Any], allowed: Collection[str], prefix: str = "") -> None:
    """Raise a 422 naming the first field of ``body`` not in ``allowed``."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        name = f"{prefix}{unknown[0]}"
        raise ApiError(
            UNPROCESSABLE,
            f"unknown field {name!r}; allowed: {', '.join(sorted(allowed))}",
            field=name,
        )


def parse_json_bytes(data: bytes, what: str = "request body") -> Any:
    """Decode JSON bytes with the limits of the module docstring (any top-level value).

    Examples
    --------
    >>> parse_json_bytes(b'{"fs": 30}')
    {'fs': 30}
    >>> parse_json_bytes(b"[" * 100_000)
    Traceback (most recent call last):
    ...
    calab.server.errors.ApiError: request body nests more than 32 levels deep
    """
    if not data.strip():
        raise ApiError(400, f"the {what} is empty; expected a JSON document")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"the {what} is not UTF-8 text: {error}") from None
    try:
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except json.JSONDecodeError as error:
        raise ApiError(
            400, f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:  # the C scanner guards its own recursion
        raise ApiError(400, f"{what} nests more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:  # from the number hooks below
        raise ApiError(400, f"the {what} is not acceptable JSON: {error}") from None
    _check_tree(value, what)
    return value


def _parse_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {digits} digits (at most {MAX_INT_DIGITS} are accepted)")
    return int(literal)


def _parse_float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {literal[:40]} is too large to represent as a float")
    return value


def _parse_constant(literal: str) -> float:
    raise ValueError(f"{literal} is not a number JSON allows; give a finite number")


def _check_tree(value: Any, what: str) -> None:
    """Refuse deep nesting and lone surrogates (iteratively: no recursion here)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)) and depth >= MAX_DEPTH:
            raise ApiError(400, f"{what} nests more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, what, "a field name")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item, what, "a string")


def _check_text(text: str, what: str, kind: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, f"{kind} in the {what} holds a lone UTF-16 surrogate (\\ud800-\\udfff); "
            "send valid Unicode text"
        ) from None


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
