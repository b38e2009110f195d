"""Openers of the generic formats: ``.npy``, ``.npz``, tuning data, zarr and plain HDF5.

Each returns a :class:`~calab.io.recording.Recording` whose traces stay on
disk; the pipeline formats (CaImAn, Minian, suite2p, NWB) live in
:mod:`calab.io.loaders`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from calab.errors import UnsupportedRecordingError
from calab.io.arrays import HDF5Array, NpyArray, NpzArray, StoredArray, TraceArray, unreadable
from calab.io.recording import Recording, check_traces
from calab.io.zarr_store import (
    FS_ATTRS,
    invalid_stored_fs,
    open_node,
    pick_array,
    stored_fs,
    zarr_source,
)

PREFERRED_NAMES = ("traces", "C", "F")


def open_npy(path: Path, given: str, dataset: str | None) -> Recording:
    """A plain ``.npy`` array (1-D: one trace; 2-D: ``(n_cells, n_timepoints)``)."""
    _no_dataset(dataset, "npy")
    part = _npy(path, given)
    return _single(part, "npy", given, one_d_ok=True)


def open_tuning(path: Path, given: str, dataset: str | None) -> Recording:
    """Tuning data: ``<stem>.npy`` + ``<stem>_metadata.json``; the sidecar's rate is the file's."""
    from calab.io import read_json_object
    from calab.io.tuning import BUILTIN_KEYS, check_sidecar, tuning_paths

    _no_dataset(dataset, "tuning data")
    npy_path, json_path = tuning_paths(path)
    part = _npy(npy_path, given)
    sidecar = read_json_object(json_path, "tuning metadata sidecar")
    traces = _single(part, "tuning", given, one_d_ok=True).traces
    try:
        check_sidecar(sidecar, part.shape if part.ndim == 2 else (1, *part.shape),
                      part.dtype, json_path)
    except ValueError as err:
        raise UnsupportedRecordingError(str(err), argument="input") from None
    extras = {k: v for k, v in sidecar.items() if k not in BUILTIN_KEYS}
    return Recording(traces, "tuning", given, file_fs=float(sidecar["sampling_rate_hz"]),
                     one_trace=part.ndim == 1, extras=extras)


def open_npz(path: Path, given: str, dataset: str | None) -> Recording:
    """One member of an ``.npz`` archive: ``dataset``, the only one, or ``traces``."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(n[:-4] for n in archive.namelist() if n.endswith(".npy"))
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise unreadable(given, ".npz archive", err) from None
    listing = ", ".join(repr(m) for m in members) or "none"
    if dataset is None:
        dataset = members[0] if len(members) == 1 else next(
            (p for p in PREFERRED_NAMES if p in members), None)
        if dataset is None:
            raise UnsupportedRecordingError(
                f"input={given!r} holds the arrays {listing}; pass dataset=NAME (--dataset)",
                argument="dataset")
    elif dataset not in members:
        raise UnsupportedRecordingError(
            f"dataset={dataset!r} is not in input={given!r}; arrays there: {listing}",
            argument="dataset")
    try:
        part = NpzArray(str(path), dataset)
    except Exception as err:  # a corrupt member: zipfile, zlib and numpy raise several types
        raise unreadable(given, ".npz archive", err) from None
    return Recording(_single(part, "npz", given, one_d_ok=True).traces, "npz", given,
                     dataset=dataset, one_trace=part.ndim == 1)


def open_zarr(location: str, given: str, dataset: str | None,
              storage_options: dict[str, Any] | None, *, node: Any = None) -> Recording:
    """A zarr array, or a group and the array ``dataset`` in it (``traces`` by default).

    ``node`` is the store's group or array when the caller has just opened it.
    """
    if node is None:
        node = open_node(location, given, storage_options)
    array, name = pick_array(node, given, dataset, prefer=("traces",))
    part = zarr_source(location, array, name, storage_options)
    _check(part, given, name, one_d_ok=False)
    file_fs = stored_fs(array, node)
    invalid = None if file_fs is not None else invalid_stored_fs(array, node)
    return Recording(TraceArray([(part, 1.0)]), "zarr", given, dataset=name, file_fs=file_fs,
                     extras={"invalid_fs": invalid} if invalid else {})


