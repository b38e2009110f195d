"""Pieces shared by the format loaders: optional imports, paths, the rate, the result."""

from __future__ import annotations

import importlib
import math
import os
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from calab.core.options import positive_number
from calab.errors import MissingDependencyError
from calab.io.paths import locate
from calab.io.recording import Recording, check_traces


def require_module(module: str, extra: str, loader: str) -> ModuleType:
    """Import an optional dependency or raise an ImportError naming the pip extra."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f"{loader} needs the optional package {module!r}; "
            f"install it with: pip install 'calab[{extra}]'"
        ) from error


def existing_path(path: str | os.PathLike[str], what: str) -> tuple[Path, str]:
    """``(existing path, path as given)``; a clear error naming ``path`` otherwise."""
    given = os.fspath(path)
    if not isinstance(given, str):
        raise TypeError(f"{what} path must be a str or pathlib.Path; got {type(path).__name__}")
    return locate(given, stem=False), given


def resolve_fs(fs_override: Any, fs_from_file: float | None) -> float | None:
    """The sampling rate to report: the user's ``fs`` wins over the file's."""
    if fs_override is not None:
        return positive_number("fs", fs_override)
    if fs_from_file is None:
        return None
    value = float(fs_from_file)
    return value if math.isfinite(value) and value > 0 else None


def float_dtype(dtype: Any) -> np.dtype:
    """The stored type when it is floating point, else float64."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def loader_result(recording: Recording, fs: Any, lazy: bool) -> tuple[Any, dict[str, Any]]:
    """A loader's ``(traces, meta)``: the file-backed array when ``lazy``, else NumPy."""
    recording = replace(recording, fs=resolve_fs(fs, recording.file_fs))
    traces = recording.traces if lazy else recording.traces.read()
    return traces, recording.meta()


__all__ = ["check_traces", "existing_path", "float_dtype", "loader_result", "require_module",
           "resolve_fs"]
