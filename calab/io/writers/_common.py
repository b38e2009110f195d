"""Pieces shared by the writers: provenance, shape checks, all-or-nothing file updates."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from calab._version import __version__

#: Marker stored with every output calab writes into a pipeline's layout, so a
#: rerun may replace calab's own output but never anything the pipeline wrote.
OUTPUT_FORMAT = "calab-deconvolution"


def provenance(params: Mapping[str, Any] | None, **extras: Any) -> dict[str, Any]:
    """JSON-ready record of how an output was made: format, calab version, parameters."""
    record: dict[str, Any] = {"format": OUTPUT_FORMAT, "software": "calab",
                              "version": __version__}
    record["params"] = None if params is None else json.loads(
        json.dumps(dict(params), default=_plain))
    record.update(json.loads(json.dumps(extras, default=_plain)))
    return record


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def activity_matrix(activity: Any, n_rows: int, n_time: int, what: str) -> np.ndarray:
    """``activity`` as a float32 ``(n_rows, n_time)`` matrix, or a ValueError naming ``what``.

    A 1-D activity is accepted for a single row.
    """
    values = np.asarray(activity)
    if values.ndim == 1 and n_rows == 1:
        values = values[np.newaxis, :]
    if values.shape != (n_rows, n_time):
        raise ValueError(
            f"activity has shape {values.shape}; {what} needs (n_cells, n_timepoints) = "
            f"({n_rows}, {n_time})"
        )
    if values.dtype.kind not in "biuf":
        raise TypeError(f"activity must hold real numbers; got dtype {values.dtype}")
    return np.ascontiguousarray(values, dtype=np.float32)


def scatter_rows(values: np.ndarray, rows: Any, n_total: int, what: str) -> np.ndarray:
    """Place ``values`` (one row per kept index) into a zero ``(n_total, T)`` matrix."""
    index = np.asarray(rows, dtype=np.int64).reshape(-1)
    if index.size != values.shape[0]:
        raise ValueError(
            f"{what}: {values.shape[0]} activity rows but {index.size} row indices"
        )
    if index.size and (index.min() < 0 or index.max() >= n_total):
        raise ValueError(f"{what}: row indices must lie in 0..{n_total - 1}; got "
                         f"{index.min()}..{index.max()}")
    full = np.zeros((n_total, values.shape[1]), dtype=values.dtype)
    full[index] = values
    return full


def update_file_copy(source: Path, destination: Path, modify: Callable[[Path], None]) -> Path:
    """Copy ``source`` to a temporary beside ``destination``, modify it, rename it into place.

    ``destination`` may equal ``source`` (an in-place append). On any failure the
    temporary is removed and ``destination`` keeps its previous state, so no
    half-written file is ever left under its name.
    """
    destination = Path(destination)
    if not destination.parent.is_dir():
        raise FileNotFoundError(
            f"folder {str(destination.parent)!r} does not exist; cannot write {destination.name}")
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.",
                                    suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(source, tmp)
        modify(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return destination


def replace_directory(destination: Path, build: Callable[[Path], None]) -> Path:
    """Build a directory at a temporary sibling, then swap it in for ``destination``.

    A previous ``destination`` is removed only after the new one is complete.
    """
    destination = Path(destination)
    tmp = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.",
                                suffix=".tmp"))
    old = destination.with_name(f".{destination.name}.old")
    try:
        build(tmp)
        if destination.exists():
            os.replace(destination, old)
        os.replace(tmp, destination)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not destination.exists():
            os.replace(old, destination)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return destination
