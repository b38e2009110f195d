"""Minian output: one zarr store per variable (``C.zarr``, ``S.zarr``, ...).

Minian saves each result with xarray's ``to_zarr``: ``C.zarr`` is a zarr group
holding the array ``C`` with dims ``(unit_id, frame)`` plus its coordinate
arrays (``unit_id``, ``frame``), read through :mod:`calab.io.zarr_store`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calab.errors import MissingFieldError, UnsupportedRecordingError
from calab.io.arrays import TraceArray
from calab.io.loaders._common import check_traces, existing_path, float_dtype, loader_result
from calab.io.recording import Recording
from calab.io.storage import is_url
from calab.io.zarr_store import (
    dimension_names,
    group_arrays,
    has_zarr_metadata,
    open_node,
    pick_array,
    stored_fs,
    zarr_source,
)

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
        Return a :class:`calab.io.arrays.TraceArray` reading the store on
        demand (picklable; ``dask.array.from_array`` wraps it) instead of NumPy.

    Returns
    -------
    traces : numpy.ndarray or calab.io.arrays.TraceArray
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
        The variable is not there; the message lists the variables found
        (:class:`calab.errors.MissingFieldError`, also a ``ValueError``).
    ValueError
        A folder holding no zarr store, or a variable that is not 2-D numbers
        with a ``frame`` dimension.

    Examples
    --------
    >>> traces, meta = load_minian("minian_output", fs=20.0)  # doctest: +SKIP
    >>> meta["unit_ids"][:3]  # doctest: +SKIP
    [0, 3, 4]
    """
    path, given = existing_path(path, "Minian output")
    return loader_result(open_minian(path, given, trace_key), fs, lazy)


def open_minian(path: str | Path, given: str, dataset: str | None = None, *,
                storage_options: dict[str, Any] | None = None) -> Recording:
    """A Minian variable as a :class:`~calab.io.recording.Recording` (read lazily).

    ``path`` is Minian's output folder or one variable's zarr store (local, or
    an fsspec URL); ``dataset`` the variable (default ``C``).
    """
    trace_key = dataset or DEFAULT_KEY
    location, node, name = _locate_variable(path, given, trace_key, storage_options)
    array, name = pick_array(node, given, name)
    dims = dimension_names(array)
    where = f"Minian variable {name!r} in input={given!r}"
    check_traces(tuple(array.shape), array.dtype, where)
    time_axis = _time_axis(dims, where)
    part = zarr_source(location, array, name, storage_options)
    traces = TraceArray([(part, 1.0)], time_first=time_axis == 0, dtype=float_dtype(part.dtype))
    unit_ids = _unit_ids(node, name, traces.shape[0])
    extras = {"trace_key": name, "dims": dims, "unit_ids": unit_ids}
    return Recording(traces, "minian", given, dataset=name, cell_ids=unit_ids,
                     file_fs=stored_fs(array, node), extras=extras)


def _locate_variable(path: str | Path, given: str, trace_key: str,
                     storage_options: dict[str, Any] | None) -> tuple[str, Any, str | None]:
    """The store to open, its root node, and the array name inside it (None: the store is
    the array)."""
    import zarr

    if is_url(str(path)) or has_zarr_metadata(Path(path)):
        node = open_node(str(path), given, storage_options)
        if isinstance(node, zarr.Array) or not group_arrays(node):
            return str(path), node, None
        arrays = group_arrays(node)
        stem = str(path).rstrip("/").rsplit("/", 1)[-1].removesuffix(".zarr")
        if trace_key == DEFAULT_KEY and trace_key not in arrays and stem in arrays:
            return str(path), node, stem
        return str(path), node, trace_key
    folder = Path(path)
    if not folder.is_dir():
        raise UnsupportedRecordingError(
            f"input={given!r} is neither Minian's output folder nor a zarr store "
            "(expected a folder holding C.zarr, or C.zarr itself)", argument="input")
    for store in (folder / f"{trace_key}.zarr", folder / trace_key):
        if has_zarr_metadata(store):
            node = open_node(str(store), f"{given}/{store.name}")
            return str(store), node, (trace_key if group_arrays(node) else None)
    variables = sorted(p.name for p in folder.glob("*.zarr") if has_zarr_metadata(p))
    if not variables:
        raise UnsupportedRecordingError(
            f"input={given!r} is not a Minian output folder: it holds no zarr stores "
            "(expected C.zarr, S.zarr, ...)", argument="input")
    raise MissingFieldError(
        f"Minian folder {given!r} has no variable {trace_key!r} ({trace_key}.zarr); "
        f"available stores: {variables}", argument="dataset")


def _time_axis(dims: list[str] | None, where: str) -> int:
    if not dims:
        return 1
    if TIME_DIM not in dims:
        raise UnsupportedRecordingError(
            f"{where} has dims {dims}; expected a {TIME_DIM!r} dimension such as "
            "(unit_id, frame)", argument="input")
    return dims.index(TIME_DIM)


def _unit_ids(node: Any, name: str | None, n_cells: int) -> list[Any] | None:
    if name is None or UNIT_DIM not in group_arrays(node):
        return None
    coordinate = node[UNIT_DIM]
    if tuple(coordinate.shape) != (n_cells,):
        return None
    values: list[Any] = np.asarray(coordinate[...]).tolist()
    return values
