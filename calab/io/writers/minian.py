"""Deconvolved activity as a Minian variable store (``unit_id`` x ``frame``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calab.io.loaders._common import existing_path
from calab.io.writers._common import (
    OUTPUT_FORMAT,
    activity_matrix,
    provenance,
    replace_directory,
)

DEFAULT_NAME = "S_calab"
#: Variables Minian itself saves: never a calab output name.
MINIAN_VARIABLES = ("A", "C", "S", "b", "f", "YrA", "C_chk", "b0", "c0", "max_proj", "motion",
                    "Y_fm_chk", "Y_hw_chk", "varr")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
DIMS = ("unit_id", "frame")


def save_minian(
    activity: Any,
    minian_path: str | Path,
    *,
    unit_ids: Sequence[Any] | None = None,
    frames: Sequence[Any] | None = None,
    params: Mapping[str, Any] | None = None,
    name: str = DEFAULT_NAME,
) -> Path:
    """Write ``<name>.zarr`` into Minian's output folder, laid out like its ``S.zarr``.

    The store is what xarray's ``to_zarr`` writes for a DataArray named
    ``name`` with dims ``(unit_id, frame)`` and both coordinates (zarr format
    2, as Minian's), so ``xarray.open_zarr`` and Minian's ``open_minian`` read
    it beside ``C`` and ``S``. Its ``calab`` attribute records the parameters
    and calab's version. The store is built beside the folder's files and
    renamed into place whole; Minian's own stores are never touched.

    Parameters
    ----------
    activity : array_like
        ``(n_units, n_frames)`` activity.
    minian_path : str or pathlib.Path
        Minian's output folder, or one of its stores (``C.zarr``: its folder is used).
    unit_ids : sequence, optional
        The ``unit_id`` coordinate (``meta["unit_ids"]`` of
        :func:`calab.load_minian`); default ``0..n_units-1``.
    frames : sequence, optional
        The ``frame`` coordinate; default ``0..n_frames-1``.
    params : mapping, optional
        The deconvolution parameters, recorded in the attributes.
    name : str
        Variable and store name (default ``"S_calab"``); Minian's own names are refused.

    Returns
    -------
    pathlib.Path
        The store written, ``<folder>/<name>.zarr``.

    Raises
    ------
    FileExistsError
        ``<name>.zarr`` exists and was not written by calab.
    ValueError
        A Minian variable name, or coordinates that do not match the activity.

    Examples
    --------
    >>> import calab
    >>> traces, meta = calab.load_minian("minian_output", fs=20.0)  # doctest: +SKIP
    >>> act = calab.run_deconvolution(traces, 20.0, 0.1, 0.6, 0.5)  # doctest: +SKIP
    >>> save_minian(act, "minian_output", unit_ids=meta["unit_ids"])  # doctest: +SKIP
    PosixPath('minian_output/S_calab.zarr')
    """
    folder, _ = existing_path(minian_path, "Minian output")
    if folder.name.endswith(".zarr"):
        folder = folder.parent
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or name in MINIAN_VARIABLES:
        raise ValueError(
            f"name={name!r} must be letters, digits or _ and not one of Minian's variables "
            f"{list(MINIAN_VARIABLES)}; e.g. {DEFAULT_NAME!r}"
        )
    values = np.asarray(activity)
    n_rows = 1 if values.ndim == 1 else values.shape[0]
    n_time = values.shape[-1]
    matrix = activity_matrix(values, n_rows, n_time, "a Minian variable")
    units = _coordinate("unit_ids", unit_ids, n_rows)
    frame_values = _coordinate("frames", frames, n_time)
    target = folder / f"{name}.zarr"
    _refuse_foreign(target)
    record = provenance(params, like="S.zarr")

    def build(store: Path) -> None:
        _write_store(store, name, matrix, units, frame_values, record)

    return replace_directory(target, build)


def _coordinate(what: str, values: Sequence[Any] | None, size: int) -> np.ndarray:
    if values is None:
        return np.arange(size, dtype=np.int64)
    array = np.asarray(values)
    if array.shape != (size,):
        raise ValueError(f"{what} has shape {array.shape}; expected ({size},) to match the "
                         "activity")
    return array


def _write_store(store: Path, name: str, matrix: np.ndarray, units: np.ndarray,
                 frames: np.ndarray, record: dict[str, Any]) -> None:
    import zarr

    group = zarr.open_group(str(store), mode="w", zarr_format=2)
    group.attrs["calab"] = record
    rows = max(1, min(matrix.shape[0], max(1, 2**22 // (4 * matrix.shape[1]))))
    data = group.create_array(name, shape=matrix.shape, dtype="float32",
                              chunks=(rows, matrix.shape[1]), fill_value=None)
    data[...] = matrix
    data.attrs.update({"_ARRAY_DIMENSIONS": list(DIMS), "calab": record})
    for dim, coord in zip(DIMS, (units, frames), strict=True):
        array = group.create_array(dim, shape=coord.shape, dtype=coord.dtype,
                                   chunks=coord.shape, fill_value=None)
        array[...] = coord
        array.attrs["_ARRAY_DIMENSIONS"] = [dim]
    zarr.consolidate_metadata(str(store), zarr_format=2)


def _refuse_foreign(target: Path) -> None:
    if not target.exists():
        return
    attrs_file = target / ".zattrs"
    owned = False
    if attrs_file.is_file():
        try:
            owned = json.loads(attrs_file.read_text()).get("calab", {}).get("format") \
                == OUTPUT_FORMAT
        except (ValueError, AttributeError):
            owned = False
    if not owned:
        raise FileExistsError(
            f"{str(target)!r} exists and was not written by calab; it is left untouched. "
            "Pass another name="
        )
