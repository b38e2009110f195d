"""Opened zarr arrays kept per process, so a worker reading many blocks opens a store once.

Opening a zarr array reads (and, on object storage, probes for) its metadata:
on S3 that is several requests (``zarr.json``, format-2 markers, listings)
before the first chunk is read. A Dask worker reading one block after another
from the same input reuses the ``zarr.Array`` it opened for the first block.

A ``zarr.Array`` holds metadata only; every read fetches its chunks from the
store afresh, so a store rewritten with the same metadata is read correctly.
The key holds the metadata digest seen when the run described its input
(:func:`metadata_digest`), so a store rewritten with a different shape, type,
chunking or codecs is opened again by the next run, never decoded with the old
metadata. Only the last :data:`MAX_OPEN` arrays are kept.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MAX_OPEN = 16
_OPEN: OrderedDict[tuple[str, ...], Any] = OrderedDict()
_LOCK = threading.Lock()


def metadata_digest(array: Any) -> str:
    """A short digest of a zarr array's metadata document (shape, dtype, chunks, codecs, ...).

    Examples
    --------
    >>> import zarr
    >>> a = zarr.create_array(zarr.storage.MemoryStore(), shape=(2, 3), dtype="f4")
    >>> len(metadata_digest(a))
    16
    """
    document = json.dumps(array.metadata.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()[:16]


def cache_key(path: str, key: str | None, storage_options: dict[str, Any] | None,
              digest: str) -> tuple[str, ...]:
    """The identity of one opened array: location, filesystem options and metadata digest."""
    options = json.dumps(storage_options or {}, sort_keys=True, default=str)
    return (path, key or "", options, digest)


def cached_open(key: tuple[str, ...], open_array: Callable[[], Any]) -> Any:
    """The array cached under ``key``, opened with ``open_array()`` when not yet (or no longer)."""
    with _LOCK:
        if key in _OPEN:
            _OPEN.move_to_end(key)
            return _OPEN[key]
    array = open_array()  # outside the lock: opening may take several requests
    with _LOCK:
        _OPEN[key] = array
        while len(_OPEN) > MAX_OPEN:
            _OPEN.popitem(last=False)
    return array


def clear() -> None:
    """Forget every cached array (tests; a process that wants fresh metadata)."""
    with _LOCK:
        _OPEN.clear()
