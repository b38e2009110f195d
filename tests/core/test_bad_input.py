"""Every bad input of the issue gets a clear ValueError/TypeError.

Each message must name the argument and the value received. That each error
arrives before any work, even on a large recording, is timed side by side with
a solve in ``benchmarks/bad_input_latency.py`` (no wall-clock asserts here).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import calab

FS, TAU_R, TAU_D, LAM = 30.0, 0.1, 0.6, 0.5


@pytest.fixture(scope="module")
def traces() -> np.ndarray:
    sim = calab.simulate(num_cells=3, duration_s=20.0, fs=FS, tau_rise_s=TAU_R, tau_decay_s=TAU_D,
                         peak_dff=1.0, firing_rate_hz=1.0, seed=5)
    return sim.traces


@pytest.fixture(scope="module")
def big() -> np.ndarray:
    """A recording large enough that solving it would blow the time limit."""
    return np.random.default_rng(0).standard_normal((64, 120_000))


def expect_error(error, fragments, function, *args, **kwargs) -> str:
    with pytest.raises(error) as info:
        function(*args, **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def test_nan_and_inf_name_the_cells_and_counts(traces):
    bad = traces.copy()
    bad[1, [3, 4, 9]] = np.nan
    bad[2, 5] = np.inf
    message = expect_error(ValueError, ["traces", "NaN", "cell 1: 3", "cell 2: 1"],
                           calab.run_deconvolution, bad, FS, TAU_R, TAU_D, LAM)
    assert "cell 0" not in message
    assert "nan_policy" in message  # says how to proceed
    one = bad[1]
    expect_error(ValueError, ["traces", "cell 0: 3"], calab.run_deconvolution_full,
                 one, FS, TAU_R, TAU_D, LAM)


def test_nan_on_a_large_recording_fails_fast(big):
    bad = big.copy()
    bad[40, 1000:1010] = np.nan
    expect_error(ValueError, ["cell 40: 10"], calab.run_deconvolution, bad, FS, TAU_R, TAU_D, LAM)


def test_interpolate_fills_short_gaps(traces):
    gappy = traces.copy()
    gappy[0, 100:104] = np.nan
    gappy[2, 7] = np.inf
    filled = traces.copy()
    for cell, gap in ((0, slice(100, 104)), (2, slice(7, 8))):
        idx = np.arange(traces.shape[1])
        mask = np.zeros(traces.shape[1], bool)
        mask[gap] = True
        filled[cell, mask] = np.interp(idx[mask], idx[~mask], traces[cell, ~mask])
    result = calab.run_deconvolution(gappy, FS, TAU_R, TAU_D, LAM, nan_policy="interpolate")
    assert np.all(np.isfinite(result)) and np.all(result.sum(axis=1) > 0)
    assert np.array_equal(result, calab.run_deconvolution(filled, FS, TAU_R, TAU_D, LAM))
    assert np.isnan(gappy[0, 100])  # the caller's array is not filled in place


def test_interpolate_refuses_long_gaps_and_empty_cells(traces):
    long_gap = traces.copy()
    long_gap[1, 10:200] = np.nan
    expect_error(ValueError, ["cell 1: 190"], calab.run_deconvolution, long_gap, FS, TAU_R,
                 TAU_D, LAM, nan_policy="interpolate")
    all_nan = traces.copy()
    all_nan[2] = np.nan
    expect_error(ValueError, ["cell 2"], calab.run_deconvolution, all_nan, FS, TAU_R, TAU_D, LAM,
                 nan_policy="interpolate")


def test_unknown_nan_policy(traces):
    expect_error(ValueError, ["nan_policy", "'zero'"], calab.run_deconvolution, traces, FS,
                 TAU_R, TAU_D, LAM, nan_policy="zero")


@pytest.mark.parametrize(
    ("array", "fragments"),
    [
        (np.array([]), ["traces", "empty", "(0,)"]),
        (np.zeros((3, 0)), ["traces", "empty", "(3, 0)"]),
        (np.zeros((0, 10)), ["traces", "empty", "(0, 10)"]),
        (np.zeros((2, 3, 10)), ["traces", "3-D", "(2, 3, 10)"]),
        (np.float64(3.0), ["traces", "0-D"]),
    ],
)
def test_bad_shapes(array, fragments):
    expect_error(ValueError, fragments, calab.run_deconvolution, array, FS, TAU_R, TAU_D, LAM)


@pytest.mark.parametrize(
    ("array", "fragments"),
    [
        (np.array([[1.0, "a"]], dtype=object), ["traces", "object"]),
        (np.array(["1.0", "2.0"]), ["traces", "<U3"]),
        (np.ones(50) + 1j, ["traces", "complex"]),
    ],
)
def test_non_numeric_dtypes(array, fragments):
    expect_error(TypeError, fragments, calab.run_deconvolution, array, FS, TAU_R, TAU_D, LAM)


@pytest.mark.parametrize(
    ("args", "error", "fragments"),
    [
        ((FS, 0.6, 0.1, LAM), ValueError, ["tau_r=0.6", "tau_d=0.1"]),
        ((FS, 0.3, 0.3, LAM), ValueError, ["tau_r=0.3", "tau_d=0.3"]),
        ((FS, 0.0, TAU_D, LAM), ValueError, ["tau_r=0.0", "> 0"]),
        ((FS, -0.1, TAU_D, LAM), ValueError, ["tau_r=-0.1"]),
        ((FS, TAU_R, -1.0, LAM), ValueError, ["tau_d=-1.0"]),
        ((FS, TAU_R, math.nan, LAM), ValueError, ["tau_d=nan"]),
        ((0.0, TAU_R, TAU_D, LAM), ValueError, ["fs=0.0", "between 0.1 and 100,000"]),
        ((-30.0, TAU_R, TAU_D, LAM), ValueError, ["fs=-30.0"]),
        ((math.inf, TAU_R, TAU_D, LAM), ValueError, ["fs=inf"]),
        ((FS, TAU_R, TAU_D, -1.0), ValueError, ["lam=-1.0", ">= 0"]),
        ((FS, TAU_R, TAU_D, math.nan), ValueError, ["lam=nan"]),
        ((FS, TAU_R, TAU_D, math.inf), ValueError, ["lam=inf"]),
        ((FS, TAU_R, TAU_D, "0.5"), TypeError, ["lam='0.5'"]),
        ((True, TAU_R, TAU_D, LAM), TypeError, ["fs=True"]),
        ((FS, True, TAU_D, LAM), TypeError, ["tau_r=True"]),
        ((FS, TAU_R, TAU_D, False), TypeError, ["lam=False"]),
        ((None, TAU_R, TAU_D, LAM), TypeError, ["fs=None"]),
    ],
)
def test_bad_parameters(big, args, error, fragments):
    expect_error(error, fragments, calab.run_deconvolution, big, *args)
    expect_error(error, fragments, calab.run_deconvolution_full, big[0], *args)


@pytest.mark.parametrize(
    ("options", "error", "fragments"),
    [
        (dict(max_iters=0), ValueError, ["max_iters=0", ">= 1"]),
        (dict(max_iters=-5), ValueError, ["max_iters=-5"]),
        (dict(max_iters=10.5), TypeError, ["max_iters=10.5"]),
        (dict(max_iters="100"), TypeError, ["max_iters='100'"]),
        (dict(max_iters=True), TypeError, ["max_iters=True"]),
        (dict(conv_mode="direct"), ValueError, ["conv_mode='direct'", "'fft'", "'banded'"]),
        (dict(conv_mode="FFT"), ValueError, ["conv_mode='FFT'"]),
        (dict(constraint="l2"), ValueError, ["constraint='l2'", "'nonneg'", "'box01'"]),
        (dict(constraint=None), ValueError, ["constraint=None"]),
        (dict(tol=0.0), ValueError, ["tol=0.0"]),
        (dict(tol=-1e-4), ValueError, ["tol=-0.0001"]),
        (dict(tol=True), TypeError, ["tol=True"]),
    ],
)
def test_bad_solver_options(big, options, error, fragments):
    expect_error(error, fragments, calab.run_deconvolution, big, FS, TAU_R, TAU_D, LAM, **options)


def test_numpy_integer_max_iters_is_accepted(traces):
    result = calab.run_deconvolution_full(traces, FS, TAU_R, TAU_D, LAM, np.int64(3), tol=1e-12)
    assert np.all(result.iterations == 3)


@pytest.mark.parametrize("value", ["yes", None, 1])
def test_filter_enabled_must_be_a_bool(traces, value):
    expect_error(TypeError, ["filter_enabled"], calab.run_deconvolution, traces, FS, TAU_R,
                 TAU_D, LAM, filter_enabled=value)


def test_nonexistent_export_is_file_not_found(traces, tmp_path):
    missing = tmp_path / "nope" / "export.json"
    expect_error(FileNotFoundError, [str(missing)], calab.deconvolve_from_export, traces, missing)
    expect_error(FileNotFoundError, [str(tmp_path)], calab.deconvolve_from_export, traces,
                 tmp_path)


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("{not json", ["not valid JSON"]),
        (json.dumps({"schema_version": "1.2.0"}), ["parameters"]),
        (json.dumps({"schema_version": "1.2.0", "parameters": {"tau_rise_s": 0.1}}),
         ["tau_decay_s"]),
        (json.dumps({"schema_version": "1.2.0", "parameters": {
            "tau_rise_s": 0.1, "tau_decay_s": 0.6, "lambda": -1, "sampling_rate_hz": 30}}),
         ["lambda=-1"]),
        (json.dumps({"schema_version": "1.2.0", "parameters": {
            "tau_rise_s": 0.6, "tau_decay_s": 0.1, "lambda": 1, "sampling_rate_hz": 30}}),
         ["0.6", "0.1"]),
    ],
)
def test_malformed_export(traces, tmp_path, content, fragments):
    path = tmp_path / "export.json"
    path.write_text(content)
    message = expect_error((ValueError, TypeError, KeyError), fragments,
                           calab.deconvolve_from_export, traces, path)
    assert str(path) in message


def test_export_path_of_wrong_type_names_the_argument(traces):
    expect_error(TypeError, ["params_path"], calab.deconvolve_from_export, traces, 5)
