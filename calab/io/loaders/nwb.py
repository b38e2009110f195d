"""Neurodata Without Borders: ``RoiResponseSeries`` under ``processing/ophys``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calab.io.loaders._common import (
    as_float_traces,
    build_meta,
    check_trace_shape,
    existing_path,
    require_module,
    resolve_fs,
)

CONTAINER_TYPES = ("Fluorescence", "DfOverF")


def load_nwb(
    path: str | Path,
    series: str | None = None,
    fs: float | None = None,
    *,
    module: str = "ophys",
    lazy: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Load an ``RoiResponseSeries`` from an NWB file.

    The series are looked up in the processing module ``module`` (``ophys``),
    inside its ``Fluorescence`` and ``DfOverF`` containers. NWB stores data
    time-first, ``(n_timepoints, n_rois)``; the traces are returned transposed
    to ``(n_rois, n_timepoints)``, scaled by the series' ``conversion`` and
    ``offset`` into its ``unit``.

    Parameters
    ----------
    path : str or Path
        The ``.nwb`` file (HDF5 backend).
    series : str, optional
        Name of the series, plain (``"RoiResponseSeries"``) or qualified by its
        container (``"DfOverF/RoiResponseSeries"``). Optional when the file
        holds exactly one.
    fs : float, optional
        Sampling rate in Hz overriding the series' ``rate`` (or the rate
        derived from its ``timestamps``: 1 / median interval).
    module : str
        The processing module holding the series.
    lazy : bool
        Return a dask array over the HDF5 dataset instead of NumPy.

    Returns
    -------
    traces : numpy.ndarray or dask.array.Array
        Float traces, shape ``(n_rois, n_timepoints)``.
    meta : dict
        ``source``, ``format`` (``"nwb"``), ``sampling_rate_hz``,
        ``num_cells``, ``num_timepoints``, ``series`` (qualified name),
        ``container`` (``"Fluorescence"`` or ``"DfOverF"``), ``unit``,
        ``roi_ids`` (ids of the plane segmentation rows), ``indicator`` (of the
        imaging plane, or None), ``starting_time_s`` and ``available_series``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    KeyError
        The processing module or the named series is missing; the message
        lists the available ones.
    ValueError
        Several series and none named, a file pynwb cannot read, or data that
        is not 1-D/2-D numbers.
    ImportError
        pynwb is missing (``pip install 'calab[nwb]'``).

    Examples
    --------
    >>> traces, meta = load_nwb("session.nwb", series="RoiResponseSeries")  # doctest: +SKIP
    >>> meta["container"], meta["sampling_rate_hz"]  # doctest: +SKIP
    ('Fluorescence', 30.0)
    """
    pynwb = require_module("pynwb", "nwb", "load_nwb")
    path = existing_path(path, "NWB file")
    with pynwb.NWBHDF5IO(str(path), mode="r") as io:
        nwbfile = _read_file(io, path)
        found = _roi_response_series(nwbfile, module, path)
        name = _choose_series(found, series, path)
        container, chosen = found[name]
        traces = _series_traces(chosen, path, lazy)
        meta = build_meta(
            path,
            "nwb",
            resolve_fs(fs, _series_rate(chosen)),
            traces.shape,
            series=name,
            container=container,
            unit=str(chosen.unit),
            roi_ids=_roi_ids(chosen),
            indicator=_indicator(chosen),
            starting_time_s=_starting_time(chosen),
            available_series=sorted(found),
        )
    return traces, meta


def _read_file(io: Any, path: Path) -> Any:
    try:
        return io.read()
    except Exception as error:
        raise ValueError(f"{str(path)!r} is not an NWB file pynwb can read: {error}") from error


def _roi_response_series(nwbfile: Any, module: str, path: Path) -> dict[str, tuple[str, Any]]:
    """Qualified name -> (container type, series) for every RoiResponseSeries in the module."""
    if module not in nwbfile.processing:
        raise KeyError(
            f"{str(path)!r} has no processing module {module!r}; "
            f"available modules: {sorted(nwbfile.processing)}"
        )
    found: dict[str, tuple[str, Any]] = {}
    for container_name, interface in nwbfile.processing[module].data_interfaces.items():
        kind = type(interface).__name__
        if kind in CONTAINER_TYPES:
            for name, series in interface.roi_response_series.items():
                found[f"{container_name}/{name}"] = (kind, series)
        elif kind == "RoiResponseSeries":
            found[container_name] = (kind, interface)
    return found


def _choose_series(found: dict[str, tuple[str, Any]], series: str | None, path: Path) -> str:
    available = sorted(found)
    if series is None:
        if len(found) == 1:
            return available[0]
        if not found:
            raise KeyError(f"{str(path)!r} holds no RoiResponseSeries in Fluorescence/DfOverF")
        raise ValueError(f"{str(path)!r} holds several series; pass series= one of {available}")
    if series in found:
        return series
    matches = [key for key in available if key.rsplit("/", 1)[-1] == series]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ValueError(f"series={series!r} is ambiguous; pass one of {matches}")
    raise KeyError(f"series={series!r} not found in {str(path)!r}; available series: {available}")


def _series_traces(series: Any, path: Path, lazy: bool) -> Any:
    data = series.data
    shape = tuple(data.shape)
    if len(shape) == 1:
        shape = (shape[0], 1)
    check_trace_shape(shape[::-1], data.dtype, f"series {series.name!r} in {path.name}")
    if lazy:
        from calab.engine.sources import dask_from_hdf5

        values = dask_from_hdf5(path, data.name, time_axis=0)
    else:
        values = np.asarray(data[()])
    values = values.reshape(shape).T
    values = as_float_traces(values)
    conversion = float(getattr(series, "conversion", 1.0) or 1.0)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    if conversion != 1.0 or offset != 0.0:
        values = values * conversion + offset
    return values if lazy else np.ascontiguousarray(values)


def _series_rate(series: Any) -> float | None:
    if series.rate is not None:
        return float(series.rate)
    if series.timestamps is None:
        return None
    stamps = np.asarray(series.timestamps[()], dtype=np.float64)
    steps = np.diff(stamps)
    if steps.size == 0 or not np.median(steps) > 0:
        return None
    return float(1.0 / np.median(steps))


def _starting_time(series: Any) -> float | None:
    if series.rate is not None:
        return float(series.starting_time or 0.0)
    if series.timestamps is not None and len(series.timestamps):
        return float(series.timestamps[0])
    return None


def _roi_ids(series: Any) -> list[int] | None:
    region = getattr(series, "rois", None)
    if region is None:
        return None
    rows = np.asarray(region.data[()], dtype=np.int64)
    ids = np.asarray(region.table.id[()])
    return ids[rows].tolist()


def _indicator(series: Any) -> str | None:
    try:
        return str(series.rois.table.imaging_plane.indicator)
    except AttributeError:
        return None
