"""The public deconvolution API: shapes, types, layouts, optimality and edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.linalg import toeplitz
from scipy.optimize import minimize

import calab
from calab.core.deconvolve import preprocess
from calab.core.kernel import build_kernel
from calab.core.metrics import causal_convolve, objective

FS, TAU_R, TAU_D, LAM = 30.0, 0.05, 0.3, 0.3
PARAMS = (FS, TAU_R, TAU_D, LAM)


@pytest.fixture(scope="module")
def traces() -> np.ndarray:
    sim = calab.simulate(num_cells=4, duration_s=20.0, fs=FS, tau_rise_s=TAU_R, tau_decay_s=TAU_D,
                         peak_dff=1.0, snr=5.0, firing_rate_hz=1.0, dc_offset=3.0, seed=31)
    return sim.traces


def _export(path, *, filter_enabled: bool) -> str:
    document = {
        "schema_version": "1.2.0",
        "catune_version": "0.9.0",
        "parameters": {"tau_rise_s": TAU_R, "tau_decay_s": TAU_D, "lambda": LAM,
                       "sampling_rate_hz": FS, "filter_enabled": filter_enabled},
    }
    path.write_text(json.dumps(document))
    return str(path)


def test_two_d_result_types_and_shapes(traces):
    result = calab.run_deconvolution_full(traces, *PARAMS)
    assert isinstance(result, calab.DeconvolutionResult)
    n_cells = traces.shape[0]
    for array in (result.activity, result.reconvolution):
        assert array.shape == traces.shape and array.dtype == np.float64
    assert result.baseline.shape == (n_cells,) and result.baseline.dtype == np.float64
    assert result.iterations.shape == (n_cells,)
    assert np.issubdtype(result.iterations.dtype, np.integer)
    assert result.converged.shape == (n_cells,) and result.converged.dtype == np.bool_
    assert np.all(result.activity >= 0)
    assert np.all((result.iterations >= 1) & (result.iterations <= 2000))
    assert result.converged.all()


def test_one_d_in_gives_one_d_out_and_python_scalars(traces):
    result = calab.run_deconvolution_full(traces[1], *PARAMS)
    assert result.activity.shape == (traces.shape[1],)
    assert result.reconvolution.shape == (traces.shape[1],)
    assert type(result.baseline) is float
    assert type(result.iterations) is int
    assert type(result.converged) is bool
    batch = calab.run_deconvolution_full(traces, *PARAMS)
    assert np.allclose(result.activity, batch.activity[1], rtol=1e-9, atol=1e-12)
    assert result.iterations == batch.iterations[1]
    activity = calab.run_deconvolution(traces[1], *PARAMS)
    assert np.array_equal(activity, result.activity)


def test_baseline_is_near_the_offset(traces):
    result = calab.run_deconvolution_full(traces, *PARAMS)
    assert np.all(np.abs(result.baseline - 3.0) < 0.3)


def test_box01_constraint_bounds_activity(traces):
    activity = calab.run_deconvolution(10.0 * traces, *PARAMS, constraint="box01")
    assert activity.min() >= 0.0 and activity.max() <= 1.0
    assert activity.max() == pytest.approx(1.0)  # large transients hit the bound
    unconstrained = calab.run_deconvolution(10.0 * traces, *PARAMS)
    assert unconstrained.max() > 1.5


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda x: np.repeat(x, 2, axis=1)[:, ::2], id="strided"),
        pytest.param(lambda x: np.asfortranarray(x), id="fortran"),
        pytest.param(lambda x: x[::-1][::-1], id="negative-stride-view"),
        pytest.param(lambda x: np.ascontiguousarray(x.T).T, id="transposed-view"),
    ],
)
def test_layouts_give_the_contiguous_result(traces, transform):
    reference = calab.run_deconvolution_full(traces, *PARAMS)
    view = transform(traces)
    assert np.array_equal(view, traces)
    result = calab.run_deconvolution_full(view, *PARAMS)
    assert np.array_equal(result.activity, reference.activity)
    assert np.array_equal(result.reconvolution, reference.reconvolution)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.int16])
def test_numeric_dtypes_equal_the_float64_result(traces, dtype):
    values = (traces * 100).astype(dtype)
    as_float = values.astype(np.float64)
    expected = calab.run_deconvolution(as_float, *PARAMS)
    assert np.array_equal(calab.run_deconvolution(values, *PARAMS), expected)


def test_input_is_not_modified(traces):
    data = traces.copy()
    data32 = traces.astype(np.float32)
    copy32 = data32.copy()
    calab.run_deconvolution_full(data, *PARAMS, filter_enabled=True)
    calab.run_deconvolution_full(data32, *PARAMS)
    calab.run_deconvolution_full(data[0], *PARAMS)
    assert np.array_equal(data, traces) and np.array_equal(data32, copy32)


@pytest.mark.parametrize("filter_enabled", [False, True])
@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
def test_residual_is_the_objective_residual(traces, filter_enabled, conv_mode):
    result = calab.run_deconvolution_full(traces, *PARAMS, conv_mode=conv_mode,
                                          filter_enabled=filter_enabled)
    y = preprocess(traces, TAU_R, TAU_D, FS, filter_enabled)
    if conv_mode == "fft":
        fit = causal_convolve(result.activity, build_kernel(TAU_R, TAU_D, FS))
    else:  # the untruncated kernel, long enough to cover the whole trace
        fit = causal_convolve(result.activity, _untruncated_kernel(traces.shape[1]))
    residual = traces - result.reconvolution
    assert np.allclose(residual, y - fit, rtol=0, atol=1e-9 * np.abs(traces).max())


def _untruncated_kernel(length: int) -> np.ndarray:
    i = np.arange(length)
    raw = np.exp(-i / (FS * TAU_D)) - np.exp(-i / (FS * TAU_R))
    return raw / raw.max()


def _brute_force_optimum(y: np.ndarray, lam: float) -> float:
    """Minimum of F by L-BFGS-B on the explicit Toeplitz convolution matrix."""
    n = y.size
    kernel = build_kernel(TAU_R, TAU_D, FS)
    column = np.zeros(n)
    column[: min(n, kernel.size)] = kernel[:n]
    matrix = toeplitz(column, np.zeros(n))
    gain = kernel.sum()

    def value_and_gradient(s):
        residual = y - matrix @ s
        return 0.5 * residual @ residual + lam * gain * s.sum(), lam * gain - matrix.T @ residual

    result = minimize(value_and_gradient, np.zeros(n), jac=True, method="L-BFGS-B",
                      bounds=[(0.0, None)] * n,
                      options=dict(ftol=1e-16, gtol=1e-12, maxiter=20000, maxfun=50000))
    return float(result.fun)


@pytest.mark.parametrize(("lam", "n_time"), [(0.1, 200), (0.8, 200), (0.5, 701)])
def test_objective_reaches_the_brute_force_optimum(lam, n_time):
    """Also on a trace long enough to be solved in chunks (701 samples: 4 chunks, padded)."""
    sim = calab.simulate(num_cells=3, duration_s=n_time / FS, fs=FS, tau_rise_s=TAU_R,
                         tau_decay_s=TAU_D, peak_dff=1.0, snr=4.0, firing_rate_hz=1.5, seed=7)
    result = calab.run_deconvolution_full(sim.traces, FS, TAU_R, TAU_D, lam, 20000, tol=1e-8)
    assert result.converged.all()
    y = preprocess(sim.traces, TAU_R, TAU_D, FS, False)
    ours = objective(result.activity, y, TAU_R, TAU_D, FS, lam)
    for cell in range(3):
        best = _brute_force_optimum(y[cell], lam)
        assert ours[cell] <= best + 1e-6 * abs(best), (cell, ours[cell], best)


def test_objective_decreases_from_zero(traces):
    y = preprocess(traces, TAU_R, TAU_D, FS, False)
    activity = calab.run_deconvolution(traces, *PARAMS)
    solved = objective(activity, y, TAU_R, TAU_D, FS, LAM)
    at_zero = objective(np.zeros_like(y), y, TAU_R, TAU_D, FS, LAM)
    assert np.all(solved < 0.7 * at_zero)


def test_lam_zero_fits_better_than_positive_lam(traces):
    y = preprocess(traces, TAU_R, TAU_D, FS, False)
    free = calab.run_deconvolution_full(traces, FS, TAU_R, TAU_D, 0.0, 3000)
    sparse = calab.run_deconvolution_full(traces, *PARAMS)
    assert np.all(free.activity >= 0)
    misfit = np.sum((traces - free.reconvolution) ** 2, axis=1)
    assert np.all(misfit < np.sum((traces - sparse.reconvolution) ** 2, axis=1))
    assert np.all(free.activity.sum(axis=1) > sparse.activity.sum(axis=1))
    assert np.all(objective(free.activity, y, TAU_R, TAU_D, FS, 0.0)
                  < objective(np.zeros_like(y), y, TAU_R, TAU_D, FS, 0.0))


def test_huge_lam_gives_zero_activity(traces):
    result = calab.run_deconvolution_full(traces, FS, TAU_R, TAU_D, 1e9)
    assert not result.activity.any()
    assert result.converged.all()
    y = preprocess(traces, TAU_R, TAU_D, FS, False)
    assert np.allclose(traces - result.reconvolution, y, atol=1e-12)


def test_tol_is_keyword_only(traces):
    with pytest.raises(TypeError):
        calab.run_deconvolution(traces, FS, TAU_R, TAU_D, LAM, 100, "fft", "nonneg", 1e-3)
    with pytest.raises(TypeError):
        calab.run_deconvolution_full(traces, FS, TAU_R, TAU_D, LAM, 100, "fft", "nonneg", 1e-3)
    loose = calab.run_deconvolution_full(traces, *PARAMS, tol=1e-2)
    tight = calab.run_deconvolution_full(traces, *PARAMS, tol=1e-6)
    assert np.all(loose.iterations < tight.iterations)


def test_max_iters_caps_iterations(traces):
    result = calab.run_deconvolution_full(traces, FS, TAU_R, TAU_D, LAM, 7, tol=1e-12)
    assert np.all(result.iterations == 7) and not result.converged.any()


def test_converged_cells_confirm_then_stop(traces):
    """A cell meeting the tolerance runs 15 confirming iterations; cutting them short by
    max_iters still reports it converged, with the same iterate as the full run up to there."""
    full = calab.run_deconvolution_full(traces, *PARAMS)
    assert full.converged.all()
    cut = int(full.iterations.min()) - 5  # inside the confirmation of the first cell to stop
    result = calab.run_deconvolution_full(traces, *PARAMS, max_iters=cut)
    first = int(np.argmin(full.iterations))
    assert result.iterations[first] == cut and result.converged[first]


def test_fft_and_banded_agree(traces):
    fft = calab.run_deconvolution(traces, *PARAMS, tol=1e-8, max_iters=20000)
    banded = calab.run_deconvolution(traces, *PARAMS, conv_mode="banded", tol=1e-8,
                                     max_iters=20000)
    error = np.linalg.norm(fft - banded, axis=1) / np.linalg.norm(fft, axis=1)
    assert np.all(error < 1e-3)


@pytest.mark.parametrize("filter_enabled", [False, True])
def test_deconvolve_from_export_uses_the_export(tmp_path, traces, filter_enabled):
    path = _export(tmp_path / "export.json", filter_enabled=filter_enabled)
    activity = calab.deconvolve_from_export(traces, path)
    expected = calab.run_deconvolution_full(traces, *PARAMS, filter_enabled=filter_enabled)
    assert np.array_equal(activity, expected.activity)
    full = calab.deconvolve_from_export(traces, path, return_full=True)
    assert isinstance(full, calab.DeconvolutionResult)
    assert np.array_equal(full.reconvolution, expected.reconvolution)
    single = calab.deconvolve_from_export(traces[0], path, return_full=True)
    assert single.activity.ndim == 1 and type(single.iterations) is int


def test_filter_changes_the_result(tmp_path, traces):
    on = calab.deconvolve_from_export(traces, _export(tmp_path / "a.json", filter_enabled=True))
    off = calab.deconvolve_from_export(traces, _export(tmp_path / "b.json", filter_enabled=False))
    assert not np.allclose(on, off)
