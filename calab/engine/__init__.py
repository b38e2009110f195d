"""Out-of-core and distributed deconvolution on Dask and zarr.

This is the only package of calab that imports dask, distributed or zarr;
they are imported lazily, so ``import calab.engine`` stays light.

- :func:`deconvolve_zarr`: zarr recording in, zarr result out, block by block
  on an embedded ``LocalCluster`` or an existing Dask scheduler, resumable.
- :func:`calab.engine.lazy.deconvolve_dask`: the lazy form of
  :func:`calab.run_deconvolution_full` for dask arrays.
"""

from __future__ import annotations

import importlib
from typing import Any

from calab.engine.errors import BlocksFailedError, Cancelled, ResumeMismatchError

_LAZY: dict[str, str] = {
    "deconvolve_zarr": "calab.engine.zarr_run",
    "deconvolve_dask": "calab.engine.lazy",
    "plan_chunk_cells": "calab.engine.planning",
}

__all__ = ["BlocksFailedError", "Cancelled", "ResumeMismatchError", *_LAZY]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'calab.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
