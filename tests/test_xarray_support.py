"""run_deconvolution(_full) on xarray.DataArray: same dims and coords out, lazy for dask."""

from __future__ import annotations

import numpy as np
import pytest

import calab

xr = pytest.importorskip("xarray")
ARGS = (30.0, 0.1, 0.6, 0.5)


@pytest.fixture
def traces():
    return calab.simulate(num_cells=5, duration_s=10.0, fs=30.0, seed=4).traces


def minian_array(values, backend):
    data = values if backend == "numpy" else pytest.importorskip("dask.array").from_array(
        values, chunks=(2, 100))
    return xr.DataArray(
        data, dims=("unit_id", "frame"), name="C",
        coords={"unit_id": [3, 5, 8, 13, 21], "frame": np.arange(values.shape[1]),
                "session": ("unit_id", list("abcde"))},
    )


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_minian_dims_detected_coords_kept(traces, backend):
    array = minian_array(traces, backend)
    result = calab.run_deconvolution_full(array, *ARGS)
    expected = calab.run_deconvolution_full(traces, *ARGS)
    activity = result.activity
    assert isinstance(activity, xr.DataArray) and activity.dims == ("unit_id", "frame")
    assert activity["unit_id"].values.tolist() == [3, 5, 8, 13, 21]
    assert activity["session"].values.tolist() == list("abcde")
    assert activity.name == "C_activity"
    assert (type(activity.data).__module__.startswith("dask")) == (backend == "dask")
    np.testing.assert_allclose(activity.values, expected.activity, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(result.reconvolution.values, expected.reconvolution, rtol=1e-6)
    assert result.baseline.dims == ("unit_id",)
    assert result.baseline["session"].values.tolist() == list("abcde")
    np.testing.assert_allclose(result.baseline.values, expected.baseline, rtol=1e-6)
    assert result.iterations.values.tolist() == np.asarray(expected.iterations).tolist()
    plain = calab.run_deconvolution(array, *ARGS)
    assert isinstance(plain, xr.DataArray) and plain.dims == ("unit_id", "frame")


def test_dask_input_stays_lazy_until_computed(traces):
    from dask.callbacks import Callback

    computations = []

    class Count(Callback):
        def _start(self, dsk):
            computations.append(len(dsk))

    array = minian_array(traces, "dask")
    with Count():
        activity = calab.run_deconvolution(array, *ARGS)
        assert computations == []  # building the result computed nothing
        values = activity.values
    assert len(computations) == 1 and values.shape == traces.shape


def test_time_first_and_named_dims(traces):
    time_first = xr.DataArray(traces.T, dims=("t", "roi"),
                              coords={"roi": ["r0", "r1", "r2", "r3", "r4"]})
    result = calab.run_deconvolution_full(time_first, *ARGS, dims=("roi", "t"))
    assert result.activity.dims == ("t", "roi")  # the input's own order
    np.testing.assert_allclose(result.activity.values.T, calab.run_deconvolution(traces, *ARGS),
                               rtol=1e-6, atol=1e-8)
    assert result.converged.dims == ("roi",) and result.converged["roi"].values[0] == "r0"
    one = xr.DataArray(traces[0], dims=("time",), coords={"time": np.arange(300) / 30.0})
    single = calab.run_deconvolution_full(one, *ARGS)
    assert single.activity.dims == ("time",) and single.baseline.dims == ()
    np.testing.assert_allclose(single.activity["time"].values, np.arange(300) / 30.0)


def test_bad_dims_are_named(traces):
    unnamed = xr.DataArray(traces, dims=("a", "b"))
    with pytest.raises(ValueError, match=r"dims \('a', 'b'\); pass dims=\(cell_dim, time_dim\)"):
        calab.run_deconvolution(unnamed, *ARGS)
    with pytest.raises(ValueError, match=r"dims=\('a', 'c'\) must name .* \('a', 'b'\)"):
        calab.run_deconvolution(unnamed, *ARGS, dims=("a", "c"))
    with pytest.raises(TypeError, match=r"dims=.*xarray.DataArray input \(pip install "
                       r"'calab\[xarray\]'\); traces is a numpy.ndarray"):
        calab.run_deconvolution(traces, *ARGS, dims=("a", "b"))


@pytest.mark.parametrize("return_full", [False, True])
def test_export_route_keeps_dims_like_run_deconvolution(traces, tmp_path, return_full):
    from calab.io.export import save_export_params

    fs, tau_r, tau_d, lam = ARGS[:4]
    export = tmp_path / "export.json"
    save_export_params({"fs": fs, "tau_rise": tau_r, "tau_decay": tau_d, "lambda_": lam,
                        "filter_enabled": False}, export)
    array = minian_array(traces, "numpy")
    got = calab.deconvolve_from_export(array, export, return_full=return_full)
    activity = got.activity if return_full else got
    assert isinstance(activity, xr.DataArray) and activity.dims == ("unit_id", "frame")
    assert activity["unit_id"].values.tolist() == [3, 5, 8, 13, 21]
    np.testing.assert_array_equal(activity.values, calab.run_deconvolution(array, *ARGS).values)
