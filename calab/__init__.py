"""calab: calcium-imaging deconvolution from one trace to a Dask cluster.

The public API is re-exported here. Names are resolved lazily so that
``import calab`` stays fast and optional layers (the Dask engine, the web
bridge, the file loaders) are imported only when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from calab._version import __version__

_EXPORTS: dict[str, str] = {
    # deconvolution (in memory or lazy on dask arrays)
    "run_deconvolution": "calab.api",
    "run_deconvolution_full": "calab.api",
    "deconvolve_from_export": "calab.api",
    "DeconvolutionResult": "calab.core.result",
    "DeconvolutionOptions": "calab.core.options",
    # core math
    "build_kernel": "calab.core.kernel",
    "tau_to_ar2": "calab.core.kernel",
    "compute_lipschitz": "calab.core.kernel",
    "bandpass_filter": "calab.core.preprocess",
    "rolling_baseline": "calab.core.preprocess",
    # parameters from the data
    "suggest_params": "calab.core.suggest",
    # simulation
    "simulate": "calab.core.simulate",
    "SimulationConfig": "calab.core.simulate",
    "SimulationResult": "calab.core.simulate",
    "INDICATOR_PRESETS": "calab.core.simulate",
    # files
    "open_recording": "calab.io.opener",
    "Recording": "calab.io.recording",
    "save_for_tuning": "calab.io.tuning",
    "load_tuning_data": "calab.io.tuning",
    "load_export_params": "calab.io.export",
    "save_export_params": "calab.io.export",
    "load_caiman": "calab.io.loaders",
    "load_minian": "calab.io.loaders",
    "load_suite2p": "calab.io.loaders",
    "load_nwb": "calab.io.loaders",
    "save_nwb": "calab.io.writers.nwb",
    # out of core
    "deconvolve_zarr": "calab.engine",
    # interactive tuning
    "tune": "calab.server.tune",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'calab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
