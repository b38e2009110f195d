"""The lazy API: dask in, lazy dask out, the same numbers as NumPy in memory."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from engine_helpers import (
    FS,
    LAM,
    TAU_D,
    TAU_R,
    assert_same_result,
    in_memory_by_blocks,
    simulated_traces,
)

import calab
from calab.core.deconvolve import deconvolve_matrix
from calab.core.options import DeconvolutionOptions
from calab.engine.lazy import deconvolve_dask

OPTIONS = DeconvolutionOptions(FS, TAU_R, TAU_D, LAM)


class CountingScheduler:
    """A synchronous dask scheduler that counts its invocations and the tasks it runs."""

    def __init__(self) -> None:
        self.calls = 0
        self.tasks: list[str] = []

    def __call__(self, dsk, keys, **kwargs):
        from dask.callbacks import Callback
        from dask.local import get_sync

        self.calls += 1
        with Callback(pretask=lambda key, *_: self.tasks.append(_key_name(key))):
            return get_sync(dsk, keys, **kwargs)

    def solves(self) -> int:
        return sum(name.startswith("calab-deconvolve") for name in self.tasks)


def _key_name(key) -> str:
    return str(key[0] if isinstance(key, tuple) else key)


@pytest.fixture(scope="module")
def traces() -> np.ndarray:
    return simulated_traces(n_cells=20, duration_s=20.0, seed=5).astype(np.float64)


@pytest.mark.parametrize("kind", ["numpy", "dask"])
def test_same_result_on_numpy_and_dask(traces, kind, warm_solver):
    data = traces if kind == "numpy" else da.from_array(traces, chunks=(7, 100))
    result = calab.run_deconvolution_full(data, FS, TAU_R, TAU_D, LAM)
    expected = deconvolve_matrix(traces, OPTIONS)
    if kind == "dask":
        assert all(isinstance(field, da.Array) for field in result)
        expected = in_memory_by_blocks(traces, result.activity.chunks[0][0])
        result = dask.compute(*result, scheduler="sync")
    assert [np.asarray(f).dtype for f in result] == [np.asarray(f).dtype for f in expected]
    assert_same_result(result, expected)
    activity = calab.run_deconvolution(data, FS, TAU_R, TAU_D, LAM)
    assert isinstance(activity, np.ndarray if kind == "numpy" else da.Array)


def test_nothing_computes_until_asked(traces, warm_solver):
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        lazy = deconvolve_dask(da.from_array(traces, chunks=(5, 400)), OPTIONS, chunk_cells=6)
        assert counter.calls == 0 and counter.tasks == []
        assert lazy.activity.chunks[1] == (traces.shape[1],)  # whole time axis per block
        n_blocks = lazy.activity.numblocks[0]
        assert n_blocks == 4
        computed = dask.compute(*lazy)
    assert counter.calls == 1
    assert counter.solves() == n_blocks  # all five fields from one solve per block
    assert_same_result(computed, in_memory_by_blocks(traces, 6))


def test_configurable_block_size_and_one_trace(traces, warm_solver):
    result = deconvolve_dask(da.from_array(traces), OPTIONS, chunk_cells=3)
    assert result.activity.chunks[0] == (3,) * 6 + (2,)
    single = calab.run_deconvolution_full(da.from_array(traces[4], chunks=50), FS, TAU_R,
                                          TAU_D, LAM)
    assert single.activity.ndim == 1 and single.iterations.ndim == 0
    activity, iterations = dask.compute(single.activity, single.iterations, scheduler="sync")
    expected = deconvolve_matrix(traces[4], OPTIONS)
    np.testing.assert_allclose(activity, expected.activity, rtol=1e-9, atol=1e-12)
    assert int(iterations) == expected.iterations


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (np.zeros((2, 3, 4)), {}, ValueError, "got 3-D"),
        (np.zeros((2, 10), dtype=complex), {}, TypeError, "complex"),
        (np.zeros((0, 10)), {}, ValueError, "empty"),
        (np.zeros((2, 10)), {"tau_r": 0.6}, ValueError, "tau_r=0.6 must be smaller"),
        (np.zeros((2, 10)), {"lam": -1.0}, ValueError, "lam=-1.0"),
        (np.zeros((2, 10)), {"conv_mode": "direct"}, ValueError, "conv_mode='direct'"),
    ],
)
def test_bad_input_fails_before_any_compute(data, kwargs, error, match):
    args = {"fs": FS, "tau_r": TAU_R, "tau_d": TAU_D, "lam": LAM, **kwargs}
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter), pytest.raises(error, match=match):
        calab.run_deconvolution_full(da.from_array(data), **args)
    assert counter.calls == 0


def test_nan_is_reported_when_computed(traces, warm_solver):
    bad = traces.copy()
    bad[3, 10:14] = np.nan
    lazy = calab.run_deconvolution(da.from_array(bad, chunks=(10, -1)), FS, TAU_R, TAU_D, LAM)
    with pytest.raises(ValueError, match="NaN"):
        lazy.compute(scheduler="sync")
    filled = calab.run_deconvolution(da.from_array(bad), FS, TAU_R, TAU_D, LAM,
                                     nan_policy="interpolate").compute(scheduler="sync")
    assert np.isfinite(filled).all() and filled.shape == bad.shape
