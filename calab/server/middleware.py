"""ASGI middleware of the local services (pure ASGI, answering in the one error body).

- :class:`HostCheckMiddleware`: a DNS-rebinding guard (403 for a foreign ``Host``).
- :class:`CorsMiddleware`: CORS and Private-Network-Access preflights.
- :class:`SecretHeaderMiddleware`: a shared secret on a path prefix (401).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calab.server.errors import error_body
from calab.server.tokens import secrets_match

#: Hosts a loopback-only service answers to (the port is not part of the check).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


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
                message = f"Host header {host!r} is not allowed"
                await _send_json(send, 403, error_body(message, "Host"))
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

        async def send_with_cors(message: Message) -> None:
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
                await _send_json(send, 401, error_body(f"missing or wrong {name} header", name))
                return
        await self.app(scope, receive, send)
