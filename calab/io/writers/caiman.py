"""Deconvolved activity as a new dataset under ``estimates`` of a CaImAn HDF5 file."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calab.io.loaders._common import existing_path, require_module
from calab.io.writers._common import (
    OUTPUT_FORMAT,
    activity_matrix,
    provenance,
    scatter_rows,
    update_file_copy,
)

DEFAULT_NAME = "S_calab"
TRACE_KEY = "estimates/C"
ATTRS_KEY = "calab"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")


def save_caiman(
    activity: Any,
    path: str | Path,
    *,
    component_indices: Sequence[int] | None = None,
    params: Mapping[str, Any] | None = None,
    name: str = DEFAULT_NAME,
) -> str:
    """Write ``estimates/<name>`` into a CaImAn results file, shaped like ``estimates/S``.

    One row per component of ``estimates/C`` (float32, components x frames),
    as CaImAn's own ``S``; rows of components not deconvolved are zero, and
    CaImAn's ``idx_components`` keeps selecting the accepted ones. The
    dataset's ``calab`` attribute (JSON) records ``component_indices``, the
    parameters and calab's version. ``S`` and every other CaImAn dataset are
    never touched; the file is rewritten through a temporary copy and
    renamed, so a failure leaves it as it was.

    Parameters
    ----------
    activity : array_like
        ``(n_selected, n_frames)`` activity, one row per ``component_indices``.
    path : str or pathlib.Path
        The ``.hdf5`` written by ``cnm.save``.
    component_indices : sequence of int, optional
        Rows of ``estimates/C`` the activity belongs to
        (``meta["component_indices"]`` of :func:`calab.load_caiman`); default
        every component.
    params : mapping, optional
        The deconvolution parameters, recorded in the attribute.
    name : str
        Dataset name under ``estimates`` (default ``"S_calab"``).

    Returns
    -------
    str
        The dataset's key, ``"estimates/<name>"``.

    Raises
    ------
    FileExistsError
        ``estimates/<name>`` exists and was not written by calab (``S``, ``C`` ...).
    KeyError
        No ``estimates/C`` in the file.
    ValueError
        Activity or index shapes that do not match ``estimates/C``.

    Examples
    --------
    >>> import calab
    >>> traces, meta = calab.load_caiman("results.hdf5")  # doctest: +SKIP
    >>> fs = meta["sampling_rate_hz"]  # doctest: +SKIP
    >>> act = calab.run_deconvolution(traces, fs, 0.1, 0.6, 0.5)  # doctest: +SKIP
    >>> rows = meta["component_indices"]  # doctest: +SKIP
    >>> save_caiman(act, "results.hdf5", component_indices=rows)  # doctest: +SKIP
    'estimates/S_calab'
    """
    h5py = require_module("h5py", "loaders", "save_caiman")
    path, _ = existing_path(path, "CaImAn results file")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(f"name={name!r} must be letters, digits or _ (e.g. {DEFAULT_NAME!r})")
    key = f"estimates/{name}"
    with h5py.File(path, "r") as handle:
        if TRACE_KEY not in handle:
            raise KeyError(f"{str(path)!r} has no {TRACE_KEY!r}; is it a CaImAn results file?")
        n_components, n_frames = handle[TRACE_KEY].shape
        _refuse_foreign(handle, key, path)
    rows = (np.arange(n_components) if component_indices is None
            else np.asarray(component_indices, dtype=np.int64).reshape(-1))
    matrix = activity_matrix(activity, len(rows), n_frames, f"{len(rows)} components")
    full = scatter_rows(matrix, rows, n_components, "component_indices")
    record = provenance(params, component_indices=rows.tolist(), like="estimates/S")

    def modify(copy: Path) -> None:
        with h5py.File(copy, "r+") as handle:
            if key in handle:
                del handle[key]
            dataset = handle.create_dataset(key, data=full, compression="gzip")
            dataset.attrs[ATTRS_KEY] = json.dumps(record)

    update_file_copy(path, path, modify)
    return key


def _refuse_foreign(handle: Any, key: str, path: Path) -> None:
    if key not in handle:
        return
    try:
        record = json.loads(handle[key].attrs.get(ATTRS_KEY, "null"))
    except (TypeError, ValueError):
        record = None
    if not (isinstance(record, dict) and record.get("format") == OUTPUT_FORMAT):
        raise FileExistsError(
            f"{key!r} in {str(path)!r} exists and was not written by calab; it is left "
            "untouched. Pass another name="
        )
