"""``calab.tune()``: choose kernel and sparsity interactively in the browser.

A bridge server (:mod:`calab.server.bridge`) runs on a background thread on
127.0.0.1 with a fresh random secret; the web app opens with the bridge's
address and secret in its URL, loads the traces, solves in real time through
the bridge, and "Export to Python" posts the chosen parameters back, which is
when :func:`tune` returns them.
"""

from __future__ import annotations

import logging
import math
import secrets
import sys
import time
import webbrowser
from typing import Any
from urllib.parse import urlencode

from calab.server.bridge import bridge_app
from calab.server.bridge_server import BackgroundServer
from calab.server.bridge_session import Dataset, TuningSession, load_dataset
from calab.server.bridge_solve import WindowSolver

logger = logging.getLogger("calab.tune")
_POLL_S = 0.1


def app_link(app_url: str, bridge_url: str, secret: str) -> str:
    """``{app_url}?bridge={bridge_url}&bridge_secret={secret}`` (query-encoded)."""
    separator = "&" if "?" in app_url else "?"
    return f"{app_url}{separator}{urlencode({'bridge': bridge_url, 'bridge_secret': secret})}"


class TuningRun:
    """One bridge server with its session; the building block of :func:`tune`.

    Parameters
    ----------
    dataset : Dataset or None
        The data to show; None opens the app empty, ready for a dropped file.
    port : int, optional
        Port on 127.0.0.1; an ephemeral free port by default.
    app_url : str, optional
        Where the web app lives; by default the copy this server serves at ``/``.
    max_cells, max_minutes : int, float
        Subsampling limits for dropped files.

    Attributes
    ----------
    url : str
        The link to open (app URL with ``bridge`` and ``bridge_secret``).
    outcome : str
        ``"running"``, then ``"exported"``, ``"timeout"``, ``"heartbeat-lost"``
        or ``"interrupted"``.
    """

    def __init__(
        self,
        dataset: Dataset | None,
        *,
        port: int | None = None,
        app_url: str | None = None,
        max_cells: int = 64,
        max_minutes: float = 10.0,
    ) -> None:
        self.session = TuningSession(dataset, max_cells=max_cells, max_minutes=max_minutes)
        self.secret = secrets.token_urlsafe(32)
        self.solver = WindowSolver()
        app = bridge_app(self.session, secret=self.secret, solver=self.solver)
        self.server = BackgroundServer(app, port=port)
        self.app_url = app_url
        self.url = ""
        self.outcome = "running"

    def start(self) -> TuningRun:
        """Start the server (raises :class:`PortInUseError` for a taken port)."""
        try:
            self.server.start()
        except BaseException:
            self.solver.close()
            raise
        self.solver.warm_up(self.session.dataset.fs if self.session.dataset else 30.0)
        bridge = self.server.base_url
        self.url = app_link(self.app_url or f"{bridge}/", bridge, self.secret)
        return self

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Block until the page exports; None on timeout, lost heartbeat or Ctrl-C."""
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        try:
            while not self.session.exported.wait(_POLL_S):
                if time.monotonic() > deadline:
                    return self.give_up("timeout", f"no export within {timeout} s")
                if self.session.heartbeat_lost():
                    return self.give_up("heartbeat-lost", "the page stopped responding")
        except KeyboardInterrupt:
            return self.give_up("interrupted", "interrupted")
        self.outcome = "exported"
        return dict(self.session.params or {})

    def give_up(self, outcome: str, reason: str) -> None:
        """Record why no parameters came back, tell the user, return None."""
        self.outcome = outcome
        print(f"calab tune: {reason}; no parameters exported", file=sys.stderr)
        return None

    def close(self) -> None:
        """Shut the server down and free its port."""
        self.server.stop()
        self.solver.close()

    def __enter__(self) -> TuningRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def tune(
    traces: Any,
    fs: float | None = None,
    timeout: float | None = None,
    port: int | None = None,
    app_url: str | None = None,
    open_browser: bool = True,
    *,
    cells: Any = None,
    max_cells: int = 64,
    max_minutes: float = 10.0,
) -> dict[str, Any] | None:
    """Tune rise time, decay time and sparsity on your own traces, in the browser.

    Starts a local bridge server on 127.0.0.1, opens the tuning app and blocks
    until "Export to Python" is pressed there. Large inputs are subsampled
    before anything is sent: up to ``max_cells`` cells spread over the SNR
    range and a centred window of at most ``max_minutes``, read lazily.

    Parameters
    ----------
    traces : array-like, Recording, str or pathlib.Path
        ``(n_cells, n_timepoints)`` or ``(n_timepoints,)`` NumPy, dask or zarr
        array, a recording from :func:`calab.open_recording`, or the path of any
        input it reads (tuning data, zarr, HDF5, CaImAn, Minian, suite2p, NWB).
    fs : float, optional
        Sampling rate in Hz. A file's own rate (e.g. a tuning sidecar's) is
        used when it records one, and ``fs`` must agree with it; otherwise the
        default is 30.
    timeout : float, optional
        Give up after this many seconds (default: wait forever).
    port : int, optional
        Port on 127.0.0.1 (default: a free ephemeral port).
    app_url : str, optional
        Address of a CaTune-compatible app; default: the app served by the bridge.
    open_browser : bool, optional
        Open the link in the default browser (it is printed to stderr either way).
    cells : sequence of int, optional
        Keyword-only. Original indices of the cells to show.
    max_cells : int, optional
        Keyword-only. Most cells chosen automatically (default 64).
    max_minutes : float, optional
        Keyword-only. Longest time window, in minutes (default 10).

    Returns
    -------
    dict or None
        ``{"tau_rise": s, "tau_decay": s, "lambda_": float, "fs": Hz,
        "filter_enabled": bool}``, or None on timeout, Ctrl-C, or when the
        page stopped its heartbeat for 10 s. The server is always shut down.

    Raises
    ------
    PortInUseError
        ``port`` is already in use.

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=5, duration_s=60.0, fs=30.0, seed=0)
    >>> params = calab.tune(sim.traces, fs=30.0)  # doctest: +SKIP
    >>> activity = calab.run_deconvolution(  # doctest: +SKIP
    ...     sim.traces, params["fs"], params["tau_rise"], params["tau_decay"], params["lambda_"])
    """
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout={timeout!r} must be a number of seconds > 0 or None")
    dataset = load_dataset(traces, fs, cells=cells, max_cells=max_cells, max_minutes=max_minutes)
    with TuningRun(dataset, port=port, app_url=app_url, max_cells=max_cells,
                   max_minutes=max_minutes) as run:
        try:
            announce(run.url)
            if open_browser:
                webbrowser.open(run.url)
            return run.wait(timeout)
        except KeyboardInterrupt:  # Ctrl-C before waiting began
            return run.give_up("interrupted", "interrupted")


def announce(url: str) -> None:
    """Tell the user where the app is (stderr) and log it (``calab.tune`` logger)."""
    logger.info("tuning app at %s", url)
    print(f"calab tune: open {url}\n  (press 'Export to Python' there; Ctrl-C cancels)",
          file=sys.stderr, flush=True)
