"""Lazy array sources for the file loaders.

The loaders in :mod:`calab.io.loaders` return a dask array when called with
``lazy=True``. Only :mod:`calab.engine` may import dask and zarr, so the
loaders hand the location of the data (an HDF5 dataset, a zarr array, a
``.npy`` file) to the small functions here and get a dask array back.

Every source re-opens its file on each read and holds no open handle, so the
resulting graphs pickle cleanly and run on a distributed cluster whose workers
see the same file system.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr

#: Target size of one dask chunk, in bytes, when a loader does not choose.
DEFAULT_CHUNK_BYTES = 64 * 2**20


class HDF5DatasetSource:
    """A picklable, array-like view of one dataset inside an HDF5 file.

    Parameters
    ----------
    path : str or Path
        The HDF5 file.
    key : str
        The dataset's path inside the file, e.g. ``"estimates/C"``.

    The file is opened read-only for every ``__getitem__`` call, so the object
    can be shipped to dask workers.
    """

    def __init__(self, path: str | Path, key: str) -> None:
        import h5py

        self.path = str(path)
        self.key = key
        with h5py.File(self.path, "r") as handle:
            dataset = handle[key]
            self.shape = tuple(dataset.shape)
            self.dtype = dataset.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, selection: Any) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as handle:
            return handle[self.key][selection]

    def __repr__(self) -> str:
        return f"HDF5DatasetSource({self.path!r}, {self.key!r}, shape={self.shape})"


def _cell_chunks(shape: tuple[int, ...], itemsize: int, time_axis: int) -> tuple[int, ...]:
    """Chunks holding whole traces (the full time axis) and as many cells as fit."""
    if len(shape) == 1:
        return (shape[0],)
    n_time = max(int(shape[time_axis]), 1)
    cells = max(1, DEFAULT_CHUNK_BYTES // (n_time * itemsize))
    chunks = [0, 0]
    chunks[time_axis] = n_time
    chunks[1 - time_axis] = min(cells, max(int(shape[1 - time_axis]), 1))
    return tuple(chunks)


def dask_from_hdf5(path: str | Path, key: str, *, time_axis: int = 1) -> da.Array:
    """Wrap an HDF5 dataset into a dask array without reading it.

    Parameters
    ----------
    path : str or Path
        The HDF5 (or NWB) file.
    key : str
        Dataset path inside the file.
    time_axis : int
        Which axis of the stored dataset is time (1 for CaImAn, 0 for NWB); the
        chunks always hold the full time axis.

    Returns
    -------
    dask.array.Array
        Same shape and dtype as the stored dataset (not transposed).
    """
    source = HDF5DatasetSource(path, key)
    chunks = _cell_chunks(source.shape, source.dtype.itemsize, time_axis)
    return da.from_array(source, chunks=chunks, name=f"hdf5-{Path(path).name}-{key}", lock=True)


class NpyFileSource:
    """A picklable, array-like view of a ``.npy`` file, memory-mapped on each read.

    Pickling it ships the path, not the data, so dask workers read their own blocks.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        self.shape = tuple(mapped.shape)
        self.dtype = mapped.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, selection: Any) -> np.ndarray:
        mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return np.array(mapped[selection])

    def __repr__(self) -> str:
        return f"NpyFileSource({self.path!r}, shape={self.shape})"


def dask_from_npy(path: str | Path) -> da.Array:
    """Wrap a 1-D or 2-D ``.npy`` file into a dask array whose chunks hold whole traces."""
    source = NpyFileSource(path)
    chunks = _cell_chunks(source.shape, source.dtype.itemsize, source.ndim - 1)
    return da.from_array(source, chunks=chunks, name=f"npy-{Path(path).name}")


def open_zarr_array(store: str | Path, name: str | None = None) -> tuple[Any, list[str] | None]:
    """Open a zarr array (format 2 or 3) read-only and return it with its dimension names.

    Parameters
    ----------
    store : str or Path
        A zarr array store, or a zarr group store holding the array ``name``.
    name : str, optional
        The array inside the group; ignored when ``store`` is itself an array.

    Returns
    -------
    array : zarr.Array
    dims : list of str or None
        From the format 3 ``dimension_names`` or the xarray ``_ARRAY_DIMENSIONS``
        attribute (format 2); None when the store records none.

    Raises
    ------
    KeyError
        ``name`` is not in the group; the message lists the arrays it holds.
    """
    node = _open_node(store)
    if isinstance(node, zarr.Group):
        available = sorted(key for key, _ in node.arrays())
        if name is None or name not in available:
            raise KeyError(
                f"zarr group {str(store)!r} has no array {name!r}; available arrays: {available}"
            )
        node = node[name]
    return node, zarr_dimension_names(node)


def zarr_group_arrays(store: str | Path) -> list[str]:
    """Names of the arrays directly inside a zarr group (empty if not a group)."""
    try:
        node = _open_node(store)
    except Exception:
        return []
    if not isinstance(node, zarr.Group):
        return []
    return sorted(key for key, _ in node.arrays())


def _open_node(store: str | Path) -> Any:
    """A zarr group or array, read from its own metadata (never stale consolidated metadata)."""
    try:
        return zarr.open_group(store=str(store), mode="r", use_consolidated=False)
    except (zarr.errors.GroupNotFoundError, zarr.errors.ContainsArrayError):
        return zarr.open_array(store=str(store), mode="r")


def zarr_dimension_names(array: Any) -> list[str] | None:
    """Dimension names of a zarr array, whichever zarr format stored them."""
    names = getattr(array.metadata, "dimension_names", None)
    if names:
        return [str(n) for n in names]
    attr = array.attrs.get("_ARRAY_DIMENSIONS")
    return [str(n) for n in attr] if attr else None


def dask_from_zarr(array: Any) -> da.Array:
    """Wrap an open zarr array into a dask array, keeping its own chunking."""
    return da.from_zarr(array)
