"""Deconvolved activity beside suite2p's own ``spks.npy`` in a plane folder."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calab.io import json_bytes, read_json_object, write_atomically
from calab.io.writers._common import OUTPUT_FORMAT, activity_matrix, provenance, scatter_rows

DEFAULT_NAME = "spks_calab"
#: Files suite2p itself writes in a plane folder: never a calab output name.
SUITE2P_FILES = ("F", "Fneu", "spks", "iscell", "ops", "stat", "redcell", "data", "F_chan2",
                 "Fneu_chan2", "spks_chan2")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


def save_suite2p(
    activity: Any,
    plane_dir: str | Path,
    *,
    roi_indices: Sequence[int] | None = None,
    params: Mapping[str, Any] | None = None,
    name: str = DEFAULT_NAME,
) -> Path:
    """Write ``<name>.npy`` shaped like suite2p's ``spks.npy`` into a plane folder.

    suite2p's ``spks.npy`` has one row per ROI of ``F.npy``, cells and
    non-cells alike; ``iscell.npy`` says which are cells. calab deconvolves
    the ROIs it loaded (by default those ``iscell`` marks as cells) and writes
    a full-size float32 array: their rows hold the activity, the rows of ROIs
    not deconvolved are zero. ``<name>.json`` beside it records which rows
    were computed (``roi_indices``), the parameters and calab's version.
    suite2p's files are never touched.

    Parameters
    ----------
    activity : array_like
        ``(n_selected, n_timepoints)`` activity, one row per ``roi_indices``.
    plane_dir : str or pathlib.Path
        The suite2p plane folder (holding ``F.npy``).
    roi_indices : sequence of int, optional
        Rows of ``F.npy`` the activity rows belong to (``meta["roi_indices"]``
        of :func:`calab.load_suite2p`). Default: every ROI when the activity
        has ``F.npy``'s row count, else the ROIs ``iscell.npy`` marks as cells.
    params : mapping, optional
        The deconvolution parameters, recorded in ``<name>.json``.
    name : str
        File stem (default ``"spks_calab"``); suite2p's own names are refused.

    Returns
    -------
    pathlib.Path
        The ``.npy`` written.

    Raises
    ------
    FileNotFoundError
        No ``F.npy`` in ``plane_dir``.
    FileExistsError
        ``<name>.npy`` exists and was not written by calab.
    ValueError
        A suite2p file name, or activity / index shapes that do not match.

    Examples
    --------
    >>> import calab
    >>> traces, meta = calab.load_suite2p("suite2p/plane0")  # doctest: +SKIP
    >>> fs = meta["sampling_rate_hz"]  # doctest: +SKIP
    >>> act = calab.run_deconvolution(traces, fs, 0.1, 0.6, 0.5)  # doctest: +SKIP
    >>> save_suite2p(act, "suite2p/plane0", roi_indices=meta["roi_indices"])  # doctest: +SKIP
    PosixPath('suite2p/plane0/spks_calab.npy')
    """
    folder = Path(plane_dir).expanduser()
    if folder.is_file():
        folder = folder.parent
    _check_name(name)
    f_path = folder / "F.npy"
    if not f_path.is_file():
        raise FileNotFoundError(f"plane_dir={str(plane_dir)!r} holds no F.npy; pass a suite2p "
                                "plane folder such as suite2p/plane0")
    n_rois, n_time = np.load(f_path, mmap_mode="r").shape
    values = np.asarray(activity)
    rows = _rows(folder, roi_indices, values, n_rois)
    matrix = activity_matrix(values, len(rows), n_time, f"{f_path.name} with {len(rows)} ROIs")
    full = scatter_rows(matrix, rows, n_rois, "roi_indices")
    target, sidecar = folder / f"{name}.npy", folder / f"{name}.json"
    _refuse_foreign(target, sidecar)
    record = provenance(params, roi_indices=[int(i) for i in rows], num_rois=int(n_rois),
                        like="spks.npy")
    # the sidecar first: it only ever claims a file that is absent or already calab's
    write_atomically(sidecar, lambda fh: fh.write(json_bytes(record, "suite2p sidecar")))
    write_atomically(target, lambda fh: np.save(fh, full, allow_pickle=False))
    return target


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or name in SUITE2P_FILES:
        raise ValueError(
            f"name={name!r} must be a plain file stem (letters, digits, _ . -) other than "
            f"suite2p's own {list(SUITE2P_FILES)}; e.g. {DEFAULT_NAME!r}"
        )


def _rows(folder: Path, roi_indices: Sequence[int] | None, values: np.ndarray,
          n_rois: int) -> np.ndarray:
    if roi_indices is not None:
        return np.asarray(roi_indices, dtype=np.int64).reshape(-1)
    n_rows = 1 if values.ndim == 1 else values.shape[0]
    if n_rows == n_rois:
        return np.arange(n_rois)
    iscell_path = folder / "iscell.npy"
    if not iscell_path.is_file():
        raise ValueError(f"activity has {n_rows} rows but F.npy {n_rois} ROIs and there is no "
                         "iscell.npy; pass roi_indices=")
    iscell = np.load(iscell_path, allow_pickle=False)
    iscell = iscell.reshape(-1, 1) if iscell.ndim == 1 else iscell
    return np.flatnonzero(iscell[:, 0] > 0.5)


def _refuse_foreign(target: Path, sidecar: Path) -> None:
    if not target.exists():
        return
    owned = False
    if sidecar.is_file():
        try:
            owned = read_json_object(sidecar).get("format") == OUTPUT_FORMAT
        except ValueError:
            owned = False
    if not owned:
        raise FileExistsError(
            f"{str(target)!r} exists and was not written by calab; it is left untouched. "
            "Pass another name="
        )
