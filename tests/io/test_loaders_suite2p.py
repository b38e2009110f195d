"""load_suite2p on a plane folder with suite2p's npy set."""

from __future__ import annotations

import numpy as np
import pytest
from test_loaders_common import write_suite2p

import calab
from calab.io.arrays import TraceArray


@pytest.fixture
def plane(tmp_path, rng):
    F = rng.normal(100.0, 5.0, size=(7, 200))
    Fneu = rng.normal(40.0, 2.0, size=(7, 200))
    iscell = np.column_stack([[1, 0, 1, 1, 0, 0, 1], rng.uniform(size=7)])
    folder = write_suite2p(tmp_path / "suite2p" / "plane0", F, Fneu, iscell, fs=9.8)
    return folder, F.astype(np.float32), Fneu.astype(np.float32), iscell


def test_neuropil_corrected_accepted_cells(plane):
    folder, F, Fneu, iscell = plane
    traces, meta = calab.load_suite2p(folder)
    expected = F.astype(np.float64) - 0.7 * Fneu.astype(np.float64)
    np.testing.assert_allclose(traces, expected[[0, 2, 3, 6]])
    assert traces.dtype == np.float64
    assert meta["roi_indices"] == [0, 2, 3, 6]
    assert meta["cell_probability"] == pytest.approx(iscell[[0, 2, 3, 6], 1])
    assert meta["sampling_rate_hz"] == pytest.approx(9.8)
    assert (meta["num_cells"], meta["num_timepoints"], meta["num_rois"]) == (4, 200, 7)


def test_coefficient_all_rois_and_fs_override(plane):
    folder, F, Fneu, _ = plane
    traces, meta = calab.load_suite2p(folder, 0.0, only_cells=False, fs=30.0)
    np.testing.assert_array_equal(traces, F.astype(np.float64))
    assert meta["roi_indices"] == list(range(7)) and meta["sampling_rate_hz"] == 30.0
    traces, _ = calab.load_suite2p(folder / "F.npy", neuropil_coefficient=1.0)
    np.testing.assert_allclose(traces, (F.astype(float) - Fneu.astype(float))[[0, 2, 3, 6]])


def test_lazy_equals_eager(plane):
    folder, _, _, _ = plane
    lazy, lazy_meta = calab.load_suite2p(folder, lazy=True)
    eager, eager_meta = calab.load_suite2p(folder)
    assert isinstance(lazy, TraceArray)
    np.testing.assert_array_equal(lazy[:, :], eager)
    assert lazy_meta == eager_meta


def test_missing_ops_gives_no_rate(plane):
    folder, _, _, _ = plane
    (folder / "ops.npy").unlink()
    assert calab.load_suite2p(folder)[1]["sampling_rate_hz"] is None


def test_root_folder_hint_and_missing_files(plane):
    folder, _, _, _ = plane
    with pytest.raises(FileNotFoundError, match=r"plane folders: \['plane0'\]"):
        calab.load_suite2p(folder.parent)
    (folder / "iscell.npy").unlink()
    with pytest.raises(FileNotFoundError, match="only_cells=False"):
        calab.load_suite2p(folder)
    assert calab.load_suite2p(folder, only_cells=False)[1]["cell_probability"] is None
    (folder / "Fneu.npy").unlink()
    with pytest.raises(FileNotFoundError, match="neuropil_coefficient=0"):
        calab.load_suite2p(folder, only_cells=False)


def test_shape_mismatches_and_bad_coefficient(tmp_path, rng):
    F = rng.normal(size=(3, 50))
    folder = write_suite2p(tmp_path / "p", F, F[:, :49], np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"Fneu\.npy has shape"):
        calab.load_suite2p(folder)
    folder = write_suite2p(tmp_path / "q", F, F, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"iscell\.npy has shape"):
        calab.load_suite2p(folder)
    folder = write_suite2p(tmp_path / "r", F, F, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="none of the 3 ROIs"):
        calab.load_suite2p(folder)
    with pytest.raises(ValueError, match="neuropil_coefficient"):
        calab.load_suite2p(folder, neuropil_coefficient=-0.5)


def test_lazy_traces_deconvolve_like_eager_ones(plane):
    folder, _, _, _ = plane
    lazy, meta = calab.load_suite2p(folder, lazy=True)
    eager, _ = calab.load_suite2p(folder)
    fs = meta["sampling_rate_hz"]
    lazy_activity = calab.run_deconvolution(lazy, fs, 0.05, 0.4, 0.5, max_iters=50)
    assert hasattr(lazy_activity, "compute")  # stays lazy until asked
    expected = calab.run_deconvolution(eager, fs, 0.05, 0.4, 0.5, max_iters=50)
    np.testing.assert_allclose(lazy_activity.compute(), expected, rtol=1e-10, atol=1e-12)


def test_lazy_graph_ships_paths_not_data(tmp_path, rng):
    import pickle

    F = rng.normal(size=(50, 4000))
    folder = write_suite2p(tmp_path / "big", F, F * 0.1, np.ones((50, 2)))
    lazy, _ = calab.load_suite2p(folder, lazy=True)
    payload = pickle.dumps(lazy)
    assert len(payload) < 50_000 < lazy.nbytes  # F and Fneu (800 kB each) stay on disk
    restored = pickle.loads(payload)
    np.testing.assert_allclose(restored[:, :], F - 0.07 * F, rtol=1e-6)
