"""Picklable, file-backed arrays that read on demand.

A :class:`StoredArray` is one array inside a file (``.npy``, an ``.npz``
member, an HDF5 dataset, a zarr array on disk or behind any fsspec URL) in the
orientation it is stored. It holds the location, shape and dtype only and
re-opens its file on every read, so it pickles cleanly and can be read by
Dask workers that see the same file system.

A :class:`TraceArray` is the ``(n_cells, n_timepoints)`` view calab works on:
one stored array (transposed when stored time-first), or a weighted sum of
several (suite2p's ``F - 0.7 * Fneu``, CaImAn's ``C + YrA``), optionally a
subset of rows, scaled and offset (NWB's ``conversion`` and ``offset``). It
supports NumPy-style ``__getitem__`` and reads only what is asked for.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from calab.errors import UnsupportedRecordingError

__all__ = ["HDF5Array", "NpyArray", "NpzArray", "StoredArray", "TraceArray", "ZarrArray"]


class StoredArray:
    """One array in a file, in its stored orientation (abstract).

    Attributes
    ----------
    path : str
        The file, store or URL.
    key : str or None
        The array inside it (HDF5 dataset, zarr array path, ``.npz`` member).
    shape : tuple of int
    dtype : numpy.dtype
    chunks : tuple of int or None
        Storage chunk shape, when the format has one.
    """

    #: A directory every read must stay under (re-checked at each read), or None.
    confine_to: str | None = None

    def __init__(self, path: str, key: str | None, shape: tuple[int, ...], dtype: Any,
                 chunks: tuple[int, ...] | None = None) -> None:
        self.path = path
        self.key = key
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.chunks = None if chunks is None else tuple(int(n) for n in chunks)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, selection: Any) -> np.ndarray:
        return self.read(selection)

    def read(self, selection: Any) -> np.ndarray:
        """Read ``selection`` (basic slicing) from the file."""
        raise NotImplementedError

    def local_path(self) -> str:
        """The file to open now: ``path``, resolved and checked when confined."""
        if self.confine_to is None:
            return self.path
        from calab.io.confined import checked_path

        return checked_path(self.path, self.confine_to)

    def __repr__(self) -> str:
        where = self.path if self.key is None else f"{self.path}:{self.key}"
        return f"{type(self).__name__}({where!r}, shape={self.shape}, dtype={self.dtype})"


class NpyArray(StoredArray):
    """A ``.npy`` file, memory-mapped on each read."""

    def __init__(self, path: str) -> None:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        super().__init__(path, None, mapped.shape, mapped.dtype)

    def read(self, selection: Any) -> np.ndarray:
        mapped = np.load(self.local_path(), mmap_mode="r", allow_pickle=False)
        return np.array(mapped[selection])


def npy_refusal() -> str:
    """Why NumPy refused a ``.npy`` as pickled data, without its advice to unpickle it."""
    return ("it is not a NumPy .npy array of numbers (another kind of file renamed .npy, "
            "or pickled Python objects, which calab never loads); save the traces with "
            "numpy.save")


class NpzArray(StoredArray):
    """One member of an ``.npz`` archive (read whole on each access: zip members cannot
    be memory-mapped)."""

    def __init__(self, path: str, member: str) -> None:
        with zipfile.ZipFile(path) as archive, archive.open(f"{member}.npy") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        super().__init__(path, member, shape, dtype)

    def read(self, selection: Any) -> np.ndarray:
        with np.load(self.local_path(), allow_pickle=False) as archive:
            return np.asarray(archive[self.key][selection])


class HDF5Array(StoredArray):
    """A dataset inside an HDF5 (or NWB) file, opened read-only on each read."""

    def __init__(self, path: str, key: str, shape: tuple[int, ...], dtype: Any,
                 chunks: tuple[int, ...] | None = None) -> None:
        super().__init__(path, key, shape, dtype, chunks)

    def read(self, selection: Any) -> np.ndarray:
        import h5py

        with h5py.File(self.local_path(), "r") as handle:
            return np.asarray(handle[self.key][selection])


class ZarrArray(StoredArray):
    """A zarr array (format 2 or 3), local or behind an fsspec URL.

    With a ``metadata`` digest (:func:`calab.io.array_cache.metadata_digest`,
    taken when the store was described) the opened ``zarr.Array`` is reused by
    every read in this process (:mod:`calab.io.array_cache`); without one, or
    when confined to a directory, the store is opened on each read.
    """

    def __init__(self, path: str, key: str | None, shape: tuple[int, ...], dtype: Any,
                 chunks: tuple[int, ...] | None, storage_options: dict[str, Any] | None,
                 metadata: str | None = None) -> None:
        super().__init__(path, key, shape, dtype, chunks)
        self.storage_options = storage_options
        self.metadata = metadata

    def open(self) -> Any:
        """The ``zarr.Array`` itself (read-only)."""
        if self.confine_to is not None or self.metadata is None:
            return self._open_now()
        from calab.io.array_cache import cache_key, cached_open

        return cached_open(cache_key(self.path, self.key, self.storage_options, self.metadata),
                           self._open_now)

    def _open_now(self) -> Any:
        import zarr

        store: Any = self.path
        if self.confine_to is not None:
            from calab.io.confined import confined_store

            store = confined_store(self.confine_to, self.path, read_only=True)
        return zarr.open_array(store=store, path=self.key or "", mode="r",
                               storage_options=self.storage_options)

    def read(self, selection: Any) -> np.ndarray:
        return np.asarray(self.open()[selection])


class TraceArray:
    """A lazily read ``(n_cells, n_timepoints)`` view of stored arrays.

    Parameters
    ----------
    parts : sequence of (StoredArray, float)
        Arrays of the same stored shape and their weights; the traces are
        ``sum(weight * part)``. 1-D parts are one trace.
    time_first : bool
        The parts are stored ``(n_timepoints, n_cells)`` (NWB, some Minian
        variables); they are transposed on read.
    rows : array of int, optional
        The stored rows (cells) kept, in order; all when None.
    scale, offset : float
        Applied after the sum: ``traces * scale + offset``.
    dtype : numpy.dtype, optional
        Type of the values returned; by default the stored type for a single
        unscaled part, float64 otherwise.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rec.npy"
    >>> np.save(path, np.arange(12.0).reshape(3, 4))
    >>> traces = TraceArray([(NpyArray(str(path)), 1.0)], rows=[2, 0])
    >>> traces.shape, traces[1, 1:3].tolist()
    ((2, 4), [1.0, 2.0])
    """

    ndim = 2

    def __init__(self, parts: Sequence[tuple[StoredArray, float]], *, time_first: bool = False,
                 rows: Any = None, scale: float = 1.0, offset: float = 0.0,
                 dtype: Any = None) -> None:
        self.parts = [(part, float(weight)) for part, weight in parts]
        first = self.parts[0][0]
        self.time_first = bool(time_first)
        if first.ndim == 1:
            self.stored_cells, n_time = 1, first.shape[0]
        else:
            n_cells, n_time = first.shape[::-1] if self.time_first else first.shape
            self.stored_cells = int(n_cells)
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
        self.scale, self.offset = float(scale), float(offset)
        plain = len(self.parts) == 1 and self.parts[0][1] == 1.0 and (scale, offset) == (1, 0)
        self.dtype = np.dtype(dtype) if dtype is not None else (
            first.dtype if plain else np.dtype(np.float64))
        n_rows = self.stored_cells if self.rows is None else int(self.rows.size)
        self.shape = (n_rows, int(n_time))

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def chunks(self) -> tuple[int, int] | None:
        """Cells and samples per storage chunk, when reads align to stored chunks."""
        first = self.parts[0][0]
        if first.chunks is None or first.ndim != 2 or self.rows is not None:
            return None
        cells, time = first.chunks[::-1] if self.time_first else first.chunks
        return int(cells), int(time)

    def __len__(self) -> int:
        return self.shape[0]

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        """A deterministic token: where and how the values are read (no data)."""
        parts = tuple((type(p).__name__, p.path, p.key, p.shape, p.dtype.str, w)
                      for p, w in self.parts)
        rows = None if self.rows is None else self.rows.tobytes()
        return ("calab.TraceArray", parts, self.time_first, rows, self.scale, self.offset,
                self.dtype.str)

    def __repr__(self) -> str:
        return f"TraceArray({self.parts[0][0]!r}, shape={self.shape}, dtype={self.dtype})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        values = self[:, :]
        return values if dtype is None else values.astype(dtype)

    def read(self) -> np.ndarray:
        """Every value, as a NumPy array."""
        return self[:, :]

    def __getitem__(self, key: Any) -> np.ndarray:
        row_key, col_key = _split_key(key)
        rows, row_scalar = _index(row_key, self.shape[0], "cell")
        cols, col_scalar = _index(col_key, self.shape[1], "time")
        stored_rows = rows if self.rows is None else self.rows[rows]
        values = self._read(stored_rows, cols)
        if row_scalar:
            values = values[0]
        if col_scalar:
            values = values[..., 0]
        return values

    def _read(self, rows: np.ndarray, cols: np.ndarray | slice) -> np.ndarray:
        if isinstance(cols, slice):
            window, pick = cols, None
        elif cols.size:
            window, pick = slice(int(cols.min()), int(cols.max()) + 1), cols - cols.min()
        else:
            window, pick = slice(0, 0), cols
        total: np.ndarray | None = None
        for part, weight in self.parts:
            values = self._read_part(part, rows, window)
            values = values if weight == 1.0 else values * weight
            total = values if total is None else total + values
        assert total is not None
        if pick is not None:
            total = total[:, pick]
        if (self.scale, self.offset) != (1.0, 0.0):
            total = total * self.scale + self.offset
        return np.ascontiguousarray(total, dtype=self.dtype)

    def _read_part(self, part: StoredArray, rows: np.ndarray, window: slice) -> np.ndarray:
        n_time = window.stop - window.start
        if rows.size == 0 or n_time <= 0:
            return np.empty((rows.size, max(n_time, 0)), dtype=part.dtype)
        if part.ndim == 1:
            return np.repeat(part.read(window).reshape(1, -1), rows.size, axis=0)
        unique, inverse = np.unique(rows, return_inverse=True)
        blocks = [self._read_run(part, int(run[0]), int(run[-1]) + 1, window)[run - run[0]]
                  for run in _row_groups(unique, self._rows_per_chunk(part, n_time))]
        values = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=0)
        if unique.size == rows.size and np.array_equal(unique, rows):
            return values
        return values[inverse.reshape(-1)]

    def _rows_per_chunk(self, part: StoredArray, n_time: int) -> int:
        """Rows read together when one is wanted: a storage chunk's, within a memory budget."""
        if part.chunks is None:
            return 1
        chunk_rows = int(part.chunks[-1] if self.time_first else part.chunks[0])
        row_bytes = max(1, n_time * np.dtype(part.dtype).itemsize)
        return max(1, min(chunk_rows, _GROUP_READ_BYTES // int(row_bytes)))

    def _read_run(self, part: StoredArray, start: int, stop: int, window: slice) -> np.ndarray:
        if self.time_first:
            return np.asarray(part.read((window, slice(start, stop)))).T
        return np.asarray(part.read((slice(start, stop), window)))


_GROUP_READ_BYTES = 64 * 2**20  # most bytes read at once to pick scattered rows of one chunk


def _row_groups(rows: np.ndarray, rows_per_chunk: int) -> list[np.ndarray]:
    """Sorted unique ``rows`` grouped so that each group is read as one slice.

    Consecutive rows always share a group; rows of one storage chunk do too,
    since reading any of them decodes the whole chunk: a scattered subsample
    then costs one read per chunk instead of one per row.
    """
    if rows.size == 0:
        return []
    chunk_of = rows // max(1, rows_per_chunk)
    breaks = np.flatnonzero((np.diff(rows) != 1) & (np.diff(chunk_of) != 0)) + 1
    return np.split(rows, breaks)


def _split_key(key: Any) -> tuple[Any, Any]:
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        fill = (slice(None),) * (2 - (len(key) - 1))
        key = key[:at] + fill + key[at + 1:]
    if len(key) > 2:
        raise IndexError(f"too many indices for a 2-D (n_cells, n_timepoints) array: {key!r}")
    padded = (*key, slice(None), slice(None))
    return padded[0], padded[1]


def _index(key: Any, size: int, axis: str) -> tuple[Any, bool]:
    """``(indices, is_scalar)``: an int array for cells, a step-1 slice or int array for time."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        index = int(key) + size if key < 0 else int(key)
        if not 0 <= index < size:
            raise IndexError(f"{axis} index {int(key)} is out of range for size {size}")
        return (np.array([index]) if axis == "cell" else slice(index, index + 1)), True
    if isinstance(key, slice):
        start, stop, step = key.indices(size)
        if axis == "time" and step == 1:
            return slice(start, max(start, stop)), False
        return np.arange(start, stop, step, dtype=np.int64), False
    values = np.asarray(key)
    if values.dtype == bool:
        if values.shape != (size,):
            raise IndexError(f"boolean {axis} index of shape {values.shape} for size {size}")
        return np.flatnonzero(values), False
    if values.dtype.kind not in "iu" or values.ndim != 1:
        raise IndexError(f"unsupported {axis} index {key!r}; use an int, a slice or 1-D ints")
    values = np.where(values < 0, values + size, values).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() >= size):
        raise IndexError(f"{axis} index out of range for size {size}")
    return values, False


def unreadable(path: str, what: str, err: BaseException) -> UnsupportedRecordingError:
    """The error for a file that exists but cannot be read as ``what``."""
    detail = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
    if "allow_pickle" in detail:  # never pass on NumPy's advice to load a file unsafely
        return UnsupportedRecordingError(f"input={path!r} is not a valid {what}: "
                                         f"{npy_refusal()}", argument="input")
    return UnsupportedRecordingError(
        f"input={path!r} is not a readable {what} ({type(err).__name__}: {detail})",
        argument="input")
