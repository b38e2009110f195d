"""Property-based: random shapes, dtypes, values and JSON thrown at the public API.

Whatever comes in, the answer is a result or an error of the calab family (a
``ValueError`` or ``TypeError``), never an exception from deep inside NumPy or
Python (``OverflowError``, ``RecursionError``, ``MemoryError``, ``IndexError``...).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import calab
from calab.errors import CalabError

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

odd_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**500), 10**500),
    st.booleans(), st.none(), st.text(max_size=5), st.just([0.1, 0.2]), st.just(1 + 2j),
    st.just(np.float32(0.3)), st.just(np.array([])),
)
fs_values = st.one_of(st.sampled_from([10.0, 30.0, 100]), odd_numbers)
tau_r_values = st.one_of(st.sampled_from([0.05, 0.1]), odd_numbers)
tau_d_values = st.one_of(st.sampled_from([0.3, 0.6, 1e5, 1e300]), odd_numbers)
lam_values = st.one_of(st.sampled_from([0.0, 0.5, 3.0]), odd_numbers)
max_iters_values = st.one_of(st.integers(1, 30), odd_numbers)
dtypes = st.sampled_from(["float64", "float32", "int16", "uint8", "bool", "complex128", "<U3",
                          "object", "datetime64[s]"])


@st.composite
def trace_arrays(draw):
    dtype = draw(dtypes)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=70))
    if dtype in ("float64", "float32"):
        elements = st.floats(-1e6, 1e6, width=32 if dtype == "float32" else 64)
        if draw(st.booleans()):
            elements = st.one_of(elements, st.just(math.nan), st.just(math.inf))
        return draw(hnp.arrays(dtype, shape, elements=elements))
    if dtype == "object":
        return np.full(shape, None, dtype=object)
    return np.zeros(shape, dtype=dtype)


any_traces = st.one_of(trace_arrays(), st.lists(st.lists(st.floats(-5, 5), max_size=4),
                                                max_size=3), odd_numbers)


def _answer_or_family_error(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except CalabError as error:
        assert isinstance(error, (ValueError, TypeError)), type(error)
        assert str(error), "an error without a message"
        return None


@SETTINGS
@given(any_traces, fs_values, tau_r_values, tau_d_values, lam_values, max_iters_values)
def test_run_deconvolution_answers_or_refuses(traces, fs, tau_r, tau_d, lam, max_iters):
    result = _answer_or_family_error(calab.run_deconvolution, traces, fs, tau_r, tau_d, lam,
                                     max_iters)
    if result is not None:
        assert result.shape == np.shape(traces) and np.isfinite(result).all()
        assert (result >= 0).all()


@SETTINGS
@given(any_traces, fs_values, tau_r_values, tau_d_values, lam_values,
       st.sampled_from(["fft", "banded", "FFT", None, 3]),
       st.sampled_from(["nonneg", "box01", "l1", None]),
       st.one_of(st.sampled_from([1e-4, 1e-2]), odd_numbers),
       st.one_of(st.booleans(), odd_numbers), st.sampled_from(["raise", "interpolate", "x"]))
def test_run_deconvolution_full_answers_or_refuses(traces, fs, tau_r, tau_d, lam, conv_mode,
                                                   constraint, tol, filter_enabled, nan_policy):
    result = _answer_or_family_error(
        calab.run_deconvolution_full, traces, fs, tau_r, tau_d, lam, 20, conv_mode, constraint,
        tol=tol, filter_enabled=filter_enabled, nan_policy=nan_policy)
    if result is not None:
        assert result.activity.shape == np.shape(traces)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
              st.integers(-(10**30), 10**30), st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12,
)
export_like = st.fixed_dictionaries(
    {"schema_version": st.sampled_from(["1.2.0", "1.0.0", "2.0.0", 1]),
     "parameters": st.one_of(json_values, st.fixed_dictionaries({
         "tau_rise_s": st.one_of(st.just(0.1), json_values),
         "tau_decay_s": st.one_of(st.sampled_from([0.6, 1e300, 1e5]), json_values),
         "lambda": st.one_of(st.just(0.5), json_values),
         "sampling_rate_hz": st.one_of(st.just(30.0), json_values)}))})
json_texts = st.one_of(
    json_values.map(json.dumps), export_like.map(json.dumps), st.text(max_size=40),
    st.integers(1, 200).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: "{\"a\":" * n),
    st.just('{"x": "\\ud800"}'), st.just("9" * 5000),
)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
@SETTINGS
@given(json_texts)
def test_load_export_params_answers_or_refuses(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("export") / "export.json"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    params = _answer_or_family_error(calab.load_export_params, path)
    if params is not None:
        assert set(params) == {"tau_rise", "tau_decay", "lambda_", "fs", "filter_enabled"}
        assert all(math.isfinite(params[k]) for k in ("tau_rise", "tau_decay", "lambda_", "fs"))
        calab.save_export_params(params, path)  # what loads can be written back


@SETTINGS
@given(trace_arrays(), json_texts, st.dictionaries(
    st.sampled_from(["max_iters", "tol", "conv_mode", "nan_policy", "lam", "bogus"]),
    odd_numbers, max_size=2))
def test_deconvolve_from_export_answers_or_refuses(tmp_path_factory, traces, text, options):
    path = tmp_path_factory.mktemp("export") / "export.json"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _answer_or_family_error(calab.deconvolve_from_export, traces, path, **options)
