"""The tuning app's feature routes: per-cell metrics, spectra, demo data, drop validation.

==================================  ===============================================
``POST /api/v1/metrics``            per loaded cell: SNR, R², fit SNR, sparsity and
                                    event rate for ``{tau_rise, tau_decay, lambda,
                                    filter_enabled}`` over the loaded window
``GET  /api/v1/spectrum?cell=N``    Welch periodogram of cell ``N`` (original index),
                                    the mean over loaded cells, the filter's passband
                                    (``&tau_rise=&tau_decay=``, seconds)
``POST /api/v1/demo``               load simulated GCaMP6f traces (``calab.simulate``)
``GET  /api/v1/demo/truth``         their true spikes and kernel
``POST /api/v1/upload/summary``     shape, range and NaN/inf counts per cell of the
                                    pending dropped array ``{key, transpose}``
==================================  ===============================================

Registered by :func:`calab.server.bridge.bridge_app` with :func:`feature_routes`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from calab.core.deconvolve import deconvolve_matrix
from calab.core.fit_quality import fit_figures, fitted_and_fit, power_spectrum
from calab.core.gaps import interpolate_gaps
from calab.core.kernel import kernel_spec
from calab.core.options import DeconvolutionOptions
from calab.core.preprocess import filter_cutoffs
from calab.core.simulate import simulate
from calab.errors import CalabError
from calab.server.bodies import read_json_object
from calab.server.bridge_data import Dataset, load_dataset
from calab.server.bridge_session import TuningSession
from calab.server.errors import UNPROCESSABLE, ApiError

#: Longest stretch of the loaded window used for metrics and spectra (samples, centred).
MAX_FEATURE_SAMPLES = 20_000
#: Per-cell lines listed in a drop validation summary (the totals cover every cell).
MAX_SUMMARY_CELLS = 200
#: The demo recording: raw-fluorescence-like units (F = 100 + 20 dF/F), one spike ~ 4 units.
DEMO_DEFAULTS = {
    "num_cells": 24, "duration_s": 180.0, "fs": 30.0, "indicator": "gcamp6f", "seed": 7,
    "snr": 6.0, "dc_offset": 100.0, "scale": 20.0,
}
NO_UPLOAD = "no uploaded file is waiting; POST the file to /api/v1/upload first"


def feature_routes(session: TuningSession) -> list[Route]:
    """The feature routes of the bridge, sharing ``session`` with the other routes.

    Parameters
    ----------
    session : TuningSession
        The session whose dataset, pending upload and limits the routes use.

    Returns
    -------
    list of starlette.routing.Route
        The five routes listed in the module docstring.
    """
    demo: dict[str, Any] = {}

    def dataset_or_404() -> Dataset:
        if session.dataset is None:
            raise ApiError(404, "no traces loaded yet; drop a file or load the demo data")
        return session.dataset

    async def metrics(request: Request) -> Response:
        dataset, body = dataset_or_404(), await read_json_object(request)
        params = _solve_params(body, dataset.fs)
        figures = await asyncio.to_thread(loaded_cell_metrics, dataset, *params)
        return JSONResponse(figures)

    async def spectrum(request: Request) -> Response:
        dataset = dataset_or_404()
        cell, tau_rise, tau_decay = _spectrum_query(request.query_params, dataset)
        answer = await asyncio.to_thread(cell_spectrum, dataset, cell, tau_rise, tau_decay)
        return JSONResponse(answer)

    async def load_demo(request: Request) -> Response:
        body = await read_json_object(request) if await request.body() else {}
        dataset, sim = await asyncio.to_thread(demo_dataset, body, session.max_cells)
        session.set_dataset(dataset)
        demo.update(dataset=dataset, sim=sim)
        return JSONResponse(dataset.metadata())

    async def demo_truth(request: Request) -> Response:
        dataset = dataset_or_404()
        if demo.get("dataset") is not dataset:
            raise ApiError(404, "the data shown are not the demo data; no ground truth is known")
        return JSONResponse(ground_truth(demo["sim"], dataset))

    async def upload_summary(request: Request) -> Response:
        if session.pending_upload is None:
            raise ApiError(409, NO_UPLOAD)
        body = await read_json_object(request)
        arrays = session.pending_upload
        key = body.get("key", next(iter(arrays))) if isinstance(body, dict) else None
        if key not in arrays:
            raise ApiError(UNPROCESSABLE,
                           f"key={key!r} is not in the file; available: {list(arrays)}")
        array = np.atleast_2d(arrays[key])
        array = array.T if body.get("transpose") else array
        return JSONResponse(await asyncio.to_thread(validation_summary, array))

    return [
        Route("/api/v1/metrics", metrics, methods=["POST"]),
        Route("/api/v1/spectrum", spectrum, methods=["GET"]),
        Route("/api/v1/demo", load_demo, methods=["POST"]),
        Route("/api/v1/demo/truth", demo_truth, methods=["GET"]),
        Route("/api/v1/upload/summary", upload_summary, methods=["POST"]),
    ]


def _solve_params(body: Any, fs: float) -> tuple[float, float, float, bool]:
    if not isinstance(body, dict):
        raise ApiError(UNPROCESSABLE,
                       "metrics request must be a JSON object {tau_rise, tau_decay, lambda}")
    params = {"fs": fs, **{k: body[k] for k in ("tau_rise", "tau_decay") if k in body},
              "filter_enabled": body.get("filter_enabled", False)}
    if "lambda" in body:
        params["lambda_"] = body["lambda"]
    try:
        options = DeconvolutionOptions.from_params(params)
    except CalabError as error:
        raise ApiError(UNPROCESSABLE, f"invalid metrics request: {error}") from None
    return float(options.tau_r), float(options.tau_d), float(options.lam), options.filter_enabled


def _spectrum_query(query: Any, dataset: Dataset) -> tuple[int, float, float]:
    try:
        cell = int(query.get("cell", dataset.subset.cell_indices[0]))
        tau_rise, tau_decay = float(query.get("tau_rise", 0.1)), float(query.get("tau_decay", 0.6))
        kernel_spec(tau_rise, tau_decay, dataset.fs)
    except (TypeError, ValueError) as error:
        raise ApiError(UNPROCESSABLE, f"invalid spectrum query: {error}") from None
    if not 0 <= cell < dataset.total_cells:
        raise ApiError(UNPROCESSABLE, f"cell={cell} must be in 0..{dataset.total_cells - 1}")
    return cell, tau_rise, tau_decay


def _loaded_window(dataset: Dataset) -> tuple[int, int]:
    """Centred stretch of at most MAX_FEATURE_SAMPLES of the loaded window (recording samples)."""
    s = dataset.subset
    n = s.traces.shape[1]
    length = min(n, MAX_FEATURE_SAMPLES)
    start = s.start + (n - length) // 2
    return start, start + length


def loaded_cell_metrics(
    dataset: Dataset, tau_rise: float, tau_decay: float, lam: float, filter_enabled: bool
) -> dict[str, Any]:
    """Solve every loaded cell over the loaded window and describe each fit.

    Parameters
    ----------
    dataset : Dataset
        The session's recording; its first subset is what "loaded" means.
    tau_rise, tau_decay, lam : float
        Kernel time constants (s) and sparsity.
    filter_enabled : bool
        Fit the bandpass-filtered traces (the figures then describe that fit).

    Returns
    -------
    dict
        ``{"start", "stop"}`` (recording samples), ``"seconds"`` and ``"cells"``:
        one ``{cell_index, snr, r2, fit_snr, sparsity, event_rate_hz}`` per
        loaded cell (None for a figure that is not finite); see
        :func:`calab.core.fit_quality.fit_figures`.
    """
    start, stop = _loaded_window(dataset)
    s = dataset.subset
    filled, _ = interpolate_gaps(dataset.read_window(s.cell_indices, start, stop))
    options = DeconvolutionOptions(fs=dataset.fs, tau_r=tau_rise, tau_d=tau_decay, lam=lam,
                                   filter_enabled=filter_enabled)
    result = deconvolve_matrix(filled, options)
    shown, fit = fitted_and_fit(filled, result.reconvolution, options)
    figures = fit_figures(shown, fit, result.activity, dataset.fs)
    cells = []
    for k, cell in enumerate(s.cell_indices):
        cells.append({
            "cell_index": int(cell),
            "snr": _finite(s.snr[k]),
            "r2": _finite(figures["r2"][k]),
            "fit_snr": _finite(figures["snr"][k]),
            "sparsity": _finite(figures["sparsity"][k]),
            "event_rate_hz": _finite(figures["event_rate"][k]),
        })
    return {"start": start, "stop": stop, "seconds": (stop - start) / dataset.fs, "cells": cells}


def cell_spectrum(dataset: Dataset, cell: int, tau_rise: float, tau_decay: float) -> dict[str, Any]:
    """Periodogram of one cell, the mean over loaded cells, and the filter's passband.

    Parameters
    ----------
    dataset : Dataset
        The session's recording.
    cell : int
        Original index of the cell (any cell of the recording).
    tau_rise, tau_decay : float
        Kernel time constants (s) that set the filter's cut-offs.

    Returns
    -------
    dict
        ``freqs_hz``, ``cell_power``, ``mean_power`` (lists of equal length),
        ``passband_hz`` ``[high_pass, low_pass]``, ``cell_index`` and ``seconds``.
    """
    start, stop = _loaded_window(dataset)
    loaded, _ = interpolate_gaps(dataset.read_window(dataset.subset.cell_indices, start, stop))
    chosen, _ = interpolate_gaps(dataset.read_window(np.array([cell]), start, stop))
    freqs, power = power_spectrum(loaded, dataset.fs)
    _, cell_power = power_spectrum(chosen, dataset.fs)
    high_pass, low_pass = filter_cutoffs(tau_rise, tau_decay, dataset.fs)
    return {
        "cell_index": cell,
        "freqs_hz": freqs.tolist(),
        "cell_power": cell_power[0].tolist(),
        "mean_power": power.mean(axis=0).tolist(),
        "passband_hz": [high_pass, low_pass],
        "seconds": (stop - start) / dataset.fs,
    }


def demo_dataset(body: Any, max_cells: int) -> tuple[Dataset, Any]:
    """Simulated traces as a dataset, with the simulation (the ground truth).

    Parameters
    ----------
    body : dict or None
        Overrides of :data:`DEMO_DEFAULTS` (any of its keys).
    max_cells : int
        Most cells loaded first.

    Returns
    -------
    tuple
        ``(dataset, simulation)``: a :class:`Dataset` labelled ``"demo: ..."`` and
        the :class:`calab.core.simulate.SimulationResult`.
    """
    options = {**DEMO_DEFAULTS, **(body if isinstance(body, dict) else {})}
    unknown = set(options) - set(DEMO_DEFAULTS)
    if unknown:
        raise ApiError(UNPROCESSABLE,
                       f"unknown demo options {sorted(unknown)}; use {sorted(DEMO_DEFAULTS)}")
    try:
        sim = simulate(**options)
    except (TypeError, ValueError) as error:
        raise ApiError(UNPROCESSABLE, f"invalid demo options: {error}") from None
    dataset = load_dataset(sim.traces, sim.fs, max_cells=max_cells, suggest=True)
    label = (f"demo: {options['num_cells']} simulated {options['indicator']} cells "
             f"(calab.simulate, seed {options['seed']})")
    return dataset.with_source(label), sim


def ground_truth(sim: Any, dataset: Dataset) -> dict[str, Any]:
    """True kernel and spike frames of the loaded cells of a demo dataset.

    Parameters
    ----------
    sim : SimulationResult
        The simulation behind ``dataset``.
    dataset : Dataset
        The demo dataset (its loaded cells are described).

    Returns
    -------
    dict
        ``tau_rise``, ``tau_decay``, ``fs`` and ``spikes``: per cell index (a
        string), the ``frames`` holding spikes and their ``counts``.
    """
    spikes = {}
    for cell in dataset.subset.cell_indices:
        frames = np.flatnonzero(sim.spikes[cell])
        spikes[str(int(cell))] = {"frames": frames.tolist(),
                                  "counts": sim.spikes[cell, frames].astype(int).tolist()}
    return {"tau_rise": sim.tau_rise, "tau_decay": sim.tau_decay, "fs": sim.fs, "spikes": spikes}


def validation_summary(array: np.ndarray) -> dict[str, Any]:
    """What a dropped ``(cells, time)`` array holds and what loading will do about bad values.

    Parameters
    ----------
    array : numpy.ndarray
        The dropped array, already in the chosen layout (cells x time).

    Returns
    -------
    dict
        ``shape``, ``dtype``, ``min`` and ``max`` of the finite values, totals
        ``nan_total``, ``inf_total``, ``cells_with_gaps``, ``cells_without_data``,
        and ``cells``: ``{cell, nan, inf, action}`` for the first
        :data:`MAX_SUMMARY_CELLS` cells with bad values.

    Examples
    --------
    >>> summary = validation_summary(np.array([[1.0, np.nan, 3.0], [2.0, 2.0, 2.0]]))
    >>> summary["shape"], summary["nan_total"], summary["cells"][0]["action"][:27]
    ([2, 3], 1, '1 missing sample bridged by')
    """
    data = np.asarray(array)
    floating = np.issubdtype(data.dtype, np.floating)
    nan = np.isnan(data).sum(axis=1) if floating else np.zeros(data.shape[0], int)
    inf = np.isinf(data).sum(axis=1) if floating else np.zeros(data.shape[0], int)
    finite = data[np.isfinite(data)] if floating else data.ravel()
    n_time = data.shape[1]
    bad = np.flatnonzero(nan + inf)
    cells = [{"cell": int(c), "nan": int(nan[c]), "inf": int(inf[c]),
              "action": _action(int(nan[c] + inf[c]), n_time)} for c in bad[:MAX_SUMMARY_CELLS]]
    return {
        "shape": [int(data.shape[0]), int(n_time)],
        "dtype": str(data.dtype),
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
        "nan_total": int(nan.sum()),
        "inf_total": int(inf.sum()),
        "cells_with_gaps": int(bad.size),
        "cells_without_data": int(np.count_nonzero(nan + inf == n_time)),
        "cells": cells,
        "cells_listed": len(cells),
    }


def _action(missing: int, n_time: int) -> str:
    if missing == n_time:
        return "no finite sample: this cell is skipped"
    samples = "sample" if missing == 1 else "samples"
    return (f"{missing} missing {samples} bridged by straight lines for the fit, "
            "left blank in the plot")


def _finite(value: float) -> float | None:
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None
