"""Serving an app with real uvicorn on a loopback port for tests over a socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from calab.server.bridge_server import BackgroundServer


@contextmanager
def served(app: Any, headers: dict[str, str] | None = None, *, lifespan: str = "off"
           ) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` talking to ``app`` served by uvicorn on 127.0.0.1."""
    with BackgroundServer(app, lifespan=lifespan) as server, httpx.Client(
        base_url=server.base_url, headers=headers or {}, timeout=30.0
    ) as client:
        yield client


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate()`` until it returns something truthy; that value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} within {timeout} s")


class StaticCluster:
    """A cluster stand-in for the health route only (no jobs run through it)."""

    def status(self) -> dict:
        return {"mode": "remote", "address": "tcp://198.51.100.1:8786", "connected": False,
                "workers": None, "error": "not connected"}

    def close(self) -> None:
        pass
