"""load_minian on zarr stores laid out as Minian saves them (xarray ``to_zarr``)."""

from __future__ import annotations

import numpy as np
import pytest
from test_loaders_common import write_minian_variable

import calab
from calab.io.arrays import TraceArray


@pytest.fixture(params=[2, 3], ids=["zarr-v2", "zarr-v3"])
def minian_folder(request, tmp_path, rng):
    folder = tmp_path / "minian"
    folder.mkdir()
    C = rng.gamma(2.0, 1.0, size=(6, 240)).astype(np.float32)
    S = np.maximum(rng.normal(size=(6, 240)), 0).astype(np.float32)
    write_minian_variable(folder, "C", C, zarr_format=request.param)
    write_minian_variable(folder, "S", S, zarr_format=request.param)
    return folder, C, S


def test_reads_c_from_the_output_folder(minian_folder):
    folder, C, _ = minian_folder
    traces, meta = calab.load_minian(folder)
    assert isinstance(traces, np.ndarray) and traces.dtype == np.float32
    np.testing.assert_array_equal(traces, C)
    assert meta["format"] == "minian" and meta["trace_key"] == "C"
    assert (meta["num_cells"], meta["num_timepoints"]) == (6, 240)
    assert meta["dims"] == ["unit_id", "frame"]
    assert meta["unit_ids"] == [1, 4, 7, 10, 13, 16]
    assert meta["sampling_rate_hz"] is None


def test_other_variable_fs_and_store_path(minian_folder):
    folder, C, S = minian_folder
    traces, meta = calab.load_minian(folder, trace_key="S", fs=20.0)
    np.testing.assert_array_equal(traces, S)
    assert meta["sampling_rate_hz"] == 20.0
    # the variable's own store, with or without naming the variable
    np.testing.assert_array_equal(calab.load_minian(folder / "C.zarr")[0], C)
    np.testing.assert_array_equal(calab.load_minian(folder / "S.zarr")[0], S)


def test_lazy_equals_eager(minian_folder):
    folder, C, _ = minian_folder
    lazy, meta = calab.load_minian(folder, lazy=True, fs=10.0)
    assert isinstance(lazy, TraceArray)
    assert lazy.shape == C.shape and lazy.chunks is not None  # zarr chunks known
    np.testing.assert_array_equal(lazy[:, :], calab.load_minian(folder)[0])
    assert meta["sampling_rate_hz"] == 10.0


def test_time_first_variable_is_transposed(tmp_path, rng):
    values = rng.normal(size=(4, 90))
    write_minian_variable(tmp_path, "C", values, time_first=True)
    traces, meta = calab.load_minian(tmp_path)
    np.testing.assert_array_equal(traces, values)
    assert meta["dims"] == ["frame", "unit_id"]
    lazy, _ = calab.load_minian(tmp_path, lazy=True)
    np.testing.assert_array_equal(lazy[:, :], values)


def test_missing_variable_lists_the_stores(minian_folder):
    folder, _, _ = minian_folder
    with pytest.raises(KeyError, match=r"YrA.*available stores: \['C.zarr', 'S.zarr'\]"):
        calab.load_minian(folder, trace_key="YrA")
    with pytest.raises(KeyError, match=r"available arrays: \['C', 'frame', 'unit_id'\]"):
        calab.load_minian(folder / "C.zarr", trace_key="A")


def test_wrong_shape_and_not_a_store(tmp_path, rng):
    write_minian_variable(tmp_path, "C", rng.normal(size=(4, 90)))
    import zarr

    group = zarr.open_group(str(tmp_path / "C.zarr"), mode="a")
    image = group.create_array("A", shape=(4, 8, 8), dtype="f8")
    image.attrs["_ARRAY_DIMENSIONS"] = ["unit_id", "height", "width"]
    with pytest.raises(ValueError, match="2-D"):
        calab.load_minian(tmp_path / "C.zarr", trace_key="A")
    other = tmp_path / "notes.txt"
    other.write_text("not zarr")
    with pytest.raises(ValueError, match="neither Minian's output folder nor a zarr store"):
        calab.load_minian(other)


def test_bare_array_store(tmp_path, rng):
    import zarr

    values = rng.normal(size=(3, 64))
    array = zarr.open_array(
        str(tmp_path / "C.zarr"), mode="w", shape=values.shape, dtype="f8", zarr_format=2
    )
    array[...] = values
    traces, meta = calab.load_minian(tmp_path / "C.zarr", fs=5.0)
    np.testing.assert_array_equal(traces, values)
    assert meta["dims"] is None and meta["unit_ids"] is None
    np.testing.assert_array_equal(calab.load_minian(tmp_path)[0], values)
