"""Issue 14's bad inputs of the public API, and per-cell parameters.

Each bad input was reproduced on main before the options object: an
OverflowError, NumPy's "Maximum allowed size exceeded", a 36 s solve ending in
a MemoryError, NumPy's "setting an array element with a sequence", a
RecursionError. Each is now an error of the calab family naming the argument.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

import calab
from calab.errors import CalabError, InvalidParameterError, ParameterTypeError

FS, TAU_R, TAU_D, LAM = 30.0, 0.1, 0.6, 0.5


@pytest.fixture(scope="module")
def traces() -> np.ndarray:
    sim = calab.simulate(num_cells=6, duration_s=20.0, fs=FS, tau_rise_s=TAU_R,
                         tau_decay_s=TAU_D, seed=3)
    return sim.traces


@pytest.mark.parametrize("position", [1, 2, 3, 4, 5])
def test_a_400_digit_integer_anywhere(traces, position):
    args = [traces, FS, TAU_R, TAU_D, LAM, 100]
    args[position] = 10**400
    name = ["traces", "fs", "tau_r", "tau_d", "lam", "max_iters"][position]
    for function in (calab.run_deconvolution, calab.run_deconvolution_full):
        with pytest.raises(InvalidParameterError, match=rf"^{name}=1000") as info:
            function(*args)
        assert info.value.argument == name


@pytest.mark.parametrize("tau_d", [1e300, 1e5])
def test_an_absurd_decay_is_refused_before_any_work(traces, tau_d):
    with pytest.raises(InvalidParameterError, match=r"tau_d=.* s at fs=30.0 Hz gives a kernel"):
        calab.run_deconvolution(traces, FS, TAU_R, tau_d, LAM)


def test_a_decay_longer_than_the_recording(traces):
    with pytest.raises(InvalidParameterError, match="longer than the recording"):
        calab.run_deconvolution(traces[:, :200], FS, TAU_R, 100.0, LAM)
    lazy = da.from_array(traces[:, :200], chunks=(2, 200))
    with pytest.raises(InvalidParameterError, match="longer than the recording"):
        calab.run_deconvolution(lazy, FS, TAU_R, 100.0, LAM)  # refused before the graph


def test_a_ragged_list_is_named_as_such():
    with pytest.raises(InvalidParameterError, match=r"traces is ragged.*lengths \[2, 3\]") as info:
        calab.run_deconvolution([[1.0, 2.0, 3.0], [1.0, 2.0]], FS, TAU_R, TAU_D, LAM)
    assert "setting an array element" not in str(info.value)
    with pytest.raises(ParameterTypeError, match="cannot be read as a numeric array"):
        calab.run_deconvolution([1.0, [1.0, 2.0]], FS, TAU_R, TAU_D, LAM)


def test_resume_must_be_a_real_flag(tmp_path):
    params = {"tau_rise": TAU_R, "tau_decay": TAU_D, "lambda_": LAM, "fs": FS}
    with pytest.raises(ParameterTypeError, match=r"resume='no' must be true or false"):
        calab.deconvolve_zarr(tmp_path / "in.zarr", tmp_path / "out.zarr", params, resume="no")
    with pytest.raises(ParameterTypeError, match="full=1"):
        calab.deconvolve_zarr(tmp_path / "in.zarr", tmp_path / "out.zarr", params, full=1)


def test_export_nested_100000_levels_is_a_value_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    with pytest.raises(InvalidParameterError, match="nested more than 64 levels"):
        calab.load_export_params(path)
    path.write_text('{"schema_version": "1.2.0", "parameters": {"lambda": ' + "9" * 5000 + "}}")
    with pytest.raises(InvalidParameterError, match="integer of 5,000 digits"):
        calab.load_export_params(path)
    path.write_text('{"parameters": {"lambda": NaN}}')
    with pytest.raises(InvalidParameterError, match="NaN, which is not valid JSON"):
        calab.load_export_params(path)


def test_export_values_that_overflow_or_make_absurd_kernels(tmp_path):
    base = {"tau_rise": TAU_R, "tau_decay": TAU_D, "lambda_": LAM, "fs": FS}
    for key, value, pattern in (("fs", 10**400, "fs=1000.*too large"),
                                ("tau_decay", 1e300, "tau_d=1e.300 s at fs=30.0 Hz")):
        with pytest.raises(CalabError, match=pattern):
            calab.save_export_params({**base, key: value}, tmp_path / "e.json")
    assert not (tmp_path / "e.json").exists()


def test_from_export_keywords_are_checked(traces, tmp_path):
    path = calab.save_export_params({"tau_rise": TAU_R, "tau_decay": TAU_D, "lambda_": LAM,
                                     "fs": FS}, tmp_path / "e.json")
    with pytest.raises(TypeError, match="unexpected keyword 'lam'"):
        calab.deconvolve_from_export(traces, path, lam=3.0)
    with pytest.raises(TypeError, match="return_full='yes'"):
        calab.deconvolve_from_export(traces, path, return_full="yes")
    expected = calab.run_deconvolution(traces, FS, TAU_R, TAU_D, LAM, 100)
    np.testing.assert_array_equal(calab.deconvolve_from_export(traces, path, max_iters=100),
                                  expected)


# ---------------------------------------------------------------------- per cell
TAU_D_CELLS = np.array([0.6, 0.8, 0.6, 0.4, 0.8, 0.6])
LAM_CELLS = np.array([0.5, 0.5, 0.5, 0.2, 0.5, 1.0])


def _groups() -> dict[tuple[float, float], list[int]]:
    groups: dict[tuple[float, float], list[int]] = {}
    for cell, key in enumerate(zip(TAU_D_CELLS, LAM_CELLS, strict=True)):
        groups.setdefault(key, []).append(cell)
    return groups


@pytest.mark.parametrize("kind", ["numpy", "dask"])
def test_per_cell_parameters_match_solving_each_group_with_its_scalars(traces, kind):
    data = traces if kind == "numpy" else da.from_array(traces, chunks=(6, 300))
    result = calab.run_deconvolution_full(data, FS, TAU_R, TAU_D_CELLS, LAM_CELLS)
    if kind == "dask":
        result = dask.compute(*result, scheduler="sync")
    for (tau_d, lam), cells in _groups().items():
        alone = calab.run_deconvolution_full(traces[cells], FS, TAU_R, tau_d, lam)
        for got, expected in zip(result, alone, strict=True):
            np.testing.assert_array_equal(np.asarray(got)[cells], expected)


def test_per_cell_activity_matches_each_cell_solved_alone(traces):
    activity = calab.run_deconvolution(traces, FS, [TAU_R] * 6, TAU_D_CELLS.tolist(),
                                       LAM_CELLS)
    for cell in range(6):
        alone = calab.run_deconvolution(traces[cell], FS, TAU_R, TAU_D_CELLS[cell],
                                        LAM_CELLS[cell])
        np.testing.assert_allclose(activity[cell], alone, rtol=1e-6, atol=1e-8)


def test_per_cell_parameters_of_the_wrong_length(traces):
    with pytest.raises(InvalidParameterError, match="5 values but the recording has 6 cells"):
        calab.run_deconvolution(traces, FS, TAU_R, TAU_D_CELLS[:5], LAM)


@pytest.mark.parametrize("cells", [[True, 2], [False], (1, np.True_)])
def test_tune_refuses_bools_as_cell_indices(cells) -> None:
    traces = np.random.default_rng(0).normal(size=(4, 300))
    with pytest.raises(calab.errors.InvalidParameterError, match="true/false") as info:
        calab.tune(traces, 30.0, cells=cells, open_browser=False)  # refused before serving
    assert info.value.argument == "cells"
