"""``open_recording``: the one way calab opens a recording, and its one format detector.

Every command (``deconvolve``, ``tune``, ``convert``, ``info``), the job
service and the public API open their input here, so a path means the same
recording to all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from calab.core.checks import positive_number
from calab.errors import (
    ParameterTypeError,
    UnsupportedRecordingError,
)
from calab.io import formats
from calab.io.loaders.caiman import open_caiman
from calab.io.loaders.minian import open_minian
from calab.io.loaders.nwb import open_nwb
from calab.io.loaders.suite2p import open_suite2p
from calab.io.paths import EXPECTED, SIDECAR_SUFFIX, locate
from calab.io.recording import Recording
from calab.io.storage import is_url
from calab.io.zarr_store import has_zarr_metadata, is_minian_store, open_node

FORMATS = ("npy", "npz", "tuning", "zarr", "hdf5", "caiman", "minian", "suite2p", "nwb")

Opener = Callable[[Path, str, "str | None"], Recording]


def open_recording(
    path: str | os.PathLike[str],
    *,
    fs: float | None = None,
    dataset: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    format: str | None = None,
) -> Recording:
    """Open a recording lazily, whatever its format.

    Parameters
    ----------
    path : str or os.PathLike
        ``rec.npy``, ``rec.npz``, a tuning-data stem (``rec`` for ``rec.npy`` +
        ``rec_metadata.json``), a zarr store (local, or any fsspec URL such as
        ``s3://bucket/rec.zarr``), an HDF5 file (CaImAn results or any 2-D
        dataset), a Minian output folder or ``C.zarr``, a suite2p plane folder
        or an ``.nwb`` file.
    fs : float, optional
        Sampling rate in Hz. When the file records its own rate (tuning
        sidecar, CaImAn, NWB, suite2p ``ops.npy``, zarr/HDF5 attributes
        ``sampling_rate_hz`` or ``fs``) the two must agree.
    dataset : str, optional
        What to read inside the file: the array of a zarr group or ``.npz``,
        the HDF5 key (``"estimates/C"``), the Minian variable (``"C"``), the
        NWB series.
    storage_options : mapping, optional
        fsspec options for a zarr URL (credentials, endpoint, ...).
    format : str, optional
        Skip detection: one of ``npy``, ``npz``, ``tuning``, ``zarr``, ``hdf5``,
        ``caiman``, ``minian``, ``suite2p``, ``nwb``.

    Returns
    -------
    Recording
        Traces of shape ``(n_cells, n_timepoints)`` read on demand, with
        ``fs``, ``file_fs``, ``cell_ids``, ``format``, ``source`` and ``dataset``.

    Raises
    ------
    calab.errors.RecordingNotFoundError
        Nothing at ``path`` (a ``FileNotFoundError``).
    calab.errors.UnsupportedRecordingError
        A path of no known format, an unreadable or malformed file, a missing
        ``dataset``, traces that are not 2-D real numbers (a ``ValueError``).
    calab.errors.InvalidParameterError
        ``fs`` is not > 0 or disagrees with the file's rate.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, calab
    >>> stem = pathlib.Path(tempfile.mkdtemp()) / "rec"
    >>> calab.save_for_tuning(np.ones((3, 100)), 20.0, stem)
    >>> recording = open_recording(stem)
    >>> recording.format, recording.shape, recording.fs, recording[1, :3].tolist()
    ('tuning', (3, 100), 20.0, [1.0, 1.0, 1.0])
    """
    given = _given(path)
    if fs is not None:
        fs = positive_number("fs", fs)
    if dataset is not None and not isinstance(dataset, str):
        raise ParameterTypeError(
            f"dataset={dataset!r} must be a string (an array, key or series name)",
            argument="dataset")
    options = _storage_options(storage_options, given)
    if format is not None and format not in FORMATS:
        raise UnsupportedRecordingError(
            f"format={format!r} is not supported; use one of {', '.join(FORMATS)}",
            argument="format")
    if is_url(given):
        if format not in (None, "zarr", "minian"):
            raise UnsupportedRecordingError(
                f"input={given!r}: only zarr stores are read from URLs; got format={format!r}",
                argument="input")
        node = open_node(given, given, options)  # once: on object storage each open is requests
        if (format or ("minian" if is_minian_store(node) else "zarr")) == "minian":
            return open_minian(given, given, dataset, storage_options=options).with_fs(fs)
        return formats.open_zarr(given, given, dataset, options, node=node).with_fs(fs)
    target = locate(given)
    fmt = format or _detect_local(target, given)
    if fmt == "zarr":
        return formats.open_zarr(str(target), given, dataset, None).with_fs(fs)
    return _OPENERS[fmt](target, given, dataset).with_fs(fs)


def detect_format(path: str | os.PathLike[str], *,
                  storage_options: Mapping[str, Any] | None = None) -> str:
    """The format of an existing recording (see :func:`open_recording`).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rec.npy"
    >>> np.save(path, np.zeros((2, 10)))
    >>> detect_format(path)
    'npy'
    """
    given = _given(path)
    if is_url(given):
        return _detect_url(given, _storage_options(storage_options, given))
    return _detect_local(locate(given), given)


def _detect_local(path: Path, given: str) -> str:
    if path.is_dir():
        return _detect_folder(path, given)
    name = path.name.lower()
    if name.endswith(SIDECAR_SUFFIX):
        return "tuning"
    if name.endswith(".npy"):
        sidecar = path.with_name(path.name[: -len(".npy")] + SIDECAR_SUFFIX)
        return "tuning" if sidecar.is_file() else "npy"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".nwb"):
        return "nwb"
    if name.endswith((".h5", ".hdf5")):
        return _detect_hdf5(path, given)
    raise UnsupportedRecordingError(
        f"cannot tell the format of input={given!r}; expected {EXPECTED} "
        f"(or pass format= one of {', '.join(FORMATS)})", argument="input")


def _detect_folder(path: Path, given: str) -> str:
    if has_zarr_metadata(path):
        return "minian" if is_minian_store(open_node(str(path), given)) else "zarr"
    if (path / "F.npy").is_file() or any(p.is_dir() for p in path.glob("plane*")):
        return "suite2p"
    if any(has_zarr_metadata(p) for p in path.glob("*.zarr")):
        return "minian"
    raise UnsupportedRecordingError(
        f"input={given!r} is a folder but neither a zarr store, a Minian output folder "
        "(holding C.zarr) nor a suite2p plane folder (holding F.npy)", argument="input")


def _detect_hdf5(path: Path, given: str) -> str:
    with formats.hdf5_file(path, given, "HDF5 file") as handle:
        if "nwb_version" in handle.attrs:
            return "nwb"
        estimates = handle.get("estimates")
        if estimates is not None and hasattr(estimates, "keys") and "C" in estimates:
            return "caiman"
    return "hdf5"


def _detect_url(given: str, options: dict[str, Any] | None) -> str:
    return "minian" if is_minian_store(open_node(given, given, options)) else "zarr"


def _given(path: Any) -> str:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise ParameterTypeError(
            f"input must be a path (str or pathlib.Path); got {type(path).__name__}",
            argument="input")
    text = os.fspath(path)
    if not isinstance(text, str) or not text:
        raise ParameterTypeError(f"input={text!r} must be a non-empty path", argument="input")
    return text


def _storage_options(options: Any, given: str) -> dict[str, Any] | None:
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise ParameterTypeError(
            f"storage_options must be a dict of fsspec options; got {type(options).__name__}",
            argument="storage_options")
    if not is_url(given):
        raise UnsupportedRecordingError(
            f"storage_options apply to fsspec URLs (s3://, gs://, ...), not the local "
            f"path input={given!r}; leave them out", argument="storage_options")
    return dict(options)


_OPENERS: dict[str, Opener] = {
    "npy": formats.open_npy,
    "npz": formats.open_npz,
    "tuning": formats.open_tuning,
    "hdf5": formats.open_hdf5,
    "caiman": open_caiman,
    "minian": open_minian,
    "suite2p": open_suite2p,
    "nwb": open_nwb,
}
