"""Tuning data: ``<stem>.npy`` plus ``<stem>_metadata.json``, the files CaTune reads.

The array is float64 little-endian (``<f8``), C order, always 2-D
``(n_cells, n_timepoints)``. The sidecar is a JSON object holding
``schema_version`` ("1.0.0"), ``sampling_rate_hz``, ``num_cells``,
``num_timepoints`` and ``dtype``, plus any keys the user added.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from calab.core.options import positive_number as check_positive
from calab.core.validation import as_trace_matrix
from calab.errors import UnsupportedRecordingError
from calab.io import json_bytes, read_json_object, write_atomically
from calab.io.arrays import npy_refusal
from calab.io.paths import SIDECAR_SUFFIX

TUNING_SCHEMA_VERSION = "1.0.0"
TUNING_DTYPE = "<f8"
BUILTIN_KEYS = ("schema_version", "sampling_rate_hz", "num_cells", "num_timepoints", "dtype")


def tuning_paths(path: str | Path) -> tuple[Path, Path]:
    """Return ``(<stem>.npy, <stem>_metadata.json)`` for a stem, ``.npy`` or sidecar path.

    Examples
    --------
    >>> [p.name for p in tuning_paths("data/rec.npy")]
    ['rec.npy', 'rec_metadata.json']
    """
    text = str(path)
    for suffix in (".npy", SIDECAR_SUFFIX):
        if text.endswith(suffix) and len(Path(text).name) > len(suffix):
            text = text[: -len(suffix)]
            break
    stem = Path(text)
    return stem.with_name(stem.name + ".npy"), stem.with_name(stem.name + SIDECAR_SUFFIX)


def save_for_tuning(
    traces: Any, fs: float, path: str | Path, metadata: Mapping[str, Any] | None = None
) -> None:
    """Save traces for CaTune: ``<stem>.npy`` and ``<stem>_metadata.json``.

    Parameters
    ----------
    traces : array_like
        ``(n_timepoints,)`` or ``(n_cells, n_timepoints)`` finite numbers. A 1-D
        trace is stored as ``(1, n_timepoints)``.
    fs : float
        Sampling rate in Hz (> 0), stored as ``sampling_rate_hz``.
    path : str or pathlib.Path
        The stem, with or without ``.npy`` (``"rec"`` and ``"rec.npy"`` both
        write ``rec.npy`` and ``rec_metadata.json``).
    metadata : mapping, optional
        Extra JSON-serialisable keys for the sidecar. The built-in keys
        (``schema_version``, ``sampling_rate_hz``, ``num_cells``,
        ``num_timepoints``, ``dtype``) win over user keys of the same name.

    Raises
    ------
    ValueError, TypeError
        Bad traces (empty, 3-D, NaN/inf, non-numeric), ``fs <= 0`` or
        metadata that is not a mapping of JSON values. Nothing is written then.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> stem = pathlib.Path(tempfile.mkdtemp()) / "rec"
    >>> save_for_tuning(np.zeros((2, 100)), 30.0, stem, metadata={"animal": "m1"})
    >>> traces, meta = load_tuning_data(stem)
    >>> traces.shape, meta["sampling_rate_hz"], meta["animal"]
    ((2, 100), 30.0, 'm1')
    """
    matrix, _ = as_trace_matrix(traces, "traces")
    fs = check_positive("fs", fs)
    sidecar = _sidecar_content(matrix.shape, fs, metadata)
    sidecar_bytes = json_bytes(sidecar, "metadata")
    npy_path, json_path = tuning_paths(path)
    array = np.ascontiguousarray(matrix, dtype=TUNING_DTYPE)
    write_atomically(npy_path, lambda fh: np.save(fh, array, allow_pickle=False))
    write_atomically(json_path, lambda fh: fh.write(sidecar_bytes))


def load_tuning_data(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Load tuning data written by :func:`save_for_tuning` or by CaTune tools.

    Parameters
    ----------
    path : str or pathlib.Path
        The stem, the ``.npy`` file or the ``_metadata.json`` sidecar.

    Returns
    -------
    traces : numpy.ndarray
        ``(n_cells, n_timepoints)`` as stored (float64 for files from CaTune tools).
    metadata : dict
        The sidecar, including ``sampling_rate_hz`` (Hz).

    Raises
    ------
    FileNotFoundError
        Either file is missing; the message names both expected files.
    ValueError
        Malformed sidecar, sidecar values that do not match the array, an
        empty or unreadable ``.npy``, or NaN/inf values (which
        :func:`save_for_tuning` refuses too).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> stem = pathlib.Path(tempfile.mkdtemp()) / "rec"
    >>> save_for_tuning(np.arange(5.0), 10.0, stem)
    >>> traces, meta = load_tuning_data(f"{stem}.npy")
    >>> traces.shape, meta["num_cells"], meta["num_timepoints"]
    ((1, 5), 1, 5)
    """
    npy_path, json_path = tuning_paths(path)
    missing = [str(p) for p in (npy_path, json_path) if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"tuning data needs {npy_path} and {json_path}; missing: {', '.join(missing)}"
        )
    metadata = read_json_object(json_path, "tuning metadata sidecar")
    traces = _load_npy(npy_path)
    check_sidecar(metadata, traces.shape, traces.dtype, json_path)
    _check_finite(traces, npy_path)
    return traces, metadata


