"""Deconvolved activity back into NWB, beside the fluorescence it came from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from calab.io.loaders._common import existing_path, require_module
from calab.io.writers._common import (
    OUTPUT_FORMAT,
    activity_matrix,
    provenance,
    update_file_copy,
)

ACTIVITY_NAME = "Deconvolved"
RECONVOLUTION_SUFFIX = "Reconvolution"
DIAGNOSTICS_SUFFIX = "Diagnostics"
ACTIVITY_UNIT = "a.u."


def save_nwb(
    result: Any,
    source: str | Path,
    output: str | Path | None = None,
    *,
    series: str | None = None,
    params: Mapping[str, Any] | None = None,
    name: str = ACTIVITY_NAME,
    module: str = "ophys",
    full: bool | None = None,
) -> Path:
    """Write deconvolved activity into an NWB file beside the series it came from.

    The activity becomes a ``RoiResponseSeries`` named ``name`` (``Deconvolved``,
    the name suite2p and neuroconv use) in the container that holds the
    source series (``ophys/Fluorescence`` or ``ophys/DfOverF``), over the same
    rows of the same ROI table, with the source's rate (or a link to its
    timestamps), unit ``"a.u."`` and a description recording the parameters
    and calab's version. The file is written to a temporary beside the
    destination and renamed into place: a failure never leaves a
    half-written file.

    Parameters
    ----------
    result : numpy.ndarray or DeconvolutionResult
        Activity ``(n_rois, n_timepoints)`` (time last, as calab returns it),
        or the result of :func:`calab.run_deconvolution_full`.
    source : str or pathlib.Path
        The NWB file holding the deconvolved fluorescence series.
    output : str or pathlib.Path, optional
        Where to write a copy of ``source`` with the new series. None appends
        to ``source`` itself.
    series : str, optional
        The source series, as for :func:`calab.load_nwb` (optional when the
        module holds exactly one).
    params : mapping, optional
        The deconvolution parameters (``tau_rise``, ``tau_decay``,
        ``lambda_``, ``fs`` ...), recorded in the description.
    name : str
        Name of the new series (default ``"Deconvolved"``).
    module : str
        Processing module holding the source series (default ``"ophys"``).
    full : bool, optional
        Also write the reconvolution (``<name>Reconvolution``, the fit in the
        source's unit) and a ``<name>Diagnostics`` table (ROI id, baseline,
        iterations, converged). Default: True when ``result`` is a
        DeconvolutionResult.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    FileNotFoundError
        ``source`` (or the folder of ``output``) does not exist.
    FileExistsError
        ``output`` exists and is not ``source``, or the container already
        holds a series called ``name``.
    ValueError
        The activity's shape is not the source series' ``(n_rois, n_timepoints)``.
    ImportError
        pynwb is missing (``pip install 'calab[nwb]'``).

    Examples
    --------
    >>> import calab
    >>> traces, meta = calab.load_nwb("session.nwb")  # doctest: +SKIP
    >>> fs = meta["sampling_rate_hz"]  # doctest: +SKIP
    >>> res = calab.run_deconvolution_full(traces, fs, 0.1, 0.6, 0.5)  # doctest: +SKIP
    >>> calab.save_nwb(res, "session.nwb", "session_deconvolved.nwb")  # doctest: +SKIP
    PosixPath('session_deconvolved.nwb')
    """
    require_module("pynwb", "nwb", "save_nwb")
    source, _ = existing_path(source, "NWB file")
    destination = source if output is None else Path(output).expanduser()
    if output is not None and destination.exists() and not destination.samefile(source):
        raise FileExistsError(
            f"output={str(destination)!r} exists; choose a new path (it is never overwritten) "
            "or append to the source with output=None"
        )
    parts = _result_parts(result, full)

    def modify(path: Path) -> None:
        _append_series(path, parts, series=series, params=params, name=name, module=module,
                       shown=source)

    return update_file_copy(source, destination, modify)


def _result_parts(result: Any, full: bool | None) -> dict[str, Any]:
    is_full_result = all(hasattr(result, key) for key in ("activity", "reconvolution"))
    if full is None:
        full = is_full_result
    if full and not is_full_result:
        raise TypeError(
            f"full=True needs a DeconvolutionResult (run_deconvolution_full); got "
            f"{type(result).__name__}"
        )
    if not is_full_result:
        return {"activity": result, "full": False}
    parts = {key: getattr(result, key) for key in
             ("activity", "reconvolution", "baseline", "iterations", "converged")}
    return {**parts, "full": bool(full)}


def _append_series(path: Path, parts: dict[str, Any], *, series: str | None,
                   params: Mapping[str, Any] | None, name: str, module: str,
                   shown: Path) -> None:
    """Add the series to the NWB file at ``path``; messages name ``shown`` (the user's file)."""
    from pynwb import NWBHDF5IO

    from calab.io.loaders.nwb import _choose_series, _roi_response_series

    with NWBHDF5IO(str(path), mode="a") as io:
        nwbfile = io.read()
        found = _roi_response_series(nwbfile, module, str(shown))
        if series is None:  # calab's own earlier outputs are not candidate sources
            found = {key: value for key, value in found.items()
                     if OUTPUT_FORMAT not in str(value[1].description)}
        chosen_name = _choose_series(found, series, str(shown))
        _kind, source_series = found[chosen_name]
        container = _container_of(nwbfile, module, chosen_name)
        n_time, n_rois = _time_rois(source_series)
        activity = activity_matrix(parts["activity"], n_rois, n_time,
                                   f"series {chosen_name!r}")
        record = provenance(params, source_series=chosen_name)
        names = [name]
        if parts["full"]:
            names += [name + RECONVOLUTION_SUFFIX, name + DIAGNOSTICS_SUFFIX]
        _refuse_existing(nwbfile, module, container, names, shown)
        _add_series(container, source_series, name, activity, ACTIVITY_UNIT,
                    "calab deconvolved activity (scaled, kernel peak = 1; not spike counts). "
                    + json.dumps(record))
        if parts["full"]:
            fit = activity_matrix(parts["reconvolution"], n_rois, n_time, "reconvolution")
            _add_series(container, source_series, names[1], fit, str(source_series.unit),
                        "calab reconvolution: the fit in the source's unit "
                        "(source - this = residual). " + json.dumps(record))
            nwbfile.processing[module].add(
                _diagnostics_table(names[2], source_series, parts, n_rois, record))
        io.write(nwbfile)


def _container_of(nwbfile: Any, module: str, qualified: str) -> Any:
    ophys = nwbfile.processing[module]
    if "/" in qualified:
        return ophys.data_interfaces[qualified.split("/", 1)[0]]
    return ophys


def _time_rois(source_series: Any) -> tuple[int, int]:
    shape = tuple(source_series.data.shape)
    return (shape[0], 1) if len(shape) == 1 else (shape[0], shape[1])


def _refuse_existing(nwbfile: Any, module: str, container: Any, names: list[str],
                     path: Path) -> None:
    existing = set(nwbfile.processing[module].data_interfaces)
    if hasattr(container, "roi_response_series"):
        existing |= set(container.roi_response_series)
    clash = [n for n in names if n in existing]
    if clash:
        raise FileExistsError(
            f"{path.name} already holds {clash} in processing module {module!r}; "
            "pass another name= (--name) to keep both"
        )


def _add_series(container: Any, source_series: Any, name: str, values: np.ndarray,
                unit: str, description: str) -> None:
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb.ophys import RoiResponseSeries

    table = source_series.rois.table
    rows = np.asarray(source_series.rois.data[()], dtype=np.int64).tolist()
    region = table.create_roi_table_region(region=rows, description=f"ROIs of {name}")
    timing: dict[str, Any]
    if source_series.rate is not None:
        timing = {"rate": float(source_series.rate),
                  "starting_time": float(source_series.starting_time or 0.0)}
    else:
        timing = {"timestamps": source_series}  # a link to the source's timestamps
    data = H5DataIO(values.T.copy(), compression="gzip")  # NWB is time-first
    series = RoiResponseSeries(name=name, data=data, rois=region, unit=unit,
                               description=description, **timing)
    if hasattr(container, "add_roi_response_series"):
        container.add_roi_response_series(series)
    else:
        container.add(series)


def _diagnostics_table(name: str, source_series: Any, parts: dict[str, Any], n_rois: int,
                       record: dict[str, Any]) -> Any:
    from hdmf.common import DynamicTable, VectorData

    rows = np.asarray(source_series.rois.data[()], dtype=np.int64)
    roi_ids = np.asarray(source_series.rois.table.id[()])[rows]
    columns: dict[str, tuple[np.ndarray, str]] = {
        "roi_id": (roi_ids.astype(np.int64), "id of the ROI in the segmentation table"),
        "baseline": (np.atleast_1d(parts["baseline"]).astype(np.float64),
                     "scalar baseline per ROI in the source's unit"),
        "iterations": (np.atleast_1d(parts["iterations"]).astype(np.int32),
                       "FISTA iterations run"),
        "converged": (np.atleast_1d(parts["converged"]).astype(bool),
                      "whether the solver met its tolerance"),
    }
    for key, (values, _) in columns.items():
        if values.shape != (n_rois,):
            raise ValueError(f"{key} has shape {values.shape}; expected ({n_rois},)")
    vectors = [VectorData(name=key, description=text, data=values)
               for key, (values, text) in columns.items()]
    return DynamicTable(name=name, description="calab per-ROI diagnostics. "
                        + json.dumps(record), columns=vectors)
