"""HTTP building blocks shared by calab's local services (the tuning bridge, the job service).

Everything here is generic: nothing knows about tuning or jobs.

- :class:`ApiError` and :func:`error_handlers`: raise ``ApiError(400, "why")``
  anywhere in a route; clients get ``{"error": "why"}`` with that status, and
  unexpected exceptions become a JSON 500 instead of a dropped connection.
- :func:`read_body`, :func:`read_json`, :func:`parse_npy`: request bodies with
  a size limit (413) and clear 400 messages for malformed JSON or ``.npy``.
- :func:`secrets_match`: constant-time comparison of secrets and tokens.
- ASGI middleware: :class:`HostCheckMiddleware` (DNS-rebinding guard),
  :class:`CorsMiddleware` (CORS and Private-Network-Access preflights),
  :class:`SecretHeaderMiddleware` (a shared secret on a path prefix, 401).
- :func:`npy_bytes`, :func:`encode_frame`, :func:`decode_frame`: binary
  payloads (``.npy`` files, and float32 frames with a small JSON header).
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import struct
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("calab.server")

#: Default body limit for JSON requests (bytes).
MAX_JSON_BYTES = 1 * 2**20
#: Hosts a loopback-only service answers to (the port is not part of the check).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


class ApiError(Exception):
    """An error with an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_error(status: int, message: str, **extra: Any) -> JSONResponse:
    """``{"error": message, **extra}`` with the given HTTP status."""
    return JSONResponse({"error": message, **extra}, status_code=status)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_error(exc.status, exc.message)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error in %s %s", request.method, request.url.path)
    return json_error(500, f"internal error: {type(exc).__name__}: {exc}")


def error_handlers() -> dict[Any, Any]:
    """Starlette ``exception_handlers`` turning errors into JSON responses."""
    return {ApiError: _api_error, Exception: _unexpected_error}


def secrets_match(given: str | bytes | None, expected: str | bytes) -> bool:
    """Compare a secret or token in constant time; ``None`` never matches."""
    if given is None:
        return False
    given_bytes = given.encode() if isinstance(given, str) else given
    expected_bytes = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(given_bytes, expected_bytes)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes with a 413."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"invalid Content-Length header {declared!r}")
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


async def read_json(request: Request, limit: int = MAX_JSON_BYTES) -> Any:
    """Parse the JSON request body (400 with the position of a syntax error)."""
    body = await read_body(request, limit)
    if not body.strip():
        raise ApiError(400, "request body is empty; expected a JSON document")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"request body is not UTF-8 text: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ApiError(
            400, f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None


def parse_npy(data: bytes, name: str = "request body") -> np.ndarray:
    """Load ``.npy`` bytes (no pickles); 400 with a message when malformed."""
    if not data.startswith(b"\x93NUMPY"):
        raise ApiError(400, f"{name} is not a .npy file (missing the \\x93NUMPY magic)")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:  # numpy raises ValueError/EOFError/OSError variously
        raise ApiError(400, f"{name} is a malformed .npy file: {error}") from None


def npy_bytes(array: np.ndarray) -> bytes:
    """Serialise an array as the bytes of a ``.npy`` file."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def encode_frame(header: dict[str, Any], arrays: Sequence[np.ndarray]) -> bytes:
    """Pack a JSON header and arrays into one binary frame.

    Layout: ``uint32`` little-endian length ``n`` of the header, ``n`` bytes
    of UTF-8 JSON (space-padded so the data starts at a multiple of 4), then
    each array as C-ordered float32 little-endian. ``header["arrays"]`` is
    set to the list of array shapes, in order.

    Examples
    --------
    >>> frame = encode_frame({"id": 1}, [np.ones((2, 3))])
    >>> header, arrays = decode_frame(frame)
    >>> header["id"], arrays[0].shape, arrays[0].dtype
    (1, (2, 3), dtype('float32'))
    """
    shapes = [list(np.shape(a)) for a in arrays]
    text = json.dumps({**header, "arrays": shapes}).encode()
    text += b" " * (-(4 + len(text)) % 4)
    parts = [struct.pack("<I", len(text)), text]
    parts += [np.ascontiguousarray(a, dtype="<f4").tobytes() for a in arrays]
    return b"".join(parts)


def decode_frame(frame: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Inverse of :func:`encode_frame`."""
    (length,) = struct.unpack_from("<I", frame, 0)
    header = json.loads(frame[4 : 4 + length])
    offset = 4 + length
    arrays = []
    for shape in header["arrays"]:
        count = int(np.prod(shape))
        arrays.append(np.frombuffer(frame, "<f4", count, offset).reshape(shape))
        offset += 4 * count
    return header, arrays


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1].lower()
    return host_header.rsplit(":", 1)[0].lower() if ":" in host_header else host_header.lower()


async def _send_json(send: Send, status: int, body: dict[str, Any], extra: Iterable = ()) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
    await send({"type": "http.response.body", "body": payload})


class HostCheckMiddleware:
    """Reject requests whose ``Host`` header is not one of ``allowed_hosts`` (403).

    Guards a loopback service against DNS rebinding: a page on
    ``evil.example`` resolving to 127.0.0.1 still sends ``Host: evil.example``.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = LOOPBACK_HOSTS) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = headers.get(b"host", b"").decode("latin-1")
            if _host_name(host) not in self.allowed:
                await _send_json(send, 403, {"error": f"Host header {host!r} is not allowed"})
                return
        await self.app(scope, receive, send)


class CorsMiddleware:
    """Answer CORS and Private-Network-Access preflights; tag responses for any origin.

    Access control is the job of the secret header, not of the origin, so any
    origin may call (a hosted CaTune page talking to a local bridge, say).
    """

    def __init__(self, app: ASGIApp, allow_headers: Sequence[str] = ("content-type",)) -> None:
        self.app = app
        self.allow_headers = ", ".join(allow_headers).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        cors = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            cors += [
                (b"access-control-allow-methods", b"GET, POST, PUT, OPTIONS"),
                (b"access-control-allow-headers", self.allow_headers),
                (b"access-control-max-age", b"600"),
            ]
            if headers.get(b"access-control-request-private-network") == b"true":
                cors.append((b"access-control-allow-private-network", b"true"))
            await send({"type": "http.response.start", "status": 204, "headers": cors})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


class SecretHeaderMiddleware:
    """Require ``header`` to equal ``secret`` on every path under ``prefix`` (401).

    Preflight ``OPTIONS`` requests carry no custom headers and are let through
    (put :class:`CorsMiddleware` outside this one to answer them).
    """

    def __init__(self, app: ASGIApp, secret: str, prefix: str, header: str) -> None:
        self.app = app
        self.secret = secret
        self.prefix = prefix
        self.header = header.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(self.prefix)
            and scope["method"] != "OPTIONS"
        ):
            given = dict(scope["headers"]).get(self.header)
            if not secrets_match(given, self.secret.encode()):
                name = self.header.decode()
                await _send_json(send, 401, {"error": f"missing or wrong {name} header"})
                return
        await self.app(scope, receive, send)