def check_sidecar(
    metadata: Mapping[str, Any], shape: tuple[int, ...], dtype: np.dtype, source: str | Path
) -> None:
    """Check a tuning sidecar against the array's shape and dtype.

    Raises ``ValueError`` naming ``source`` and the offending field
    (``schema_version``, ``sampling_rate_hz``, ``num_cells``,
    ``num_timepoints`` or ``dtype``).
    """
    version = metadata.get("schema_version", TUNING_SCHEMA_VERSION)
    if not isinstance(version, str) or version.split(".")[0] != "1":
        raise ValueError(
            f"{source}: schema_version={version!r} is not supported; "
            f"calab reads tuning metadata schema 1.x ({TUNING_SCHEMA_VERSION})"
        )
    if "sampling_rate_hz" not in metadata:
        raise ValueError(f"{source}: missing field 'sampling_rate_hz' (sampling rate in Hz)")
    try:
        check_positive("sampling_rate_hz", metadata["sampling_rate_hz"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: {err}") from None
    for field, size in (("num_cells", shape[0]), ("num_timepoints", shape[-1])):
        if field in metadata and metadata[field] != size:
            raise ValueError(
                f"{source}: {field}={metadata[field]!r} does not match the array "
                f"shape {tuple(shape)} (expected {size})"
            )
    _check_dtype(metadata, dtype, source)


def _check_dtype(metadata: Mapping[str, Any], dtype: np.dtype, source: str | Path) -> None:
    if "dtype" not in metadata:
        return
    try:
        declared = np.dtype(metadata["dtype"])
    except Exception:  # NumPy raises TypeError, ValueError, SyntaxError... for a bad spec
        raise ValueError(f"{source}: dtype={metadata['dtype']!r} is not a NumPy dtype") from None
    if declared != dtype:
        raise ValueError(
            f"{source}: dtype={metadata['dtype']!r} does not match the array's {dtype.str}"
        )


def _sidecar_content(
    shape: tuple[int, int], fs: float, metadata: Mapping[str, Any] | None
) -> dict[str, Any]:
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict or None; got {type(metadata).__name__}")
    bad_keys = [key for key in metadata if not isinstance(key, str)]
    if bad_keys:
        raise TypeError(f"metadata keys must be strings; got {bad_keys[:3]!r}")
    builtin = {
        "schema_version": TUNING_SCHEMA_VERSION,
        "sampling_rate_hz": fs,
        "num_cells": int(shape[0]),
        "num_timepoints": int(shape[1]),
        "dtype": TUNING_DTYPE,
    }
    overridden = [k for k in BUILTIN_KEYS if k in metadata and metadata[k] != builtin[k]]
    if overridden:
        warnings.warn(
            f"metadata keys {overridden} are set by save_for_tuning and were replaced "
            f"(e.g. sampling_rate_hz comes from fs={fs})",
            UserWarning,
            stacklevel=3,
        )
    content = dict(metadata)
    content.update(builtin)
    return content


def _check_finite(traces: np.ndarray, npy_path: Path) -> None:
    """Refuse NaN/inf values, as :func:`save_for_tuning` does."""
    if traces.dtype.kind != "f":
        return
    bad = int(np.count_nonzero(~np.isfinite(traces)))
    if bad:
        rows = np.flatnonzero(~np.isfinite(traces).all(axis=1))
        raise UnsupportedRecordingError(
            f"{npy_path} holds {bad} NaN/inf values (cells {rows[:5].tolist()}"
            f"{' and more' if rows.size > 5 else ''}); tuning data must be finite. "
            "Fill or drop those cells and save again with save_for_tuning", argument="input")


def _load_npy(npy_path: Path) -> np.ndarray:
    try:
        traces = np.load(npy_path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        detail = str(err) or "the file is empty or truncated"
        if "allow_pickle" in detail:  # never pass on NumPy's advice to load it unsafely
            detail = npy_refusal()
        raise UnsupportedRecordingError(
            f"{npy_path} is not a readable numeric .npy file: {detail}", argument="input"
        ) from None
    if traces.ndim != 2:
        raise UnsupportedRecordingError(
            f"{npy_path} must hold a 2-D (n_cells, n_timepoints) array; "
            f"got {traces.ndim}-D with shape {traces.shape}"
        )
    if traces.dtype.kind not in "biuf":
        raise UnsupportedRecordingError(
            f"{npy_path} must hold real numbers; got dtype {traces.dtype}", argument="input")
    return np.asarray(traces)
