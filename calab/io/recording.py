"""The recording type every opener returns: lazily read traces plus what the file says.

See :func:`calab.io.opener.open_recording` for the one way to get one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from calab.errors import InvalidParameterError, UnsupportedRecordingError
from calab.io.arrays import TraceArray

__all__ = ["Recording", "check_traces"]


@dataclass(frozen=True)
class Recording:
    """A recording opened by :func:`calab.open_recording`: traces on disk plus metadata.

    The traces are read only when indexed: ``recording[0:8, :]`` reads eight
    cells, ``recording.read()`` everything. The object pickles (it holds file
    locations, never open handles), so Dask workers can read their own blocks.

    Attributes
    ----------
    traces : calab.io.arrays.TraceArray
        ``(n_cells, n_timepoints)`` array-like with NumPy-style ``__getitem__``,
        ``shape`` and ``dtype``.
    format : str
        ``"npy"``, ``"npz"``, ``"tuning"``, ``"zarr"``, ``"hdf5"``, ``"caiman"``,
        ``"minian"``, ``"suite2p"`` or ``"nwb"``.
    source : str
        The path or URL as the caller gave it.
    fs : float or None
        Sampling rate in Hz: the file's own, else the caller's ``fs``.
    file_fs : float or None
        The sampling rate the file records (None when it records none).
    dataset : str or None
        The array, key, variable or series read inside the file.
    cell_ids : list or None
        Original identifiers of the rows (suite2p ROI indices, CaImAn component
        indices, Minian ``unit_id``, NWB ROI ids); None when the rows are the ids.
    one_trace : bool
        The file holds a single 1-D trace (read as one row).
    extras : dict
        Format-specific details (see the loaders).
    """

    traces: TraceArray
    format: str
    source: str
    fs: float | None = None
    file_fs: float | None = None
    dataset: str | None = None
    cell_ids: list[Any] | None = None
    one_trace: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_cells, n_timepoints)``."""
        return self.traces.shape

    @property
    def dtype(self) -> np.dtype:
        """Type of the values read."""
        return self.traces.dtype

    @property
    def ndim(self) -> int:
        return 2

    @property
    def n_cells(self) -> int:
        return self.traces.shape[0]

    @property
    def n_timepoints(self) -> int:
        return self.traces.shape[1]

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.traces[key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.traces.__array__(dtype)

    def read(self) -> np.ndarray:
        """All traces as a NumPy array; 1-D when the file held one 1-D trace."""
        values = self.traces.read()
        return values[0] if self.one_trace else values

    def missing_fs(self) -> str:
        """Why the file gives no sampling rate: it records none, or an invalid one (shown).

        Examples
        --------
        >>> bad = Recording(None, "zarr", "rec.zarr", extras={"invalid_fs": "fs=-30"})
        >>> bad.missing_fs()
        'records an invalid sampling rate (fs=-30 in its attributes; a number of Hz > 0 is needed)'
        """
        invalid = self.extras.get("invalid_fs")
        if invalid:
            return (f"records an invalid sampling rate ({invalid} in its attributes; a number "
                    "of Hz > 0 is needed)")
        return "records no sampling rate"

    def with_fs(self, fs: float | None) -> Recording:
        """This recording with the caller's ``fs`` settled against the file's.

        Raises
        ------
        calab.errors.InvalidParameterError
            ``fs`` disagrees with the rate the file records; the message names both.
        """
        if fs is None:
            return replace(self, fs=self.file_fs)
        if self.file_fs is not None and not math.isclose(fs, self.file_fs, rel_tol=1e-6):
            raise InvalidParameterError(
                f"fs={fs} Hz disagrees with the sampling rate of {self.file_fs} Hz recorded "
                f"in input={self.source!r}; pass fs={self.file_fs} or leave fs out",
                argument="fs")
        return replace(self, fs=float(fs))

    def meta(self) -> dict[str, Any]:
        """The loaders' metadata dictionary: ``source``, ``format``,
        ``sampling_rate_hz``, ``num_cells``, ``num_timepoints``, then the extras."""
        meta: dict[str, Any] = {
            "source": self.source,
            "format": self.format,
            "sampling_rate_hz": self.fs,
            "num_cells": self.n_cells,
            "num_timepoints": self.n_timepoints,
        }
        meta.update(self.extras)
        return meta


def check_traces(shape: tuple[int, ...], dtype: Any, where: str) -> None:
    """Require a non-empty, real numeric, 2-D ``(n_cells, n_timepoints)`` shape.

    Raises :class:`~calab.errors.UnsupportedRecordingError` naming ``where``.

    Examples
    --------
    >>> check_traces((3, 100), "float32", "input='rec.npy'")
    >>> try:
    ...     check_traces((2, 3, 4), "float32", "input='cube.npy'")
    ... except ValueError as err:
    ...     print(err)
    input='cube.npy' must be 2-D (n_cells, n_timepoints); got 3-D with shape (2, 3, 4)
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) != 2:
        hint = " (reshape a single trace to (1, n_timepoints))" if len(shape) == 1 else ""
        raise UnsupportedRecordingError(
            f"{where} must be 2-D (n_cells, n_timepoints); got {len(shape)}-D with shape "
            f"{shape}{hint}", argument="input")
    if 0 in shape:
        raise UnsupportedRecordingError(
            f"{where} is empty (shape {shape}); need at least one cell and one sample",
            argument="input")
    kind = np.dtype(dtype).kind
    if kind not in "biuf":
        raise UnsupportedRecordingError(
            f"{where} must hold real numbers; got dtype {np.dtype(dtype)}", argument="input")
