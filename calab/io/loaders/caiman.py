"""CaImAn results saved with ``cnm.save("results.hdf5")``."""

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

RESIDUALS_KEY = "estimates/YrA"
ACCEPTED_KEY = "estimates/idx_components"
DECAY_TIME_KEY = "params/data/decay_time"
MAX_LISTED_KEYS = 40


def load_caiman(
    path: str | Path,
    trace_key: str = "estimates/C",
    fs_key: str = "params/data/fr",
    fs: float | None = None,
    *,
    add_residuals: bool = False,
    only_accepted: bool = False,
    lazy: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Load traces from a CaImAn results file (HDF5).

    CaImAn's ``cnm.save("results.hdf5")`` stores the denoised traces as
    ``estimates/C`` (components x frames), the residual traces as
    ``estimates/YrA``, the accepted components as ``estimates/idx_components``
    and the frame rate as ``params/data/fr``.

    Parameters
    ----------
    path : str or Path
        The ``.hdf5`` / ``.h5`` file written by CaImAn.
    trace_key : str
        Dataset holding the traces, shape ``(n_components, n_frames)``.
        ``"estimates/C"`` (default) are CaImAn's denoised traces;
        ``"estimates/F_dff"`` its dF/F when computed.
    fs_key : str
        Dataset holding the frame rate in Hz; when absent the rate is None.
    fs : float, optional
        Sampling rate in Hz overriding the file's.
    add_residuals : bool
        Return ``C + YrA`` (the raw-like trace CaImAn's denoising started
        from) instead of ``C`` alone; needs ``estimates/YrA``.
    only_accepted : bool
        Keep only the components listed in ``estimates/idx_components``
        (those accepted by ``evaluate_components``).
    lazy : bool
        Return a dask array reading the file block by block instead of NumPy.

    Returns
    -------
    traces : numpy.ndarray or dask.array.Array
        Float traces, shape ``(n_cells, n_timepoints)``.
    meta : dict
        ``source``, ``format`` (``"caiman"``), ``sampling_rate_hz`` (Hz or
        None), ``num_cells``, ``num_timepoints``, ``trace_key``,
        ``add_residuals``, ``component_indices`` (the kept rows of the file)
        and ``decay_time_s`` (CaImAn's ``params/data/decay_time``, or None).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    KeyError
        ``trace_key`` (or ``estimates/YrA``, ``estimates/idx_components``
        when asked for) is not in the file; the message lists what is.
    ValueError
        The traces are not 2-D numbers, or ``YrA`` does not match ``C``.
    ImportError
        h5py is missing (``pip install 'calab[loaders]'``).

    Examples
    --------
    >>> traces, meta = load_caiman("caiman_results.hdf5", add_residuals=True)  # doctest: +SKIP
    >>> traces.shape, meta["sampling_rate_hz"]  # doctest: +SKIP
    ((412, 18000), 30.0)
    """
    h5py = require_module("h5py", "loaders", "load_caiman")
    path = existing_path(path, "CaImAn results file")
    with h5py.File(path, "r") as handle:
        shape = _dataset_shape(handle, trace_key, path)
        if add_residuals:
            _check_residuals(handle, shape, trace_key, path)
        indices = _accepted_indices(handle, shape[0], path) if only_accepted else None
        file_fs = _read_scalar(handle, fs_key)
        decay_time = _read_scalar(handle, DECAY_TIME_KEY)
        traces = None if lazy else _read_eager(handle, trace_key, add_residuals, indices)
    if lazy:
        traces = _read_lazy(path, trace_key, add_residuals, indices)
    kept = list(range(shape[0])) if indices is None else [int(i) for i in indices]
    meta = build_meta(
        path,
        "caiman",
        resolve_fs(fs, file_fs),
        traces.shape,
        trace_key=trace_key,
        add_residuals=bool(add_residuals),
        component_indices=kept,
        decay_time_s=decay_time,
    )
    return traces, meta


def _dataset_shape(handle: Any, key: str, path: Path) -> tuple[int, ...]:
    node = handle.get(key)
    if node is None or not hasattr(node, "shape"):
        raise KeyError(
            f"{str(path)!r} has no dataset {key!r}; available datasets: "
            f"{_list_datasets(handle, key)}"
        )
    check_trace_shape(tuple(node.shape), node.dtype, f"{key} in {path.name}")
    return tuple(node.shape)


def _list_datasets(handle: Any, key: str) -> list[str]:
    """Datasets under the key's parent group (or the whole file), for error messages."""
    parent = key.rsplit("/", 1)[0] if "/" in key else ""
    group = handle.get(parent) if parent else None
    root = group if group is not None and hasattr(group, "visititems") else handle
    prefix = f"{root.name.strip('/')}/" if root.name != "/" else ""
    found: list[str] = []

    def visit(name: str, node: Any) -> None:
        if hasattr(node, "shape"):
            found.append(prefix + name)

    root.visititems(visit)
    listed = sorted(found)[:MAX_LISTED_KEYS]
    return [*listed, "..."] if len(found) > MAX_LISTED_KEYS else listed


def _check_residuals(handle: Any, shape: tuple[int, ...], trace_key: str, path: Path) -> None:
    residual_shape = _dataset_shape(handle, RESIDUALS_KEY, path)
    if residual_shape != shape:
        raise ValueError(
            f"{RESIDUALS_KEY} has shape {residual_shape} but {trace_key} has shape {shape}; "
            "add_residuals=True needs both the same"
        )


def _accepted_indices(handle: Any, n_components: int, path: Path) -> np.ndarray:
    node = handle.get(ACCEPTED_KEY)
    if node is None:
        raise KeyError(
            f"{str(path)!r} has no {ACCEPTED_KEY!r} (components were not evaluated); "
            f"available datasets: {_list_datasets(handle, ACCEPTED_KEY)}; "
            "pass only_accepted=False to keep every component"
        )
    values = np.asarray(node[()])
    if values.dtype.kind not in "iub":
        raise ValueError(
            f"{ACCEPTED_KEY} in {path.name} holds {values!r}, not component indices "
            "(CaImAn stores 'NoneType' before evaluate_components); pass only_accepted=False"
        )
    indices = np.flatnonzero(values) if values.dtype.kind == "b" else values.astype(np.int64)
    indices = np.atleast_1d(indices)
    if indices.size and (indices.min() < 0 or indices.max() >= n_components):
        raise ValueError(
            f"{ACCEPTED_KEY} has indices outside 0..{n_components - 1}: "
            f"min {indices.min()}, max {indices.max()}"
        )
    return indices


def _read_scalar(handle: Any, key: str) -> float | None:
    """A numeric scalar dataset as float; None when absent or not a number."""
    node = handle.get(key)
    if node is None or not hasattr(node, "shape"):
        return None
    value = np.asarray(node[()])
    if value.dtype.kind not in "iuf" or value.size != 1:
        return None
    return float(value.reshape(-1)[0])


def _read_eager(handle: Any, trace_key: str, add_residuals: bool, indices: Any) -> np.ndarray:
    traces = as_float_traces(np.asarray(handle[trace_key][()]))
    if add_residuals:
        traces = traces + np.asarray(handle[RESIDUALS_KEY][()], dtype=traces.dtype)
    if indices is not None:
        traces = traces[indices]
    return np.ascontiguousarray(traces)


def _read_lazy(path: Path, trace_key: str, add_residuals: bool, indices: Any) -> Any:
    from calab.engine.sources import dask_from_hdf5

    traces = as_float_traces(dask_from_hdf5(path, trace_key, time_axis=1))
    if add_residuals:
        traces = traces + dask_from_hdf5(path, RESIDUALS_KEY, time_axis=1).astype(traces.dtype)
    if indices is not None:
        traces = traces[indices]
    return traces
