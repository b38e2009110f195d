"""Minian output: one zarr store per variable (``C.zarr``, ``S.zarr``, ...).

Minian saves each result with xarray's ``to_zarr``: ``C.zarr`` is a zarr group
holding the array ``C`` with dims ``(unit_id, frame)`` plus its coordinate
arrays (``unit_id``, ``frame``). zarr itself is read through
:mod:`calab.engine.sources`, the one place that imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calab.io.loaders._common import (
    as_float_traces,
    build_meta,
    check_trace_shape,
    existing_path,
    resolve_fs,
)

ZARR_MARKERS = (".zgroup", ".zarray", "zarr.json")
TIME_DIM = "frame"
UNIT_DIM = "unit_id"
DEFAULT_KEY = "C"


def load_minian(
    path: str | Path,
    trace_key: str = DEFAULT_KEY,
    fs: float | None = None,
    *,
    lazy: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Load traces from Minian's output folder or from one variable's zarr store.

    Parameters
    ----------
    path : str or Path
        Minian's output folder (holding ``C.zarr``, ``S.zarr``, ...), or one
        variable's store such as ``minian/C.zarr`` (with the default
        ``trace_key``, ``minian/S.zarr`` reads ``S``). zarr formats 2
        (Minian's) and 3 are both read.
    trace_key : str
        The variable: ``"C"`` (denoised calcium, default), ``"YrA"``
        (residuals added back, Minian's raw-like trace) or ``"S"`` (spikes).
    fs : float, optional
        Sampling rate in Hz. Minian does not store the frame rate, so without
        it ``meta["sampling_rate_hz"]`` is None.
    lazy : bool
        Return a dask array over the zarr chunks instead of NumPy.

    Returns
    -------
    traces : numpy.ndarray or dask.array.Array
        Float traces, shape ``(n_cells, n_timepoints)`` (dims
        ``(unit_id, frame)``; a ``(frame, unit_id)`` variable is transposed).
    meta : dict
        ``source``, ``format`` (``"minian"``), ``sampling_rate_hz``,
        ``num_cells``, ``num_timepoints``, ``trace_key``, ``dims`` (as stored)
        and ``unit_ids`` (the ``unit_id`` coordinate, or None).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    KeyError
        The variable is not there; the message lists the variables found.
    ValueError
        The variable is not 2-D numbers with a ``frame`` dimension.

    Examples
    --------
    >>> traces, meta = load_minian("minian_output", fs=20.0)  # doctest: +SKIP
    >>> meta["unit_ids"][:3]  # doctest: +SKIP
    [0, 3, 4]
    """
    from calab.engine import sources

    path = existing_path(path, "Minian output")
    store, name = _locate_variable(path, trace_key)
    array, dims = sources.open_zarr_array(store, name)
    shape = tuple(array.shape)
    check_trace_shape(shape, array.dtype, f"Minian variable {name!r} in {store.name}")
    time_axis = _time_axis(dims, name)
    traces = sources.dask_from_zarr(array) if lazy else np.asarray(array[...])
    traces = as_float_traces(traces.T if time_axis == 0 else traces)
    meta = build_meta(
        path,
        "minian",
        resolve_fs(fs, None),
        traces.shape,
        trace_key=name,
        dims=dims,
        unit_ids=_unit_ids(sources, store, name),
    )
    return traces, meta


def is_zarr_store(path: Path) -> bool:
    """True when ``path`` is a directory holding zarr (format 2 or 3) metadata."""
    return path.is_dir() and any((path / marker).is_file() for marker in ZARR_MARKERS)


def _locate_variable(path: Path, trace_key: str) -> tuple[Path, str | None]:
    """The store to open and the array name inside it (None: the store is the array)."""
    from calab.engine.sources import zarr_group_arrays

    if is_zarr_store(path):
        if (path / ".zarray").is_file() or not zarr_group_arrays(path):
            return path, None
        arrays = zarr_group_arrays(path)
        stem = path.name.removesuffix(".zarr")
        if trace_key == DEFAULT_KEY and trace_key not in arrays and stem in arrays:
            return path, stem
        return path, trace_key
    if not path.is_dir():
        raise ValueError(
            f"path={str(path)!r} is neither Minian's output folder nor a zarr store "
            "(expected a folder holding C.zarr, or C.zarr itself)"
        )
    store = path / f"{trace_key}.zarr"
    if is_zarr_store(store):
        return store, trace_key
    if is_zarr_store(path / trace_key):
        return path / trace_key, trace_key
    variables = sorted(p.name for p in path.glob("*.zarr") if is_zarr_store(p))
    raise KeyError(
        f"Minian folder {str(path)!r} has no variable {trace_key!r} ({trace_key}.zarr); "
        f"available stores: {variables}"
    )


def _time_axis(dims: list[str] | None, name: str | None) -> int:
    if not dims:
        return 1
    if TIME_DIM not in dims:
        raise ValueError(
            f"Minian variable {name!r} has dims {dims}; expected a {TIME_DIM!r} dimension "
            "such as (unit_id, frame)"
        )
    return dims.index(TIME_DIM)


def _unit_ids(sources: Any, store: Path, name: str | None) -> list[Any] | None:
    if name is None or UNIT_DIM not in sources.zarr_group_arrays(store):
        return None
    coordinate, _ = sources.open_zarr_array(store, UNIT_DIM)
    return np.asarray(coordinate[...]).tolist()
