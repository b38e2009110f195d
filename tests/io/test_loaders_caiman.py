"""load_caiman on files laid out as CaImAn's ``cnm.save`` writes them."""

from __future__ import annotations

import numpy as np
import pytest
from test_loaders_common import write_caiman

import calab
from calab.io.arrays import TraceArray


@pytest.fixture
def caiman_file(tmp_path, rng):
    C = rng.gamma(2.0, 1.0, size=(5, 300))
    YrA = rng.normal(0.0, 0.2, size=(5, 300))
    path = write_caiman(tmp_path / "caiman_results.hdf5", C, YrA, fr=15.0, idx=[0, 2, 3])
    return path, C, YrA


def test_reads_denoised_traces_and_frame_rate(caiman_file):
    path, C, _ = caiman_file
    traces, meta = calab.load_caiman(path)
    assert isinstance(traces, np.ndarray) and traces.dtype == np.float64
    np.testing.assert_array_equal(traces, C)
    assert meta["sampling_rate_hz"] == 15.0
    assert (meta["num_cells"], meta["num_timepoints"]) == (5, 300)
    assert meta["source"] == str(path) and meta["format"] == "caiman"
    assert meta["component_indices"] == [0, 1, 2, 3, 4]
    assert meta["decay_time_s"] == 0.4


def test_residuals_and_accepted_components(caiman_file):
    path, C, YrA = caiman_file
    traces, meta = calab.load_caiman(path, add_residuals=True, only_accepted=True)
    np.testing.assert_allclose(traces, (C + YrA)[[0, 2, 3]])
    assert meta["component_indices"] == [0, 2, 3]
    assert meta["num_cells"] == 3 and meta["add_residuals"] is True


def test_fs_override_and_missing_rate(tmp_path, rng):
    C = rng.normal(size=(2, 50))
    path = write_caiman(tmp_path / "nofr.hdf5", C, C * 0, fr=None)
    assert calab.load_caiman(path)[1]["sampling_rate_hz"] is None
    assert calab.load_caiman(path, fs=7.5)[1]["sampling_rate_hz"] == 7.5
    with pytest.raises(ValueError, match="fs"):
        calab.load_caiman(path, fs=-1.0)


def test_lazy_equals_eager(caiman_file):
    path, _, _ = caiman_file
    eager, eager_meta = calab.load_caiman(path, add_residuals=True, only_accepted=True)
    lazy, lazy_meta = calab.load_caiman(path, add_residuals=True, only_accepted=True, lazy=True)
    assert isinstance(lazy, TraceArray)
    assert lazy.shape == eager.shape and lazy.dtype == np.float64
    np.testing.assert_array_equal(lazy[:, :], eager)
    assert lazy_meta == eager_meta


def test_lazy_graph_pickles_for_a_cluster(caiman_file):
    import pickle

    path, C, _ = caiman_file
    lazy, _ = calab.load_caiman(path, lazy=True)
    restored = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(restored[:, :], C)


def test_missing_key_lists_available(caiman_file):
    path, _, _ = caiman_file
    with pytest.raises(KeyError, match=r"estimates/Cdf.*available datasets.*estimates/C'"):
        calab.load_caiman(path, trace_key="estimates/Cdf")


def test_unevaluated_components_and_missing_residuals(tmp_path, rng):
    import h5py

    C = rng.normal(size=(3, 40))
    path = write_caiman(tmp_path / "raw.hdf5", C, C, idx=None)
    with pytest.raises(ValueError, match="only_accepted=False"):
        calab.load_caiman(path, only_accepted=True)
    with h5py.File(path, "a") as handle:
        del handle["estimates/YrA"]
    with pytest.raises(KeyError, match="estimates/YrA"):
        calab.load_caiman(path, add_residuals=True)


def test_wrong_shapes_are_value_errors(tmp_path, rng):
    import h5py

    path = write_caiman(tmp_path / "bad.hdf5", rng.normal(size=(3, 40)), rng.normal(size=(3, 39)))
    with pytest.raises(ValueError, match="YrA has shape"):
        calab.load_caiman(path, add_residuals=True)
    with h5py.File(path, "a") as handle:
        handle["estimates/C3d"] = np.zeros((2, 3, 4))
        handle["estimates/labels"] = np.array([[b"a", b"b"], [b"c", b"d"]])
    with pytest.raises(ValueError, match="2-D"):
        calab.load_caiman(path, trace_key="estimates/C3d")
    with pytest.raises(ValueError, match="dtype"):
        calab.load_caiman(path, trace_key="estimates/labels")


def test_out_of_range_accepted_indices(tmp_path, rng):
    C = rng.normal(size=(3, 40))
    path = write_caiman(tmp_path / "idx.hdf5", C, C, idx=[0, 5])
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        calab.load_caiman(path, only_accepted=True)
