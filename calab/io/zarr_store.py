"""Zarr stores (formats 2 and 3, local or behind any fsspec URL): the one place that sniffs them.

zarr is imported inside the functions that need it, so ``import calab.io``
stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calab.errors import MissingFieldError, RecordingNotFoundError, UnsupportedRecordingError
from calab.io.arrays import ZarrArray, unreadable

ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")
FS_ATTRS = ("sampling_rate_hz", "fs")


def has_zarr_metadata(folder: Path) -> bool:
    """True when ``folder`` is a local directory holding zarr (format 2 or 3) metadata."""
    return folder.is_dir() and any((folder / marker).is_file() for marker in ZARR_MARKERS)


def open_node(location: str, given: str, storage_options: dict[str, Any] | None = None) -> Any:
    """The zarr group or array at ``location``, read from its own metadata.

    Raises :class:`~calab.errors.UnsupportedRecordingError` naming ``given``
    (the path as the user wrote it) when it is not a readable store.
    """
    import zarr

    try:
        try:
            return zarr.open_group(store=location, mode="r", use_consolidated=False,
                                   storage_options=storage_options)
        except (zarr.errors.GroupNotFoundError, zarr.errors.ContainsArrayError):
            return zarr.open_array(store=location, mode="r", storage_options=storage_options)
    except FileNotFoundError as err:
        raise RecordingNotFoundError(
            f"input={given!r} does not exist ({err})", argument="input") from None
    except Exception as err:  # zarr and fsspec raise many unrelated types for a bad store
        raise unreadable(given, "zarr store", err) from None


def group_arrays(node: Any) -> list[str]:
    """Names of the arrays directly inside a zarr group (empty for an array)."""
    import zarr

    if not isinstance(node, zarr.Group):
        return []
    return sorted(name for name, _ in node.arrays())


def dimension_names(array: Any) -> list[str] | None:
    """Dimension names of a zarr array, whichever zarr format stored them."""
    names = getattr(array.metadata, "dimension_names", None)
    if names and all(n is not None for n in names):
        return [str(n) for n in names]
    attr = array.attrs.get("_ARRAY_DIMENSIONS")
    return [str(n) for n in attr] if isinstance(attr, list) and attr else None


def stored_fs(*nodes: Any) -> float | None:
    """A sampling rate recorded in the attributes (``sampling_rate_hz`` or ``fs``)."""
    for _key, value in _rate_attributes(nodes):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def invalid_stored_fs(*nodes: Any) -> str | None:
    """``key=value`` of the first sampling-rate attribute that is not a number > 0, if any."""
    for key, value in _rate_attributes(nodes):
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
            return f"{key}={value!r}"[:80]
    return None


def _rate_attributes(nodes: tuple[Any, ...]) -> list[tuple[str, Any]]:
    found = []
    for node in nodes:
        attrs = dict(node.attrs)
        found += [(key, attrs[key]) for key in FS_ATTRS if key in attrs]
    return found


def pick_array(node: Any, given: str, dataset: str | None, prefer: tuple[str, ...] = ()
               ) -> tuple[Any, str | None]:
    """The array to read in a group (or the store's own array) and its name.

    Without ``dataset`` a group's only array is chosen, else the first of
    ``prefer`` it holds; otherwise the error lists the arrays.
    """
    import zarr

    if isinstance(node, zarr.Array):
        if dataset is not None:
            raise UnsupportedRecordingError(
                f"dataset={dataset!r} was given but input={given!r} is a single zarr array, "
                "not a group; drop the dataset name", argument="dataset")
        return node, None
    arrays = group_arrays(node)
    listing = ", ".join(repr(a) for a in arrays) or "none"
    if dataset is None:
        chosen = arrays[0] if len(arrays) == 1 else next((p for p in prefer if p in arrays), None)
        if chosen is None:
            raise UnsupportedRecordingError(
                f"input={given!r} is a zarr group; pass dataset=NAME (--dataset) to choose one "
                f"of its arrays: {listing}", argument="dataset")
        dataset = chosen
    try:
        array = node[dataset]
    except (KeyError, ValueError, OSError):
        array = None
    if not isinstance(array, zarr.Array):
        raise MissingFieldError(
            f"dataset={dataset!r} is not an array in input={given!r}; available arrays: {arrays}",
            argument="dataset")
    return array, dataset


def zarr_source(location: str, array: Any, name: str | None,
                storage_options: dict[str, Any] | None) -> ZarrArray:
    """A picklable :class:`~calab.io.arrays.ZarrArray` for an open zarr array."""
    from calab.io.array_cache import cache_key, cached_open, metadata_digest

    digest = metadata_digest(array)
    # this process's reads (fingerprint, resume checks, tuning) reuse the array just opened
    cached_open(cache_key(location, name, storage_options, digest), lambda: array)
    return ZarrArray(location, name, tuple(array.shape), np.dtype(array.dtype),
                     tuple(array.chunks), storage_options, digest)


def is_minian_store(node: Any) -> bool:
    """True for a store written by Minian (xarray): an array with a ``frame`` dimension."""
    import zarr

    arrays = [node] if isinstance(node, zarr.Array) else [node[n] for n in group_arrays(node)]
    return any("frame" in (dimension_names(a) or []) and len(a.shape) == 2 for a in arrays)


def describe_store(path: str | Path) -> dict[str, Any]:
    """Describe every array of a zarr store (or the store's single array).

    Returns a JSON-ready dict: ``kind``, ``path``, ``zarr_format``, ``attrs``,
    ``groups`` and ``arrays`` (name -> shape, chunks, dtype, chunks written).
    Raises ``ValueError`` naming the path when it is not a readable store.
    """
    import zarr

    node = open_node(str(path), str(path))
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
