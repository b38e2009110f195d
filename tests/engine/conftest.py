"""Fixtures of the engine tests: a warm solver, one shared embedded cluster, recordings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import FS, LAM, TAU_D, TAU_R, simulated_traces, write_store


@pytest.fixture(scope="session")
def warm_solver() -> None:
    """Load the compiled solver once per test session."""
    from calab.core.deconvolve import deconvolve_matrix
    from calab.core.options import DeconvolutionOptions

    deconvolve_matrix(np.ones((2, 64)), DeconvolutionOptions(FS, TAU_R, TAU_D, LAM))


@pytest.fixture(scope="session")
def dask_client(warm_solver) -> Iterator[object]:
    """One embedded 2-worker cluster shared by the engine tests (workers warmed)."""
    from distributed import Client, LocalCluster

    from calab.engine.block import warm_up
    from calab.engine.cluster import SINGLE_THREAD_ENV

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR,
                           env=dict(SINGLE_THREAD_ENV))
    client = Client(cluster, set_as_default=False)
    client.run(warm_up)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def recording(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 24-cell, 40 s zarr recording chunked (8, 600) and its data."""
    data = simulated_traces()
    return write_store(tmp_path / "rec.zarr", data, chunks=(8, 600)), data
