"""suite2p plane folders: ``F.npy``, ``Fneu.npy``, ``iscell.npy``, ``ops.npy``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calab.core.options import non_negative_number
from calab.errors import RecordingNotFoundError, UnsupportedRecordingError
from calab.io.arrays import NpyArray, StoredArray, TraceArray, unreadable
from calab.io.loaders._common import check_traces, existing_path, loader_result
from calab.io.plain_pickle import read_plain_npy
from calab.io.recording import Recording


def load_suite2p(
    plane_dir: str | Path,
    neuropil_coefficient: float = 0.7,
    only_cells: bool = True,
    *,
    fs: float | None = None,
    lazy: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Load neuropil-corrected fluorescence from a suite2p plane folder.

    Returns ``F - neuropil_coefficient * Fneu`` for the ROIs suite2p
    classified as cells (``iscell.npy`` first column), with the sampling rate
    from ``ops.npy`` (``ops["fs"]``).

    Parameters
    ----------
    plane_dir : str or Path
        A plane folder such as ``suite2p/plane0`` (or its ``F.npy``).
    neuropil_coefficient : float
        Neuropil scaling, >= 0 (suite2p's default is 0.7; 0 returns raw F).
    only_cells : bool
        Keep only ROIs with ``iscell[:, 0] == 1``; False keeps every ROI.
    fs : float, optional
        Sampling rate in Hz; ``ops.npy`` is then not read at all.
    lazy : bool
        Return a :class:`calab.io.arrays.TraceArray` over the memory-mapped
        ``.npy`` files (picklable; ``dask.array.from_array`` wraps it).

    Returns
    -------
    traces : numpy.ndarray or calab.io.arrays.TraceArray
        Float traces, shape ``(n_cells, n_timepoints)``.
    meta : dict
        ``source``, ``format`` (``"suite2p"``), ``sampling_rate_hz``,
        ``num_cells``, ``num_timepoints``, ``roi_indices`` (the kept rows of
        ``F.npy``), ``cell_probability`` (``iscell[:, 1]`` of those rows, or
        None), ``neuropil_coefficient``, ``num_rois`` (before selection).

    Raises
    ------
    FileNotFoundError
        The folder, ``F.npy``, ``Fneu.npy`` (coefficient > 0) or
        ``iscell.npy`` (``only_cells=True``) is missing; a suite2p root folder
        gets a hint listing its ``plane*`` folders.
    ValueError
        ``F``/``Fneu``/``iscell`` shapes disagree, the coefficient is negative,
        or ``ops["fs"]`` is not a number > 0.

    Notes
    -----
    ``ops.npy`` is a pickled dictionary. calab reads it with an unpickler that
    builds only NumPy arrays and plain Python values, so a crafted file cannot
    run code; with ``fs`` given it is not read at all.

    Examples
    --------
    >>> traces, meta = load_suite2p("suite2p/plane0")  # doctest: +SKIP
    >>> meta["sampling_rate_hz"], meta["roi_indices"][:3]  # doctest: +SKIP
    (30.0, [0, 2, 5])
    """
    path, given = existing_path(plane_dir, "suite2p plane folder")
    recording = open_suite2p(path, given, neuropil_coefficient=neuropil_coefficient,
                             only_cells=only_cells, read_ops=fs is None)
    return loader_result(recording, fs, lazy)


def open_suite2p(path: Path, given: str, dataset: str | None = None, *,
                 neuropil_coefficient: float = 0.7, only_cells: bool = True,
                 read_ops: bool = True) -> Recording:
    """A suite2p plane folder as a :class:`~calab.io.recording.Recording` (read lazily).

    ``read_ops=False`` leaves ``ops.npy`` unread (no sampling rate from the file).
    """
    if dataset is not None:
        raise UnsupportedRecordingError(
            f"dataset={dataset!r} is not used for suite2p input; leave it out",
            argument="dataset")
    coefficient = non_negative_number("neuropil_coefficient", neuropil_coefficient)
    folder = _plane_folder(path, given)
    raw = _npy(_required(folder, "F.npy", given), given)
    check_traces(raw.shape, raw.dtype, f"F.npy in input={given!r}")
    n_rois = raw.shape[0]
    parts: list[tuple[StoredArray, float]] = [(raw, 1.0)]
    if coefficient > 0:
        neuropil = _npy(_required(folder, "Fneu.npy", given), given)
        if neuropil.shape != raw.shape or neuropil.dtype.kind not in "biuf":
            raise UnsupportedRecordingError(
                f"Fneu.npy has shape {neuropil.shape} ({neuropil.dtype}) but F.npy has "
                f"{raw.shape}, in input={given!r}", argument="input")
        parts.append((neuropil, -coefficient))
    keep, probability = _selected_rois(folder, n_rois, only_cells, given)
    traces = TraceArray(parts, rows=keep, dtype=np.float64)
    kept = list(range(n_rois)) if keep is None else keep.tolist()
    extras = {
        "roi_indices": kept,
        "cell_probability": None if probability is None else probability[kept].tolist(),
        "neuropil_coefficient": coefficient,
        "num_rois": int(n_rois),
    }
    file_fs = ops_fs(folder, given) if read_ops else None
    return Recording(traces, "suite2p", given, file_fs=file_fs, cell_ids=kept, extras=extras)


