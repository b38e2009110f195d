"""Validation of ``POST /api/v1/solve`` bodies (400 naming the field, value and range).

A body names the cells either by original index (``cells``, with ``start`` and
``stop`` in samples of the whole recording; what calab's app sends) or by row
of the first subset (``rows``, with ``start``/``stop`` inside the subset's
window; the original protocol). Both become one :class:`SolveRequest` in
whole-recording coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from calab.core.options import DeconvolutionOptions
from calab.errors import CalabError, InvalidParameterError, ParameterTypeError
from calab.io.export import params_to_options
from calab.server.bodies import refuse_unknown_fields
from calab.server.bridge_data import Dataset
from calab.server.errors import UNPROCESSABLE, ApiError

#: Longest window solved per request (samples); keeps interaction fast.
MAX_WINDOW_SAMPLES = 20_000
#: Most cells solved per request.
MAX_SOLVE_CELLS = 64
#: Longest ``session`` string accepted.
MAX_SESSION_CHARS = 64
#: Widest margin (samples each side) a request may ask for.
MAX_MARGIN_SAMPLES = 2_000


#: Fields a solve request may carry.
SOLVE_FIELDS = ("request_id", "session", "tau_rise", "tau_decay", "lambda", "filter_enabled",
                "draft", "margin", "cells", "rows", "start", "stop")


@dataclass(frozen=True)
class SolveRequest:
    """A validated solve request in whole-recording coordinates.

    ``cells`` are original indices, ``start:stop`` samples of the recording;
    ``offset`` is what the client's coordinates add to them (the subset's start
    for a ``rows`` request, else 0) and ``rows`` the subset rows it named, if any.
    ``draft`` asks for a quick solve to a looser tolerance (while a slider moves).
    """

    request_id: int
    session: str
    options: DeconvolutionOptions
    cells: np.ndarray
    start: int
    stop: int
    margin: int | None = None
    rows: np.ndarray | None = None
    offset: int = 0
    draft: bool = False


def parse_solve_request(body: Any, dataset: Dataset) -> SolveRequest:
    """Validate the JSON body of ``POST /api/v1/solve`` (ApiError 400 naming the bad field)."""
    if not isinstance(body, dict):
        raise ApiError(400, f"solve request must be a JSON object, not {type(body).__name__}")
    refuse_unknown_fields(body, SOLVE_FIELDS)
    try:
        return _parse(body, dataset)
    except CalabError as error:
        field = {"tau_r": "tau_rise", "tau_d": "tau_decay", "lam": "lambda"}.get(
            error.argument or "", error.argument)
        raise ApiError(UNPROCESSABLE, f"invalid solve request: {error}", field=field) from None
    except KeyError as error:
        name = str(error.args[0]) if error.args else None
        raise ApiError(UNPROCESSABLE, f"solve request is missing the field {error}",
                       field=name) from None
    except (TypeError, ValueError) as error:
        raise ApiError(UNPROCESSABLE, f"invalid solve request: {error}") from None


def _parse(body: dict, dataset: Dataset) -> SolveRequest:
    request_id = _integer(body, "request_id")
    session = body.get("session", "")
    if not isinstance(session, str) or len(session) > MAX_SESSION_CHARS:
        raise InvalidParameterError(f"session={session!r:.80} must be a string of at most "
                                    f"{MAX_SESSION_CHARS} characters", argument="session")
    values = {name: body[name] for name in ("tau_rise", "tau_decay", "lambda")}
    # the parameter object checks types and values, naming the argument
    options = params_to_options({"fs": dataset.fs, **values,
                                 "filter_enabled": body.get("filter_enabled", False)})
    options.check_recording(dataset.total_cells, dataset.total_timepoints)
    draft = body.get("draft", False)
    if not isinstance(draft, bool):
        raise ParameterTypeError(f"draft={draft!r:.80} must be true or false", argument="draft")
    margin = body.get("margin")
    if margin is not None:
        margin = _integer(body, "margin")
        if not 0 <= margin <= MAX_MARGIN_SAMPLES:
            raise InvalidParameterError(
                f"margin={margin} must be in 0..{MAX_MARGIN_SAMPLES} samples", argument="margin")
    rows, offset = None, 0
    if "cells" in body or "rows" not in body:
        cells = _indices(body.get("cells"), "cells", dataset.total_cells)
        start, stop = _window(body, dataset.total_timepoints)
    else:
        rows = _indices(body.get("rows"), "rows", dataset.traces.shape[0])
        cells, offset = dataset.subset.cell_indices[rows], int(dataset.subset.start)
        start, stop = _window(body, dataset.traces.shape[1])
    return SolveRequest(request_id, session, options, np.asarray(cells, dtype=np.int64),
                        start + offset, stop + offset, margin, rows, offset, draft)


def _integer(body: dict, name: str) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
        raise ParameterTypeError(f"{name}={str(value)[:40]} must be an integer below 2**63",
                                 argument=name)
    return value


def _indices(value: Any, name: str, count: int) -> np.ndarray:
    if not isinstance(value, list) or not value or len(value) > MAX_SOLVE_CELLS:
        raise InvalidParameterError(f"{name} must be a list of 1 to {MAX_SOLVE_CELLS} "
                                    f"indices; got {value!r:.80}", argument=name)
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < count for v in value):
        raise InvalidParameterError(f"{name}={value[:8]!r} must be integers in 0..{count - 1}",
                                    argument=name)
    return np.asarray(value, dtype=np.int64)


def _window(body: dict, n_time: int) -> tuple[int, int]:
    start, stop = _integer(body, "start"), _integer(body, "stop")
    if not 0 <= start < stop <= n_time:
        raise InvalidParameterError(
            f"window start={start}, stop={stop} must satisfy 0 <= start < stop <= {n_time}",
            argument="start")
    if stop - start > MAX_WINDOW_SAMPLES:
        raise InvalidParameterError(
            f"window of {stop - start} samples exceeds {MAX_WINDOW_SAMPLES}", argument="stop")
    return start, stop


#: Most bins of an overview envelope.
MAX_OVERVIEW_POINTS = 20_000


def parse_overview_query(query: Any, dataset: Dataset) -> tuple[int, int]:
    """``cell`` and ``points`` of ``GET /api/v1/overview`` (ApiError 400 when invalid)."""
    cell = _query_integer(query, "cell", None, 0, dataset.total_cells - 1)
    points = _query_integer(query, "points", 2000, 10, MAX_OVERVIEW_POINTS)
    return cell, points


def _query_integer(query: Any, name: str, default: int | None, lo: int, hi: int) -> int:
    text = query.get(name)
    if text is None:
        if default is None:
            raise ApiError(UNPROCESSABLE, f"the query parameter {name} is required "
                           f"(an integer in {lo}..{hi})", field=name)
        return default
    if not text.strip().isdigit() or not lo <= int(text) <= hi:
        raise ApiError(UNPROCESSABLE, f"{name}={text[:40]!r} must be an integer in {lo}..{hi}",
                       field=name)
    return int(text)
