"""One entry point for every command that reads traces: ``read_traces``.

It recognises a plain ``.npy``, tuning data (``<stem>.npy`` with
``<stem>_metadata.json``), CaImAn HDF5, a Minian folder or zarr store, a
suite2p plane folder and NWB, and hands the file to the matching reader.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from calab.core.options import choice as check_choice
from calab.io.loaders import load_caiman, load_minian, load_nwb, load_suite2p
from calab.io.loaders._common import build_meta, check_trace_shape, resolve_fs
from calab.io.loaders.minian import is_zarr_store

FORMATS = ("npy", "tuning", "caiman", "minian", "suite2p", "nwb")
SIDECAR_SUFFIX = "_metadata.json"


def read_traces(
    path: str | Path,
    *,
    fs: float | None = None,
    dataset: str | None = None,
    fmt: str | None = None,
    lazy: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Read traces from any supported input, detecting the format from the path.

    Parameters
    ----------
    path : str or Path
        ``rec.npy``; a tuning-data stem, ``.npy`` or sidecar; a CaImAn
        ``.hdf5``/``.h5``; a Minian folder or ``C.zarr``; a suite2p plane folder;
        a ``.nwb`` file.
    fs : float, optional
        Sampling rate in Hz, overriding the file's (plain ``.npy`` has none).
    dataset : str, optional
        What to read inside the file: the HDF5 key for CaImAn
        (``"estimates/C"``), the variable for Minian (``"C"``), the series for
        NWB. Not accepted for ``.npy``, tuning data or suite2p.
    fmt : {"npy", "tuning", "caiman", "minian", "suite2p", "nwb"}, optional
        Skip detection and read as this format.
    lazy : bool
        Return a dask array (all formats) instead of NumPy.

    Returns
    -------
    traces : numpy.ndarray or dask.array.Array
        ``(n_cells, n_timepoints)``; a 1-D ``.npy`` stays 1-D.
    meta : dict
        ``source``, ``format``, ``sampling_rate_hz`` (or None), ``num_cells``,
        ``num_timepoints`` and the format's extras (see the loaders).

    Raises
    ------
    FileNotFoundError
        Nothing at ``path`` (nor ``<path>.npy``).
    ValueError
        Unknown ``fmt``, a path of no recognised format, or ``dataset`` for a
        format without one.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rec.npy"
    >>> np.save(path, np.zeros((3, 100)))
    >>> traces, meta = read_traces(path, fs=30.0)
    >>> meta["format"], traces.shape, meta["sampling_rate_hz"]
    ('npy', (3, 100), 30.0)
    """
    if fmt is not None:
        check_choice("fmt", fmt, FORMATS)
    target = _existing_input(Path(path).expanduser())
    fmt = fmt or detect_format(target)
    if dataset is not None and fmt in ("npy", "tuning", "suite2p"):
        raise ValueError(f"dataset={dataset!r} is not used for {fmt} input; leave it out")
    reader = _READERS[fmt]
    return reader(target, fs, dataset, lazy)


def detect_format(path: Path) -> str:
    """The format of an existing input path (see :func:`read_traces`)."""
    name = path.name.lower()
    if path.is_dir():
        if (path / "F.npy").is_file() or any(p.is_dir() for p in path.glob("plane*")):
            return "suite2p"
        if is_zarr_store(path) or any(path.glob("*.zarr")):
            return "minian"
    elif name.endswith(".nwb"):
        return "nwb"
    elif name.endswith((".hdf5", ".h5")):
        return "caiman"
    elif name.endswith(SIDECAR_SUFFIX):
        return "tuning"
    elif name.endswith(".npy"):
        sidecar = path.with_name(path.name[: -len(".npy")] + SIDECAR_SUFFIX)
        return "tuning" if sidecar.is_file() else "npy"
    raise ValueError(
        f"cannot tell the format of {str(path)!r}; expected .npy, tuning data, CaImAn "
        ".hdf5/.h5, a Minian folder or .zarr store, a suite2p plane folder or .nwb "
        f"(or pass fmt= one of {', '.join(FORMATS)})"
    )


def _existing_input(path: Path) -> Path:
    if path.exists():
        return path
    with_npy = path.with_name(path.name + ".npy")
    if with_npy.is_file():
        return with_npy
    raise FileNotFoundError(f"input not found: {str(path)!r} (nor {with_npy.name!r})")


def _read_npy(path: Path, fs: Any, dataset: Any, lazy: bool) -> tuple[Any, dict[str, Any]]:
    traces = _open_npy(path, lazy)
    return traces, _npy_meta(path, "npy", resolve_fs(fs, None), traces)


def _read_tuning(path: Path, fs: Any, dataset: Any, lazy: bool) -> tuple[Any, dict[str, Any]]:
    from calab.io.tuning import load_tuning_data, tuning_paths

    npy_path, _ = tuning_paths(path)
    if lazy:
        # reads and checks the sidecar; the array itself stays on disk
        traces = _open_npy(npy_path, lazy=True)
        sidecar = _checked_sidecar(path, traces)
    else:
        traces, sidecar = load_tuning_data(path)
    meta = _npy_meta(npy_path, "tuning", resolve_fs(fs, sidecar.get("sampling_rate_hz")), traces)
    extras = {k: v for k, v in sidecar.items() if k not in meta and k != "sampling_rate_hz"}
    return traces, {**meta, **extras}


def _checked_sidecar(path: Path, traces: Any) -> dict[str, Any]:
    from calab.io import read_json_object
    from calab.io.tuning import check_sidecar, tuning_paths

    _, json_path = tuning_paths(path)
    sidecar = read_json_object(json_path, "tuning metadata sidecar")
    check_sidecar(sidecar, traces.shape, traces.dtype, json_path)
    return sidecar


def _open_npy(path: Path, lazy: bool) -> Any:
    if lazy:
        from calab.engine.sources import dask_from_npy

        return dask_from_npy(path)
    return np.load(path, allow_pickle=False)


def _npy_meta(path: Path, fmt: str, fs: float | None, traces: Any) -> dict[str, Any]:
    shape = tuple(traces.shape)
    matrix_shape = (1, *shape) if len(shape) == 1 else shape
    check_trace_shape(matrix_shape, traces.dtype, str(path.name))
    return build_meta(path, fmt, fs, matrix_shape)


def _read_caiman(path: Path, fs: Any, dataset: Any, lazy: bool) -> tuple[Any, dict[str, Any]]:
    key = {} if dataset is None else {"trace_key": dataset}
    return load_caiman(path, fs=fs, lazy=lazy, **key)


def _read_minian(path: Path, fs: Any, dataset: Any, lazy: bool) -> tuple[Any, dict[str, Any]]:
    key = {} if dataset is None else {"trace_key": dataset}
    return load_minian(path, fs=fs, lazy=lazy, **key)


def _read_suite2p(path: Path, fs: Any, dataset: Any, lazy: bool) -> tuple[Any, dict[str, Any]]:
    return load_suite2p(path, fs=fs, lazy=lazy)


def _read_nwb(path: Path, fs: Any, dataset: Any, lazy: bool) -> tuple[Any, dict[str, Any]]:
    return load_nwb(path, series=dataset, fs=fs, lazy=lazy)


_READERS: dict[str, Callable[[Path, Any, Any, bool], tuple[Any, dict[str, Any]]]] = {
    "npy": _read_npy,
    "tuning": _read_tuning,
    "caiman": _read_caiman,
    "minian": _read_minian,
    "suite2p": _read_suite2p,
    "nwb": _read_nwb,
}
