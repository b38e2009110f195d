"""DeconvolutionOptions: validated once, the home of every default, per-cell values."""

from __future__ import annotations

import inspect
import math
import pickle

import numpy as np
import pytest

import calab
from calab.core import options as opts
from calab.core.options import DeconvolutionOptions
from calab.errors import (
    CalabError,
    InvalidParameterError,
    MissingFieldError,
    ParameterTypeError,
)

BASE = dict(fs=30.0, tau_r=0.1, tau_d=0.6, lam=0.5)


def build(**changes) -> DeconvolutionOptions:
    return DeconvolutionOptions(**{**BASE, **changes})


def test_defaults_are_the_module_constants_everywhere():
    options = build()
    assert (options.max_iters, options.tol, options.conv_mode, options.constraint,
            options.nan_policy, options.filter_enabled) == (
        opts.DEFAULT_MAX_ITERS, opts.DEFAULT_TOL, opts.DEFAULT_CONV_MODE,
        opts.DEFAULT_CONSTRAINT, opts.DEFAULT_NAN_POLICY, opts.DEFAULT_FILTER)
    for function in (calab.run_deconvolution, calab.run_deconvolution_full,
                     calab.deconvolve_zarr):
        defaults = {name: p.default for name, p in inspect.signature(function).parameters.items()}
        assert defaults["max_iters"] == opts.DEFAULT_MAX_ITERS
        assert defaults["tol"] == opts.DEFAULT_TOL
        assert defaults["conv_mode"] == opts.DEFAULT_CONV_MODE


@pytest.mark.parametrize("field", ["fs", "tau_d", "lam", "tol"])
def test_a_400_digit_integer_is_a_clear_value_error(field):
    with pytest.raises(InvalidParameterError, match=rf"^{field}=1000.*too large to represent"):
        build(**{field: 10**400})


def test_max_iters_beyond_the_limit_and_bool_numbers():
    with pytest.raises(InvalidParameterError, match=r"max_iters=1000.* must be an integer >= 1"):
        build(max_iters=10**400)
    for field in ("fs", "tau_r", "tau_d", "lam", "tol", "max_iters"):
        with pytest.raises(ParameterTypeError, match=rf"^{field}=True "):
            build(**{field: True})


def test_absurd_kernels_are_refused_with_what_to_change():
    for tau_d in (1e300, 1e5, math.inf):
        with pytest.raises(InvalidParameterError, match=r"tau_d=.*(kernel|finite)") as info:
            build(tau_d=tau_d)
        assert info.value.argument == "tau_d"
    with pytest.raises(InvalidParameterError, match="the sampled kernel is zero"):
        DeconvolutionOptions(fs=30.0, tau_r=1e-6, tau_d=1e-5, lam=0.5)


def test_every_error_is_in_the_family_and_names_the_argument():
    with pytest.raises(CalabError) as info:
        build(conv_mode="direct")
    assert isinstance(info.value, ValueError) and info.value.argument == "conv_mode"
    with pytest.raises(MissingFieldError, match="tau_decay is missing"):
        DeconvolutionOptions.from_params({"fs": 30.0, "tau_rise": 0.1, "lambda_": 0.5})
    with pytest.raises(ParameterTypeError, match="got list"):
        DeconvolutionOptions.from_params([1, 2])  # type: ignore[arg-type]


def test_round_trips_and_changes_are_validated():
    options = build(max_iters=50, filter_enabled=True)
    again = DeconvolutionOptions.from_params(options.to_params(), **{
        k: v for k, v in options.solver_settings().items() if k != "filter_enabled"})
    assert again.to_params() == options.to_params() and again.max_iters == 50
    assert pickle.loads(pickle.dumps(options)).to_params() == options.to_params()
    with pytest.raises(InvalidParameterError, match=r"tau_r=0\.9 must be smaller"):
        options.with_changes(tau_r=0.9)


def test_per_cell_values_and_their_groups():
    options = build(tau_d=[0.6, 0.8, 0.6, 0.8], lam=np.array([0.5, 0.5, 0.5, 1.0]))
    assert options.per_cell and options.n_cells == 4 and options.kernel_length() == 332
    groups = {tuple(np.atleast_1d(cells)): (g.tau_d, g.lam) for cells, g in options.cell_groups()}
    assert groups == {(0, 2): (0.6, 0.5), (1,): (0.8, 0.5), (3,): (0.8, 1.0)}
    assert options.for_cells(slice(1, 3)).tau_d.tolist() == [0.8, 0.6]
    with pytest.raises(InvalidParameterError, match=r"tau_d\[2\]=-1.0 must be a finite"):
        build(tau_d=[0.6, 0.7, -1.0])
    with pytest.raises(InvalidParameterError, match=r"tau_d has 2, lam has 3"):
        build(tau_d=[0.6, 0.7], lam=[1.0, 2.0, 3.0])
    with pytest.raises(InvalidParameterError, match=r"\(cell 1\)"):
        build(tau_r=[0.1, 0.9], tau_d=[0.6, 0.7])
    with pytest.raises(InvalidParameterError, match="1-D sequence"):
        build(lam=[[1.0, 2.0]])


def test_check_recording_names_what_does_not_fit():
    options = build(tau_d=[0.6, 0.8])
    with pytest.raises(InvalidParameterError, match="2 values but the recording has 3 cells"):
        options.check_recording(3, 1000)
    with pytest.raises(InvalidParameterError, match="longer than the recording"):
        build(tau_d=100.0).check_recording(1, 1000)
    with pytest.raises(InvalidParameterError, match=r"fs=30.0 Hz disagrees .* 20.0 Hz"):
        build().check_recording(1, 1000, fs=20.0)
    build().check_recording(1, 1000, fs=30.0)
