"""Running an ASGI app with uvicorn on a background thread, on a loopback port.

The socket is bound here, before uvicorn starts, so that a port already in use
is reported at once with a clear error, and so that the port is known (an
ephemeral one when none is asked for) before the browser is opened.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Any, Literal

import uvicorn

LOOPBACK = "127.0.0.1"


class PortInUseError(OSError):
    """The requested port is already taken on 127.0.0.1."""


def bind_loopback(port: int | None) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (``port=None`` or 0: an ephemeral port)."""
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                             or not 0 <= port <= 65535):
        raise ValueError(f"port={port!r} must be an integer in 0..65535 or None")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # as every server does: a port whose last connections linger in TIME_WAIT
    # (a Ctrl-C during a request) can be listened on again at once
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port or 0))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(
                errno.EADDRINUSE,
                f"port {port} is already in use on {LOOPBACK}; pass another port, "
                "or port=None for a free one",
            ) from None
        raise
    sock.listen(64)
    sock.setblocking(False)
    return sock


class BackgroundServer:
    """uvicorn serving ``app`` on 127.0.0.1 from a daemon thread.

    Use as a context manager: the server is started on entry and always shut
    down (and its port freed) on exit.

    Examples
    --------
    >>> from starlette.applications import Starlette
    >>> with BackgroundServer(Starlette()) as server:
    ...     server.base_url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, app: Any, port: int | None = None, *, start_timeout: float = 15.0,
                 lifespan: Literal["auto", "on", "off"] = "off", graceful_s: int = 1) -> None:
        self.app = app
        self.lifespan = lifespan
        self.graceful_s = graceful_s  # in-flight requests (a long solve) get this long
        self.requested_port = port
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:{port}``."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> BackgroundServer:
        """Bind the port and start serving; returns once uvicorn accepts requests."""
        self._sock = bind_loopback(self.requested_port)
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan=self.lifespan,
            timeout_keep_alive=5, timeout_graceful_shutdown=self.graceful_s
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]},
            name=f"calab-bridge-{self.port}", daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the bridge server on port {self.port} failed to start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Shut uvicorn down, join its thread and close the socket."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        self._thread = None
        self._server = None
        self._sock = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
