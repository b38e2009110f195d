"""Real-time solving of the cells the page shows, off the event loop.

The page posts the current parameters, the cells on screen and the time
window; the solver runs :func:`calab.core.deconvolve.deconvolve_matrix` on
those windows in a single worker thread and answers with a binary frame
(:func:`calab.server.frames.encode_frame`): a JSON header with per-cell
statistics, then the fit (reconvolution) and the activity as float32 arrays of
shape ``(n_cells, n_window)``.

Requests carry an increasing ``request_id``; a newer id supersedes every older
one, which is then dropped (HTTP 409) without being solved, so dragging a
slider never builds a queue. The last activity of each cell window is kept to
warm-start the next solve (``warm_start=``), which roughly halves its iterations.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from calab.core.deconvolve import deconvolve_matrix
from calab.core.options import DeconvolutionOptions
from calab.errors import CalabError, InvalidParameterError, ParameterTypeError
from calab.server.bodies import refuse_unknown_fields
from calab.server.bridge_session import Dataset
from calab.server.daemon_executor import DaemonThreadExecutor
from calab.server.errors import ApiError
from calab.server.frames import encode_frame
from calab.server.params import field_error, options_from_params

#: Longest window solved per request (samples); keeps interaction fast.
MAX_WINDOW_SAMPLES = 20_000
#: Most cells solved per request.
MAX_SOLVE_CELLS = 64
_WARM_CACHE_SIZE = 256
#: Cells per call of the solver: what a close (Ctrl-C) may have to wait for.
SOLVE_GROUP = 8


@dataclass(frozen=True)
class SolveRequest:
    """A validated solve request; ``rows`` index the dataset, ``start:stop`` its window."""

    request_id: int
    options: DeconvolutionOptions
    rows: np.ndarray
    start: int
    stop: int


#: Fields of a solve request.
SOLVE_FIELDS = ("request_id", "tau_rise", "tau_decay", "lambda", "filter_enabled", "rows",
                "start", "stop")
_SOLVE_NAMES = {"tau_rise": "tau_rise", "tau_decay": "tau_decay", "lambda_": "lambda",
                "fs": "fs", "filter_enabled": "filter_enabled"}


def parse_solve_request(body: Any, dataset: Dataset) -> SolveRequest:
    """Validate the JSON body of ``POST /api/v1/solve`` (4xx naming the bad field).

    The kernel and sparsity go through :class:`calab.core.options.DeconvolutionOptions`
    (the same rules as ``/params`` and the job service): a string or ``true``
    for a time constant, or a kernel too long for the data, is refused at once.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "solve request must be a JSON object")
    refuse_unknown_fields(body, SOLVE_FIELDS)
    missing = [name for name in SOLVE_FIELDS[:4] + SOLVE_FIELDS[5:] if name not in body]
    if missing:
        raise ApiError(422, f"solve request is missing the field {missing[0]!r}",
                       field=missing[0])
    flat = {"fs": dataset.fs, "tau_rise": body["tau_rise"], "tau_decay": body["tau_decay"],
            "lambda_": body["lambda"], "filter_enabled": body.get("filter_enabled", False)}
    options = options_from_params(flat, _SOLVE_NAMES, "")
    try:
        options.check_recording(dataset.traces.shape[0], dataset.traces.shape[1])
        request_id = _integer(body, "request_id")
        rows = _rows(body.get("rows"), dataset.traces.shape[0])
        start, stop = _window(body, dataset.traces.shape[1])
    except CalabError as error:
        raise field_error(error, _SOLVE_NAMES, "") from None
    except (TypeError, ValueError) as error:
        raise ApiError(422, f"invalid solve request: {error}") from None
    return SolveRequest(request_id, options, rows, start, stop)


def _integer(body: dict, name: str) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
        raise ParameterTypeError(f"{name}={str(value)[:40]} must be an integer below 2**63",
                                 argument=name)
    return value


def _rows(value: Any, n_rows: int) -> np.ndarray:
    if not isinstance(value, list) or not value or len(value) > MAX_SOLVE_CELLS:
        raise InvalidParameterError(
            f"rows must be a list of 1 to {MAX_SOLVE_CELLS} row numbers", argument="rows")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n_rows for v in value):
        raise InvalidParameterError(
            f"rows={str(value[:8])[:80]} must be integers in 0..{n_rows - 1}", argument="rows")
    return np.asarray(value, dtype=np.int64)


def _window(body: dict, n_time: int) -> tuple[int, int]:
    start, stop = _integer(body, "start"), _integer(body, "stop")
    if not 0 <= start < stop <= n_time:
        raise ValueError(
            f"window start={start}, stop={stop} must satisfy 0 <= start < stop <= {n_time}"
        )
    if stop - start > MAX_WINDOW_SAMPLES:
        raise ValueError(f"window of {stop - start} samples exceeds {MAX_WINDOW_SAMPLES}")
    return start, stop


class WindowSolver:
    """Solves visible cell windows in one worker thread, newest request first."""

    def __init__(self) -> None:
        self._executor = DaemonThreadExecutor("calab-solve")  # never holds up Ctrl-C
        self._closing = threading.Event()
        self._latest = -1
        self._lock = threading.Lock()
        self._warm: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def _is_superseded(self, request_id: int) -> bool:
        with self._lock:
            return request_id < self._latest

    async def submit(self, request: SolveRequest, dataset: Dataset) -> bytes | None:
        """Solve in the worker thread; None when a newer request superseded this one."""
        with self._lock:
            self._latest = max(self._latest, request.request_id)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._solve, request, dataset)

    def _solve(self, request: SolveRequest, dataset: Dataset) -> bytes | None:
        if self._is_superseded(request.request_id):
            return None
        began = time.perf_counter()
        raw = dataset.traces[request.rows, request.start : request.stop]
        keys = [self._key(dataset, row, request) for row in request.rows]
        result = self._solve_in_groups(raw, request.options, self._warm_start(keys))
        if result is None:  # closing (Ctrl-C in tune())
            return None
        self._remember(keys, result.activity)
        header = {
            "request_id": request.request_id,
            "rows": request.rows.tolist(),
            "cell_indices": dataset.subset.cell_indices[request.rows].tolist(),
            "start": request.start,
            "stop": request.stop,
            "r2": _fit_quality(raw, result.reconvolution).round(4).tolist(),
            "iterations": np.asarray(result.iterations).tolist(),
            "converged": np.asarray(result.converged).tolist(),
            "solve_ms": round(1000 * (time.perf_counter() - began), 2),
        }
        return encode_frame(header, [result.reconvolution, result.activity])

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
    def _key(dataset: Dataset, row: int, request: SolveRequest) -> tuple:
        return (id(dataset), int(row), request.start, request.stop,
                request.options.filter_enabled)

    def _warm_start(self, keys: list[tuple]) -> np.ndarray | None:
        if not all(k in self._warm for k in keys):
            return None
        return np.stack([self._warm[k] for k in keys])

    def _remember(self, keys: list[tuple], activity: np.ndarray) -> None:
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

    def close(self) -> None:
        """Stop the worker thread: queued requests are dropped, a running one stops after
        its current group of cells (about a second), and the thread has ended on return."""
        self._closing.set()
        self._executor.shutdown(wait=True, cancel_futures=True)


def _fit_quality(raw: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """Per-cell R^2 of the fit: ``1 - var(raw - fit) / var(raw)``."""
    total = raw.var(axis=1)
    residual = (raw - fit).var(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - residual / total, 0.0)
    return np.nan_to_num(r2)