def _plane_folder(path: Path, given: str) -> Path:
    folder = path.parent if path.is_file() and path.suffix == ".npy" else path
    if not (folder / "F.npy").is_file():
        planes = sorted(p.name for p in folder.glob("plane*") if p.is_dir())
        hint = f"; pass one of its plane folders: {planes}" if planes else ""
        raise RecordingNotFoundError(f"no F.npy in input={given!r}{hint}", argument="input")
    return folder


def _required(folder: Path, name: str, given: str) -> Path:
    path = folder / name
    if not path.is_file():
        hint = {
            "Fneu.npy": " (pass neuropil_coefficient=0 to use F alone)",
            "iscell.npy": " (pass only_cells=False to keep every ROI)",
        }.get(name, "")
        raise RecordingNotFoundError(f"{name} not found in input={given!r}{hint}",
                                     argument="input")
    return path


def _npy(path: Path, given: str) -> NpyArray:
    try:
        return NpyArray(str(path))
    except (ValueError, OSError, EOFError) as err:
        raise unreadable(f"{given}/{path.name}", "numeric .npy file", err) from None


def _selected_rois(folder: Path, n_rois: int, only_cells: bool, given: str
                   ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Kept row indices (None: all) and the classifier probabilities (or None)."""
    iscell_path = folder / "iscell.npy"
    if not only_cells and not iscell_path.is_file():
        return None, None
    path = _required(folder, "iscell.npy", given)
    try:
        iscell = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise unreadable(f"{given}/iscell.npy", "numeric .npy file", err) from None
    iscell = iscell.reshape(-1, 1) if iscell.ndim == 1 else iscell
    if iscell.ndim != 2 or iscell.shape[0] != n_rois or iscell.dtype.kind not in "biuf":
        raise UnsupportedRecordingError(
            f"iscell.npy has shape {iscell.shape} ({iscell.dtype}); expected ({n_rois}, 2) "
            f"numbers to match F.npy's {n_rois} ROIs, in input={given!r}", argument="input")
    probability = iscell[:, 1].astype(np.float64) if iscell.shape[1] > 1 else None
    if not only_cells:
        return None, probability
    keep = np.flatnonzero(iscell[:, 0] > 0.5)
    if keep.size == 0:
        raise UnsupportedRecordingError(
            f"iscell.npy in input={given!r} marks none of the {n_rois} ROIs as a cell; "
            "pass only_cells=False to keep every ROI", argument="only_cells")
    return keep, probability


def ops_fs(folder: Path, given: str) -> float | None:
    """``ops["fs"]`` from ``ops.npy``, read without running any code it may hold.

    ``ops.npy`` is a pickled dictionary; it is read with an unpickler that
    builds only NumPy arrays and plain Python values, so a crafted file cannot
    run code. None when the folder has no ``ops.npy`` or it holds no ``fs``.
    """
    ops_path = folder / "ops.npy"
    if not ops_path.is_file():
        return None
    ops = read_plain_npy(ops_path, f"{given}/ops.npy")
    ops = ops.item() if ops.dtype == object and ops.ndim == 0 else ops
    if not isinstance(ops, dict) or "fs" not in ops:
        return None
    value = ops["fs"]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) or (
        np.iscomplexobj(value) or not np.isfinite(value) or value <= 0
    ):
        raise UnsupportedRecordingError(
            f"ops.npy in input={given!r} has fs={_short(value)}, not a sampling rate in Hz "
            "(a number > 0); pass fs= to give the rate yourself", argument="fs")
    return float(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
