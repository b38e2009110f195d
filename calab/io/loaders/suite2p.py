"""suite2p plane folders: ``F.npy``, ``Fneu.npy``, ``iscell.npy``, ``ops.npy``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calab.core.options import non_negative_number
from calab.io.loaders._common import build_meta, check_trace_shape, existing_path, resolve_fs


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
        Sampling rate in Hz overriding ``ops["fs"]``.
    lazy : bool
        Return a dask array over the memory-mapped ``.npy`` files.

    Returns
    -------
    traces : numpy.ndarray or dask.array.Array
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
        ``F``/``Fneu``/``iscell`` shapes disagree, or the coefficient is negative.

    Notes
    -----
    ``ops.npy`` is a pickled dictionary: only load folders you trust.

    Examples
    --------
    >>> traces, meta = load_suite2p("suite2p/plane0")  # doctest: +SKIP
    >>> meta["sampling_rate_hz"], meta["roi_indices"][:3]  # doctest: +SKIP
    (30.0, [0, 2, 5])
    """
    coefficient = non_negative_number("neuropil_coefficient", neuropil_coefficient)
    folder = _plane_folder(plane_dir)
    f_path = _required(folder, "F.npy")
    raw = _open_npy(f_path, lazy)
    check_trace_shape(tuple(raw.shape), raw.dtype, "F.npy")
    n_rois = raw.shape[0]
    traces = raw.astype(np.float64)
    if coefficient > 0:
        neuropil = _open_npy(_required(folder, "Fneu.npy"), lazy)
        if tuple(neuropil.shape) != tuple(raw.shape):
            raise ValueError(
                f"Fneu.npy has shape {tuple(neuropil.shape)} but F.npy has {tuple(raw.shape)}"
            )
        traces = traces - coefficient * neuropil.astype(np.float64)
    keep, probability = _selected_rois(folder, n_rois, only_cells)
    if keep is not None:
        traces = traces[keep]
    if not lazy:
        traces = np.ascontiguousarray(traces)
    kept = list(range(n_rois)) if keep is None else keep.tolist()
    meta = build_meta(
        folder,
        "suite2p",
        resolve_fs(fs, _ops_fs(folder)),
        traces.shape,
        roi_indices=kept,
        cell_probability=None if probability is None else probability[kept].tolist(),
        neuropil_coefficient=coefficient,
        num_rois=int(n_rois),
    )
    return traces, meta


def _plane_folder(plane_dir: str | Path) -> Path:
    folder = existing_path(plane_dir, "suite2p plane folder")
    if folder.is_file() and folder.suffix == ".npy":
        folder = folder.parent
    if not (folder / "F.npy").is_file():
        planes = sorted(p.name for p in folder.glob("plane*") if p.is_dir())
        hint = f"; pass one of its plane folders: {planes}" if planes else ""
        raise FileNotFoundError(f"no F.npy in {str(folder)!r}{hint}")
    return folder


def _required(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        hint = {
            "Fneu.npy": " (pass neuropil_coefficient=0 to use F alone)",
            "iscell.npy": " (pass only_cells=False to keep every ROI)",
        }.get(name, "")
        raise FileNotFoundError(f"{name} not found in {str(folder)!r}{hint}")
    return path


def _open_npy(path: Path, lazy: bool) -> Any:
    if lazy:
        from calab.engine.sources import dask_from_npy

        return dask_from_npy(path)
    return np.load(path, allow_pickle=False)


def _selected_rois(folder: Path, n_rois: int, only_cells: bool):
    """Kept row indices (None: all) and the classifier probabilities (or None)."""
    iscell_path = folder / "iscell.npy"
    if not only_cells and not iscell_path.is_file():
        return None, None
    iscell = np.load(_required(folder, "iscell.npy"), allow_pickle=False)
    iscell = iscell.reshape(-1, 1) if iscell.ndim == 1 else iscell
    if iscell.ndim != 2 or iscell.shape[0] != n_rois:
        raise ValueError(
            f"iscell.npy has shape {iscell.shape}; expected ({n_rois}, 2) to match F.npy's "
            f"{n_rois} ROIs"
        )
    probability = iscell[:, 1].astype(np.float64) if iscell.shape[1] > 1 else None
    if not only_cells:
        return None, probability
    keep = np.flatnonzero(iscell[:, 0] > 0.5)
    if keep.size == 0:
        raise ValueError(
            f"iscell.npy in {str(folder)!r} marks none of the {n_rois} ROIs as a cell; "
            "pass only_cells=False to keep every ROI"
        )
    return keep, probability


def _ops_fs(folder: Path) -> float | None:
    ops_path = folder / "ops.npy"
    if not ops_path.is_file():
        return None
    ops = np.load(ops_path, allow_pickle=True)
    ops = ops.item() if ops.dtype == object and ops.ndim == 0 else ops
    if not isinstance(ops, dict) or "fs" not in ops:
        return None
    return float(ops["fs"])
