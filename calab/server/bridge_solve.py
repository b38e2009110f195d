"""Real-time solving of the cells the page shows, off the event loop.

The page posts the current parameters, the cells on screen and the time
window; the solver runs :func:`calab.core.deconvolve.deconvolve_matrix` on
those windows in a single worker thread and answers with a binary frame
(:func:`calab.server.common.encode_frame`): a JSON header with per-cell
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from calab.core.deconvolve import deconvolve_matrix
from calab.core.options import DeconvolutionOptions
from calab.errors import CalabError
from calab.io.export import params_to_options
from calab.server.bridge_session import Dataset
from calab.server.common import ApiError, encode_frame

#: Longest window solved per request (samples); keeps interaction fast.
MAX_WINDOW_SAMPLES = 20_000
#: Most cells solved per request.
MAX_SOLVE_CELLS = 64
_WARM_CACHE_SIZE = 256


@dataclass(frozen=True)
class SolveRequest:
    """A validated solve request; ``rows`` index the dataset, ``start:stop`` its window."""

    request_id: int
    options: DeconvolutionOptions
    rows: np.ndarray
    start: int
    stop: int


def parse_solve_request(body: Any, dataset: Dataset) -> SolveRequest:
    """Validate the JSON body of ``POST /api/v1/solve`` (400 naming the bad field)."""
    if not isinstance(body, dict):
        raise ApiError(400, "solve request must be a JSON object")
    try:
        request_id = _integer(body, "request_id")
        fields = ("tau_rise", "tau_decay", "lambda", "filter_enabled")
        options = params_to_options({"fs": dataset.fs, **{k: body[k] for k in fields if k in body}})
        rows = _rows(body.get("rows"), dataset.traces.shape[0])
        start, stop = _window(body, dataset.traces.shape[1])
    except CalabError as error:
        raise ApiError(400, f"invalid solve request: {error}") from None
    except KeyError as error:
        raise ApiError(400, f"solve request is missing the field {error}") from None
    except (TypeError, ValueError) as error:
        raise ApiError(400, f"invalid solve request: {error}") from None
    return SolveRequest(request_id, options, rows, start, stop)


def _integer(body: dict, name: str) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}={value!r} must be an integer")
    return value


def _rows(value: Any, n_rows: int) -> np.ndarray:
    if not isinstance(value, list) or not value or len(value) > MAX_SOLVE_CELLS:
        raise ValueError(f"rows must be a list of 1 to {MAX_SOLVE_CELLS} row numbers")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n_rows for v in value):
        raise ValueError(f"rows={value[:8]!r} must be integers in 0..{n_rows - 1}")
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
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calab-solve")
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
        result = deconvolve_matrix(raw, request.options, warm_start=self._warm_start(keys))
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
        """Stop the worker thread (pending requests are cancelled)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _fit_quality(raw: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """Per-cell R^2 of the fit: ``1 - var(raw - fit) / var(raw)``."""
    total = raw.var(axis=1)
    residual = (raw - fit).var(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - residual / total, 0.0)
    return np.nan_to_num(r2)