def open_hdf5(path: Path, given: str, dataset: str | None) -> Recording:
    """A 2-D dataset of an HDF5 file: ``dataset``, else ``traces`` or the only 2-D one."""
    with hdf5_file(path, given, "HDF5 file") as handle:
        found: list[str] = []
        handle.visititems(lambda name, obj: found.append(name) if _is_2d(obj) else None)
        if dataset is None:
            dataset = "traces" if "traces" in found else (found[0] if len(found) == 1 else None)
            if dataset is None:
                raise UnsupportedRecordingError(
                    f"input={given!r}: expected one 2-D dataset or one named 'traces'; found "
                    f"{found[:40]}; pass dataset=KEY (--dataset)", argument="dataset")
        node = handle.get(dataset)
        if node is None or not hasattr(node, "shape"):
            raise UnsupportedRecordingError(
                f"dataset={dataset!r} is not a dataset in input={given!r}; 2-D datasets there: "
                f"{found[:40]}", argument="dataset")
        part = HDF5Array(str(path), dataset, node.shape, node.dtype, node.chunks)
        file_fs = _hdf5_fs(node, handle)
    _check(part, given, dataset, one_d_ok=False)
    return Recording(TraceArray([(part, 1.0)]), "hdf5", given, dataset=dataset, file_fs=file_fs)


@contextmanager
def hdf5_file(path: Path, given: str, what: str) -> Iterator[Any]:
    """``h5py.File(path, "r")``, with a clear error for a folder or a file that is not HDF5."""
    from calab.io.loaders._common import require_module

    h5py = require_module("h5py", "loaders", f"reading {what}s")
    if path.is_dir():
        raise UnsupportedRecordingError(
            f"input={given!r} is a folder, not an {what}", argument="input")
    try:
        handle = h5py.File(path, "r")
    except Exception as err:  # h5py raises OSError, ValueError, ... for a non-HDF5 file
        raise unreadable(given, what, err) from None
    with handle:
        yield handle


def _is_2d(obj: Any) -> bool:
    return hasattr(obj, "shape") and hasattr(obj, "dtype") and len(obj.shape) == 2


def _hdf5_fs(*nodes: Any) -> float | None:
    for node in nodes:
        for key in FS_ATTRS:
            value = node.attrs.get(key)
            try:
                number = float(np.asarray(value).reshape(-1)[0]) if value is not None else None
            except (TypeError, ValueError, IndexError):
                number = None
            if number is not None and np.isfinite(number) and number > 0:
                return number
    return None


def _npy(path: Path, given: str) -> NpyArray:
    try:
        return NpyArray(str(path))
    except (ValueError, OSError, EOFError) as err:
        raise unreadable(given if path.name in given else f"{given} ({path.name})",
                         "numeric .npy file", err) from None


def _single(part: StoredArray, fmt: str, given: str, *, one_d_ok: bool) -> Recording:
    _check(part, given, None, one_d_ok=one_d_ok)
    return Recording(TraceArray([(part, 1.0)]), fmt, given, one_trace=part.ndim == 1)


def _check(part: StoredArray, given: str, name: str | None, *, one_d_ok: bool) -> None:
    where = f"input={given!r}" + (f" dataset={name!r}" if name else "")
    if part.ndim == 1 and one_d_ok:
        check_traces((1, *part.shape), part.dtype, where)
        return
    check_traces(part.shape, part.dtype, where)


def _no_dataset(dataset: str | None, what: str) -> None:
    if dataset is not None:
        raise UnsupportedRecordingError(
            f"dataset={dataset!r} is not used for {what} input; leave it out", argument="dataset")
