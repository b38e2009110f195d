"""Request bodies: one safe JSON reader for both HTTP apps.

:func:`read_json_object` is the way in for every JSON route. It refuses, with a
4xx in the one error body (:mod:`calab.server.errors`) and before any work:

- a body larger than the route's byte limit (413), or not UTF-8 text (400);
- malformed JSON (400, with line and column);
- nesting deeper than :data:`MAX_DEPTH` (measured on the text before parsing,
  without recursion, by :func:`calab.io.json_text.load_json_text`);
- integers longer than :data:`MAX_INT_DIGITS` digits, floats overflowing to
  infinity, and ``NaN`` / ``Infinity`` (400);
- lone UTF-16 surrogates in strings or field names (400; they cannot be
  stored, logged or encoded back);
- anything but a JSON object at the top level (400), and, with ``allowed``,
  field names outside the route's schema (422 naming the field).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.requests import Request

from calab.errors import InvalidParameterError
from calab.io.json_text import load_json_text
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

    The parsing is :func:`calab.io.json_text.load_json_text` (the one safe JSON
    reader), with this module's tighter limits; its refusals become 400s.

    Examples
    --------
    >>> parse_json_bytes(b'{"fs": 30}')
    {'fs': 30}
    >>> parse_json_bytes(b"[" * 100_000)
    Traceback (most recent call last):
    ...
    calab.server.errors.ApiError: request body is nested more than 32 levels deep; ...
    """
    if not data.strip():
        raise ApiError(400, f"the {what} is empty; expected a JSON document")
    try:
        return load_json_text(data, max_depth=MAX_DEPTH, max_int_digits=MAX_INT_DIGITS,
                              what=what)
    except InvalidParameterError as error:
        raise ApiError(400, error.message) from None


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
