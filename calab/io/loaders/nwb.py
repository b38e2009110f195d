"""Neurodata Without Borders: ``RoiResponseSeries`` under ``processing/ophys``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calab.errors import MissingFieldError, UnsupportedRecordingError
from calab.io.arrays import HDF5Array, TraceArray, unreadable
from calab.io.loaders._common import (
    check_traces,
    existing_path,
    float_dtype,
    loader_result,
    require_module,
)
from calab.io.recording import Recording

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
        Return a :class:`calab.io.arrays.TraceArray` reading the file on
        demand (picklable; ``dask.array.from_array`` wraps it) instead of NumPy.

    Returns
    -------
    traces : numpy.ndarray or calab.io.arrays.TraceArray
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
    require_module("pynwb", "nwb", "load_nwb")
    path, given = existing_path(path, "NWB file")
    return loader_result(open_nwb(path, given, series, module=module), fs, lazy)


def open_nwb(path: Path, given: str, dataset: str | None = None, *,
             module: str = "ophys") -> Recording:
    """An NWB ``RoiResponseSeries`` as a :class:`~calab.io.recording.Recording` (read lazily).

    ``dataset`` is the series name; see :func:`load_nwb`.
    """
    pynwb = require_module("pynwb", "nwb", "reading NWB files")
    if path.is_dir():
        raise UnsupportedRecordingError(f"input={given!r} is a folder, not an NWB file",
                                        argument="input")
    try:
        io = pynwb.NWBHDF5IO(str(path), mode="r")
    except Exception as err:  # h5py/hdmf raise OSError, ValueError, ... for a non-NWB file
        raise unreadable(given, "NWB file", err) from None
    with io:
        nwbfile = _read_file(io, given)
        found = _roi_response_series(nwbfile, module, given)
        name = _choose_series(found, dataset, given)
        container, chosen = found[name]
        traces = _series_traces(chosen, path, given)
        file_fs = _series_rate(chosen)
        roi_ids = _roi_ids(chosen)
        extras = {
            "series": name,
            "container": container,
            "unit": str(chosen.unit),
            "roi_ids": roi_ids,
            "indicator": _indicator(chosen),
            "starting_time_s": _starting_time(chosen),
            "available_series": sorted(found),
        }
    return Recording(traces, "nwb", given, file_fs=file_fs, dataset=name, cell_ids=roi_ids,
                     one_trace=False, extras=extras)


def _read_file(io: Any, given: str) -> Any:
    try:
        return io.read()
    except Exception as error:  # hdmf raises many types for a file it cannot map
        raise UnsupportedRecordingError(
            f"input={given!r} is not an NWB file pynwb can read ({type(error).__name__}: "
            f"{str(error)[:200]})", argument="input") from None


def _roi_response_series(nwbfile: Any, module: str, given: str) -> dict[str, tuple[str, Any]]:
    """Qualified name -> (container type, series) for every RoiResponseSeries in the module."""
    if module not in nwbfile.processing:
        raise MissingFieldError(
            f"input={given!r} has no processing module {module!r}; "
            f"available modules: {sorted(nwbfile.processing)}", argument="module"
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


def _choose_series(found: dict[str, tuple[str, Any]], series: str | None, given: str) -> str:
    available = sorted(found)
    if series is None:
        if len(found) == 1:
            return available[0]
        if not found:
            raise MissingFieldError(
                f"input={given!r} holds no RoiResponseSeries in Fluorescence/DfOverF",
                argument="dataset")
        raise UnsupportedRecordingError(
            f"input={given!r} holds several series; pass series= (--dataset) one of "
            f"{available}", argument="dataset")
    if series in found:
        return series
    matches = [key for key in available if key.rsplit("/", 1)[-1] == series]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UnsupportedRecordingError(
            f"series={series!r} is ambiguous; pass one of {matches}", argument="dataset")
    raise MissingFieldError(
        f"series={series!r} not found in input={given!r}; available series: {available}",
        argument="dataset")


def _series_traces(series: Any, path: Path, given: str) -> TraceArray:
    data = series.data
    shape = tuple(int(n) for n in data.shape)
    check_traces(shape[::-1] if len(shape) == 2 else (1, *shape), data.dtype,
                 f"series {series.name!r} in input={given!r}")
    if not hasattr(data, "name") or not hasattr(data, "chunks"):
        raise UnsupportedRecordingError(
            f"series {series.name!r} in input={given!r} is not stored as an HDF5 dataset",
            argument="dataset")
    part = HDF5Array(str(path), data.name, shape, data.dtype, data.chunks)
    conversion = float(getattr(series, "conversion", 1.0) or 1.0)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    return TraceArray([(part, 1.0)], time_first=True, scale=conversion, offset=offset,
                      dtype=float_dtype(data.dtype))


def _series_rate(series: Any) -> float | None:
    if series.rate is not None:
        rate = float(series.rate)
        return rate if np.isfinite(rate) and rate > 0 else None
    if series.timestamps is None:
        return None
    stamps = np.asarray(series.timestamps[()], dtype=np.float64)
    steps = np.diff(stamps)
    if steps.size == 0 or not np.median(steps) > 0:
        return None
    rate = float(1.0 / np.median(steps))
    return rate if np.isfinite(rate) else None


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
    return [int(i) for i in ids[rows]]


def _indicator(series: Any) -> str | None:
    try:
        return str(series.rois.table.imaging_plane.indicator)
    except AttributeError:
        return None
