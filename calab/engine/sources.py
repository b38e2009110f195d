"""Dask arrays over file-backed recordings.

:mod:`calab.io` opens every recording as a picklable, file-backed array
(:class:`calab.io.arrays.TraceArray`, or the :class:`calab.io.recording.Recording`
holding one) that re-opens its file on each read. The engine only wraps such
array-likes for dask here: the graph ships file locations, never data, so it
runs on a distributed cluster whose workers see the same file system.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from calab.io.recording import Recording

#: Target size of one dask chunk, in bytes, when the caller does not choose.
DEFAULT_CHUNK_BYTES = 64 * 2**20


def is_file_backed(value: Any) -> bool:
    """True for a :class:`Recording` or the file-backed traces of one."""
    from calab.io.arrays import TraceArray

    return isinstance(value, (Recording, TraceArray))


def as_dask(source: Any, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> da.Array:
    """Wrap a file-backed ``(n_cells, n_timepoints)`` array-like into a dask array.

    Each chunk holds whole traces (the full time axis) and as many cells as fit
    in ``chunk_bytes``; a recording of one 1-D trace gives a 1-D array.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from calab.io.opener import open_recording
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rec.npy"
    >>> np.save(path, np.ones((4, 100)))
    >>> lazy = as_dask(open_recording(path))
    >>> lazy.shape, float(lazy.sum().compute())
    ((4, 100), 400.0)
    """
    one_trace = isinstance(source, Recording) and source.one_trace
    traces = source.traces if isinstance(source, Recording) else source
    n_cells, n_time = traces.shape
    cells = max(1, min(n_cells, chunk_bytes // max(1, n_time * traces.dtype.itemsize)))
    array = da.from_array(traces, chunks=(cells, n_time), asarray=True,
                          meta=np.empty((0, 0), dtype=traces.dtype))
    return array[0] if one_trace else array
