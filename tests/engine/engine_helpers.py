"""Constants and small helpers shared by the engine tests (unique module name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FS, TAU_R, TAU_D, LAM = 30.0, 0.05, 0.4, 0.03
PARAMS = {"tau_rise": TAU_R, "tau_decay": TAU_D, "lambda_": LAM, "fs": FS}


def simulated_traces(n_cells: int = 24, duration_s: float = 40.0, seed: int = 3) -> np.ndarray:
    """Seeded simulated recording, float32 ``(n_cells, n_timepoints)``."""
    import calab

    sim = calab.simulate(num_cells=n_cells, duration_s=duration_s, fs=FS, seed=seed,
                         tau_rise_s=TAU_R, tau_decay_s=TAU_D)
    return sim.traces.astype(np.float32)


def write_store(path: Path, data: np.ndarray, chunks: tuple[int, ...] | None = None,
                zarr_format: int = 3) -> Path:
    """Write ``data`` as a plain zarr array at ``path``."""
    import zarr

    zarr.create_array(str(path), data=data, chunks=chunks or data.shape,
                      zarr_format=zarr_format, overwrite=True)
    return path


def assert_same_result(got, want, float32: bool = False) -> None:
    """Fields equal up to floating-point summation order (the solver's threads vary)."""
    from calab.core.result import DeconvolutionResult

    names = DeconvolutionResult._fields[: len(want)]
    for name, a, b in zip(names, got, want, strict=True):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, name
        if np.issubdtype(b.dtype, np.floating):
            if float32:
                b = b.astype(np.float32).astype(np.float64)
            rtol, atol = (2e-6, 1e-7) if float32 else (1e-9, 1e-12)
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def in_memory_by_blocks(data: np.ndarray, chunk_cells: int):
    """The in-memory core run on the same blocks of cells as the engine."""
    from calab.core.deconvolve import deconvolve_matrix
    from calab.core.options import DeconvolutionOptions
    from calab.core.result import DeconvolutionResult

    options = DeconvolutionOptions(FS, TAU_R, TAU_D, LAM)
    parts = [deconvolve_matrix(np.asarray(data[i : i + chunk_cells], dtype=np.float64), options)
             for i in range(0, data.shape[0], chunk_cells)]
    return DeconvolutionResult(*(np.concatenate([getattr(p, f) for p in parts])
                                 for f in DeconvolutionResult._fields))
