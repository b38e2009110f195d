"""Pieces shared by the format loaders: path checks, optional imports, metadata."""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from calab.core.options import positive_number as check_positive


def require_module(module: str, extra: str, loader: str) -> ModuleType:
    """Import an optional dependency or raise an ImportError naming the pip extra."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{loader} needs the optional package {module!r}; "
            f"install it with: pip install 'calab[{extra}]'"
        ) from error


def existing_path(path: str | Path, what: str) -> Path:
    """Return ``path`` as a Path, raising FileNotFoundError when it does not exist."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise FileNotFoundError(f"{what} not found: {str(resolved)!r}")
    return resolved


def resolve_fs(fs_override: Any, fs_from_file: float | None) -> float | None:
    """The sampling rate to report: the user's ``fs`` wins over the file's."""
    if fs_override is not None:
        return check_positive("fs", fs_override)
    if fs_from_file is None:
        return None
    value = float(fs_from_file)
    return value if math.isfinite(value) and value > 0 else None


def check_trace_shape(shape: tuple[int, ...], dtype: Any, where: str) -> None:
    """Require a non-empty numeric 2-D ``(n_cells, n_timepoints)`` shape."""
    if len(shape) != 2:
        raise ValueError(
            f"{where} must be 2-D (n_cells, n_timepoints); got {len(shape)}-D with shape {shape}"
        )
    if 0 in shape:
        raise ValueError(f"{where} is empty (shape {shape}); need at least one cell and sample")
    kind = np.dtype(dtype).kind
    if kind not in "biuf":
        raise ValueError(f"{where} must hold real numbers; got dtype {np.dtype(dtype)}")


def as_float_traces(traces: Any) -> Any:
    """Cast to float64 (NumPy or dask alike) unless already floating point."""
    if np.dtype(traces.dtype).kind == "f":
        return traces
    return traces.astype(np.float64)


def build_meta(source: Path, fmt: str, fs: float | None, shape: tuple[int, ...], **extras: Any):
    """The loaders' common metadata dictionary, followed by format extras."""
    meta: dict[str, Any] = {
        "source": str(source),
        "format": fmt,
        "sampling_rate_hz": fs,
        "num_cells": int(shape[0]),
        "num_timepoints": int(shape[1]),
    }
    meta.update(extras)
    return meta
