"""Opening a zarr recording: an array, or a group plus a dataset name.

Zarr v3 stores are read natively and v2 stores are detected and read too.
Every mistake (missing path, unknown dataset, wrong dimensionality or dtype)
becomes a clear error before any cluster is started.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

FINGERPRINT_SAMPLES = 4096


@dataclass(frozen=True)
class InputInfo:
    """Where a recording lives and what it looks like (recorded in output attrs)."""

    store: str
    dataset: str | None
    shape: tuple[int, int]
    dtype: str
    chunks: tuple[int, int]
    zarr_format: int
    fingerprint: str

    def as_attrs(self) -> dict[str, Any]:
        """JSON-ready form for the output group's attributes."""
        attrs = asdict(self)
        attrs["shape"], attrs["chunks"] = list(self.shape), list(self.chunks)
        return attrs


def store_location(path: str | Path) -> str:
    """A canonical string for a store: absolute local path, or the URL as given."""
    text = str(path)
    return text if "://" in text else str(Path(text).expanduser().resolve())


def open_input_array(store: str, dataset: str | None,
                     storage_options: dict | None = None) -> Any:
    """Open the recording read-only and return the ``zarr.Array`` (validated).

    ``storage_options`` are the fsspec options of a URL store (see
    :mod:`calab.io.storage`).
    """
    import zarr

    from calab.io.storage import zarr_open_kwargs

    if "://" not in store and not Path(store).exists():
        raise FileNotFoundError(f"input={store!r} does not exist; expected a zarr store")
    try:
        node = zarr.open(store=store, mode="r", **zarr_open_kwargs(store, storage_options))
    except Exception as err:  # zarr raises several types for "not a store"
        raise ValueError(
            f"input={store!r} is not a readable zarr array or group ({type(err).__name__}: {err})"
        ) from None
    if isinstance(node, zarr.Group):
        node = _pick_dataset(node, store, dataset)
    elif dataset is not None:
        raise ValueError(
            f"dataset={dataset!r} was given but input={store!r} is a single array, not a group; "
            "drop the dataset name"
        )
    _check_recording(node, store, dataset)
    return node


def describe_input(store: str | Path, dataset: str | None,
                   storage_options: dict | None = None) -> tuple[Any, InputInfo]:
    """Open the recording and describe it for planning and resume checks."""
    location = store_location(store)
    array = open_input_array(location, dataset, storage_options)
    first = np.asarray(array[0, : min(FINGERPRINT_SAMPLES, array.shape[1])])
    digest = hashlib.sha256(np.ascontiguousarray(first).tobytes()).hexdigest()[:16]
    info = InputInfo(
        store=location,
        dataset=dataset,
        shape=(int(array.shape[0]), int(array.shape[1])),
        dtype=str(array.dtype),
        chunks=(int(array.chunks[0]), int(array.chunks[1])),
        zarr_format=int(array.metadata.zarr_format),
        fingerprint=digest,
    )
    return array, info


def _pick_dataset(group: Any, store: str, dataset: str | None) -> Any:
    import zarr

    arrays = sorted(name for name, _ in group.arrays())
    if dataset is None:
        if len(arrays) == 1:
            return group[arrays[0]]
        listing = ", ".join(repr(a) for a in arrays) or "none"
        raise ValueError(
            f"input={store!r} is a zarr group; pass dataset=NAME (--dataset) to choose "
            f"one of its arrays: {listing}"
        )
    try:
        node = group[dataset]
    except KeyError:
        node = None
    if not isinstance(node, zarr.Array):
        listing = ", ".join(repr(a) for a in arrays) or "none"
        raise ValueError(
            f"dataset={dataset!r} is not an array in input={store!r}; arrays there: {listing}"
        )
    return node


def _check_recording(array: Any, store: str, dataset: str | None) -> None:
    where = f"input={store!r}" + (f" dataset={dataset!r}" if dataset else "")
    dtype = np.dtype(array.dtype)
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(f"{where} has dtype {dtype}; a real numeric (int or float) array is needed")
    if array.ndim != 2:
        hint = " (reshape a single trace to (1, n_timepoints))" if array.ndim == 1 else ""
        raise ValueError(
            f"{where} must be 2-D (n_cells, n_timepoints); got {array.ndim}-D with shape "
            f"{tuple(array.shape)}{hint}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{where} is empty (shape {tuple(array.shape)})")


def describe_store(path: str | Path) -> dict[str, Any]:
    """Describe every array of a zarr store (or the store's single array).

    Returns a JSON-ready dict: ``kind``, ``path``, ``zarr_format``, ``attrs``,
    ``groups`` and ``arrays`` (name -> shape, chunks, dtype, chunks written).
    Raises ``ValueError`` naming the path when it is not a readable store.
    """
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as err:  # zarr raises several unrelated types for bad stores
        raise ValueError(f"{path} is not a readable zarr store: {err}") from None
    members = [("/", node)] if isinstance(node, zarr.Array) else list(
        node.members(max_depth=None)
    )
    return {
        "kind": "zarr",
        "path": str(path),
        "zarr_format": node.metadata.zarr_format,
        "attrs": dict(node.attrs),
        "groups": [name for name, obj in members if isinstance(obj, zarr.Group)],
        "arrays": {
            name: _array_summary(obj) for name, obj in members if isinstance(obj, zarr.Array)
        },
    }


def _array_summary(array: Any) -> dict[str, Any]:
    return {
        "shape": list(array.shape),
        "chunks": list(array.chunks),
        "dtype": str(array.dtype),
        "chunks_written": int(array.nchunks_initialized),
        "nchunks": int(array.nchunks),
    }

