"""Real-time solving of the cells the page shows, off the event loop.

The page posts the current parameters, the cells on screen (original indices)
and the time window; the solver reads that window plus a margin on each side
from the recording (:meth:`calab.server.bridge_data.Dataset.read_window`),
runs :func:`calab.core.deconvolve.deconvolve_matrix` in a single worker thread,
crops the margins away and answers with a binary frame
(:func:`calab.server.frames.encode_frame`): a JSON header with per-cell
statistics, then the fit, the activity and the trace that was fitted (the
bandpass-filtered trace when the filter is on), float32, ``(n_cells, n_window)``.

Requests carry a ``session`` (one per page load) and an increasing
``request_id``; within a session a newer id supersedes every older one, which
is then dropped (HTTP 409) without being solved. Pages in other tabs, or the
same tab after a reload, have their own session and never supersede each
other. The page keeps at most one request in flight and sends the newest
values when it returns, so a drag never builds a queue.

The last activity of each cell window is kept to warm-start the next solve
(``warm_start=``); while a slider is dragged the window does not change, so
every solve after the first starts from the previous solution. Requests sent
during a drag say ``"draft": true`` and are solved to :data:`DRAFT_TOL`; the
final solve after release starts from the last draft.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import numpy as np

from calab.core.deconvolve import deconvolve_matrix
from calab.core.fit_quality import fitted_and_fit
from calab.core.gaps import interpolate_gaps
from calab.core.options import DeconvolutionOptions
from calab.core.subsample import estimate_snr
from calab.server.bridge_data import Dataset
from calab.server.bridge_requests import (
    MAX_SOLVE_CELLS,
    MAX_WINDOW_SAMPLES,
    SolveRequest,
    parse_solve_request,
)
from calab.server.daemon_executor import DaemonThreadExecutor
from calab.server.frames import encode_frame

__all__ = ["MAX_SOLVE_CELLS", "MAX_WINDOW_SAMPLES", "SolveRequest", "WindowSolver",
           "parse_solve_request", "solve_margin"]

_WARM_CACHE_SIZE = 256
#: Relative tolerance of draft solves (sent while a slider moves): about a tenth of the
#: iterations of a full solve, and a fit within a few percent of the converged one; the
#: full solve after release then starts from it and needs few iterations.
DRAFT_TOL = 1e-3
_SESSIONS_KEPT = 256
#: Cells per call of the solver: what a close (Ctrl-C) may have to wait for.
SOLVE_GROUP = 8


def solve_margin(window: int, fs: float) -> int:
    """Samples solved beyond each edge of a ``window``-sample view (edge effects).

    A quarter of the window, at least 2 s and at most 5 s of samples: the
    activity just inside the edges is then not pulled by the missing context,
    and the margin stays the same while a slider moves (so warm starts apply).

    Examples
    --------
    >>> solve_margin(1800, 30.0), solve_margin(30, 30.0)
    (150, 60)
    """
    return round(min(5.0 * fs, max(2.0 * fs, 0.25 * window)))


class WindowSolver:
    """Solves visible cell windows in one worker thread, newest request first."""

    def __init__(self) -> None:
        self._executor = DaemonThreadExecutor("calab-solve")  # never holds up Ctrl-C
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._warm: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def _is_superseded(self, request: SolveRequest) -> bool:
        with self._lock:
            return request.request_id < self._latest.get(request.session, -1)

    async def submit(self, request: SolveRequest, dataset: Dataset) -> bytes | None:
        """Solve in the worker thread; None when a newer request of its session came first."""
        with self._lock:
            latest = self._latest.pop(request.session, -1)
            self._latest[request.session] = max(latest, request.request_id)
            while len(self._latest) > _SESSIONS_KEPT:
                self._latest.popitem(last=False)
        if self._is_superseded(request):
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._solve, request, dataset)

    def _solve(self, request: SolveRequest, dataset: Dataset) -> bytes | None:
        if self._is_superseded(request):
            return None
        began = time.perf_counter()
        margin = request.margin
        if margin is None:
            margin = solve_margin(request.stop - request.start, dataset.fs)
        lo = max(0, request.start - margin)
        hi = min(dataset.total_timepoints, request.stop + margin)
        raw = dataset.read_window(request.cells, lo, hi)
        filled, gaps = interpolate_gaps(raw)
        options = request.options
        keys = [(id(dataset), int(c), lo, hi, options.filter_enabled) for c in request.cells]
        if request.draft:
            options = options.with_changes(tol=DRAFT_TOL)
        result = self._solve_in_groups(filled, options, self._warm_start(keys))
        if result is None:  # closing (Ctrl-C in tune())
            return None
        self._remember(keys, result.activity)
        shown, fit = fitted_and_fit(filled, result.reconvolution, options)
        crop = slice(request.start - lo, request.stop - lo)
        missing = ~np.isfinite(raw[:, crop])
        shown = np.where(missing, np.nan, shown[:, crop])
        header = self._header(request, dataset, shown, fit[:, crop], missing, gaps.empty)
        header["snr"] = estimate_snr(filled[:, crop]).round(3).tolist()
        header.update(iterations=np.asarray(result.iterations).tolist(),
                      converged=np.asarray(result.converged).tolist(), margin=margin,
                      solve_ms=round(1000 * (time.perf_counter() - began), 2))
        return encode_frame(header, [fit[:, crop], result.activity[:, crop], shown])

    def _solve_in_groups(self, raw: np.ndarray, options: DeconvolutionOptions,
                         warm: np.ndarray | None) -> SimpleNamespace | None:
        """Solve :data:`SOLVE_GROUP` cells per call; None once the solver is closing.

        A cell's result does not depend on its batch, so groups change nothing
        but this: a close waits for one group at most, never for a whole window
        of 64 cells (the compiled core cannot be interrupted mid-call, and a
        process must not exit while it runs).
        """
        parts = []
        for first in range(0, raw.shape[0], SOLVE_GROUP):
            if self._closing.is_set():
                return None
            rows = slice(first, first + SOLVE_GROUP)
            parts.append(deconvolve_matrix(raw[rows], options,
                                           warm_start=None if warm is None else warm[rows]))
        return SimpleNamespace(**{
            name: np.concatenate([np.atleast_1d(getattr(p, name)) for p in parts])
            for name in ("activity", "reconvolution", "iterations", "converged")})

    @staticmethod
    def _header(request: SolveRequest, dataset: Dataset, shown: np.ndarray, fit: np.ndarray,
                missing: np.ndarray, empty: np.ndarray) -> dict[str, Any]:
        header: dict[str, Any] = {
            "request_id": request.request_id,
            "session": request.session,
            "cell_indices": request.cells.tolist(),
            "start": request.start - request.offset,
            "stop": request.stop - request.offset,
            "filter_enabled": request.options.filter_enabled,
            "draft": request.draft,
            "r2": fit_quality(shown, fit).round(4).tolist(),
            "missing": missing.sum(axis=1).tolist(),
            "longest_gap_s": [round(_longest(m) / dataset.fs, 3) for m in missing],
            "no_finite_values": empty.tolist(),
        }
        if request.rows is not None:
            header["rows"] = request.rows.tolist()
        return header

    def _warm_start(self, keys: list[tuple]) -> np.ndarray | None:
        with self._lock:
            if not all(k in self._warm for k in keys):
                return None
            return np.stack([self._warm[k] for k in keys])

    def _remember(self, keys: list[tuple], activity: np.ndarray) -> None:
        with self._lock:
            for key, row in zip(keys, activity, strict=True):
                self._warm[key] = row
                self._warm.move_to_end(key)
            while len(self._warm) > _WARM_CACHE_SIZE:
                self._warm.popitem(last=False)

    def warm_up(self, fs: float = 30.0) -> None:
        """Compile the solver in the background so the first real solve is fast."""
        signal = np.sin(np.linspace(0, 20, 300))[None, :] + 1.0
        options = DeconvolutionOptions(fs=fs, tau_r=0.1, tau_d=0.6, lam=0.5)
        self._executor.submit(deconvolve_matrix, signal, options)
        self._executor.submit(deconvolve_matrix, signal, options.with_changes(filter_enabled=True))

    def close(self) -> None:
        """Stop the worker thread: queued requests are dropped, a running one stops after
        its current group of cells (about a second), and the thread has ended on return."""
        self._closing.set()
        self._executor.shutdown(wait=True, cancel_futures=True)


def _longest(flags: np.ndarray) -> int:
    if not flags.any():
        return 0
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[0::2]).max())


def fit_quality(trace: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """Per-cell R² of a fit to the trace it was fitted to, on the finite samples.

    ``1 - var(trace - fit) / var(trace)``; 0 for a flat or empty trace.

    Examples
    --------
    >>> trace = np.array([[0.0, 1.0, 0.0, 1.0]])
    >>> fit_quality(trace, trace).tolist(), fit_quality(trace, np.full((1, 4), 0.5)).tolist()
    ([1.0], [0.0])
    """
    finite = np.isfinite(trace) & np.isfinite(fit)
    r2 = np.zeros(trace.shape[0])
    for row in range(trace.shape[0]):
        t, f = trace[row, finite[row]], fit[row, finite[row]]
        total = t.var() if t.size > 1 else 0.0
        if total > 0:
            r2[row] = 1.0 - (t - f).var() / total
    return np.nan_to_num(r2)
