"""CaImAn results saved with ``cnm.save("results.hdf5")``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calab.errors import MissingFieldError, UnsupportedRecordingError
from calab.io.arrays import HDF5Array, TraceArray
from calab.io.formats import hdf5_file
from calab.io.loaders._common import check_traces, existing_path, float_dtype, loader_result
from calab.io.recording import Recording

DEFAULT_TRACE_KEY = "estimates/C"
DEFAULT_FS_KEY = "params/data/fr"
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
        Return a :class:`calab.io.arrays.TraceArray` reading the file on demand
        (picklable; ``dask.array.from_array`` wraps it) instead of NumPy.

    Returns
    -------
    traces : numpy.ndarray or calab.io.arrays.TraceArray
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
        when asked for) is not in the file; the message lists what is
        (:class:`calab.errors.MissingFieldError`, also a ``ValueError``).
    ValueError
        Not an HDF5 file, traces that are not 2-D numbers, or ``YrA`` that
        does not match ``C`` (:class:`calab.errors.UnsupportedRecordingError`).
    ImportError
        h5py is missing (``pip install 'calab[loaders]'``).

    Examples
    --------
    >>> traces, meta = load_caiman("caiman_results.hdf5", add_residuals=True)  # doctest: +SKIP
    >>> traces.shape, meta["sampling_rate_hz"]  # doctest: +SKIP
    ((412, 18000), 30.0)
    """
    path, given = existing_path(path, "CaImAn results file")
    recording = open_caiman(path, given, trace_key, fs_key=fs_key, add_residuals=add_residuals,
                            only_accepted=only_accepted)
    return loader_result(recording, fs, lazy)


def open_caiman(
    path: Path,
    given: str,
    dataset: str | None = None,
    *,
    fs_key: str = DEFAULT_FS_KEY,
    add_residuals: bool = False,
    only_accepted: bool = False,
) -> Recording:
    """A CaImAn results file as a :class:`~calab.io.recording.Recording` (read lazily).

    ``dataset`` is the traces key (default ``estimates/C``); see :func:`load_caiman`.
    """
    trace_key = dataset or DEFAULT_TRACE_KEY
    with hdf5_file(path, given, "CaImAn results file") as handle:
        node = _dataset(handle, trace_key, given)
        parts = [(HDF5Array(str(path), trace_key, node.shape, node.dtype, node.chunks), 1.0)]
        if add_residuals:
            residuals = _dataset(handle, RESIDUALS_KEY, given)
            _check_residuals(tuple(residuals.shape), tuple(node.shape), trace_key)
            parts.append((HDF5Array(str(path), RESIDUALS_KEY, residuals.shape, residuals.dtype,
                                    residuals.chunks), 1.0))
        indices = _accepted_indices(handle, node.shape[0], given) if only_accepted else None
        file_fs = _read_scalar(handle, fs_key)
        decay_time = _read_scalar(handle, DECAY_TIME_KEY)
    traces = TraceArray(parts, rows=indices, dtype=float_dtype(node.dtype))
    kept = list(range(node.shape[0])) if indices is None else [int(i) for i in indices]
    extras = {"trace_key": trace_key, "add_residuals": bool(add_residuals),
              "component_indices": kept, "decay_time_s": decay_time}
    return Recording(traces, "caiman", given, file_fs=file_fs, dataset=trace_key,
                     cell_ids=kept, extras=extras)


def _dataset(handle: Any, key: str, given: str) -> Any:
    node = handle.get(key)
    if node is None or not hasattr(node, "shape"):
        raise MissingFieldError(
            f"input={given!r} has no dataset {key!r}; available datasets: "
            f"{_list_datasets(handle, key)}", argument="dataset"
        )
    check_traces(tuple(node.shape), node.dtype, f"{key} in input={given!r}")
    return node


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


def _check_residuals(residual_shape: tuple[int, ...], shape: tuple[int, ...],
                      trace_key: str) -> None:
    if residual_shape != shape:
        raise UnsupportedRecordingError(
            f"{RESIDUALS_KEY} has shape {residual_shape} but {trace_key} has shape {shape}; "
            "add_residuals=True needs both the same"
        )


def _accepted_indices(handle: Any, n_components: int, given: str) -> np.ndarray:
    node = handle.get(ACCEPTED_KEY)
    if node is None or not hasattr(node, "shape"):
        raise MissingFieldError(
            f"input={given!r} has no {ACCEPTED_KEY!r} (components were not evaluated); "
            f"available datasets: {_list_datasets(handle, ACCEPTED_KEY)}; "
            "pass only_accepted=False to keep every component", argument="only_accepted"
        )
    values = np.asarray(node[()])
    if values.dtype.kind not in "iub":
        raise UnsupportedRecordingError(
            f"{ACCEPTED_KEY} in input={given!r} holds {values!r}, not component indices "
            "(CaImAn stores 'NoneType' before evaluate_components); pass only_accepted=False"
        )
    indices = np.flatnonzero(values) if values.dtype.kind == "b" else values.astype(np.int64)
    indices = np.atleast_1d(indices)
    if indices.size and (indices.min() < 0 or indices.max() >= n_components):
        raise UnsupportedRecordingError(
            f"{ACCEPTED_KEY} in input={given!r} has indices outside 0..{n_components - 1}: "
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
    number = float(value.reshape(-1)[0])
    return number if np.isfinite(number) and number > 0 else None


