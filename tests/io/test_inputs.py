"""read_traces: one dispatcher recognising every supported input."""

from __future__ import annotations

import numpy as np
import pytest
from test_loaders_common import write_caiman, write_minian_variable, write_nwb, write_suite2p

from calab.io.inputs import detect_format, read_traces
from calab.io.tuning import save_for_tuning

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def traces(rng):
    return rng.normal(10.0, 1.0, size=(3, 120))


def test_plain_npy_needs_fs_from_the_caller(tmp_path, traces):
    path = tmp_path / "rec.npy"
    np.save(path, traces)
    loaded, meta = read_traces(path)
    np.testing.assert_array_equal(loaded, traces)
    assert meta["format"] == "npy" and meta["sampling_rate_hz"] is None
    assert read_traces(tmp_path / "rec", fs=20.0)[1]["sampling_rate_hz"] == 20.0
    one, meta = read_traces(_save(tmp_path / "one.npy", traces[0]))
    assert one.ndim == 1 and (meta["num_cells"], meta["num_timepoints"]) == (1, 120)


def test_tuning_data_by_stem_npy_or_sidecar(tmp_path, traces):
    stem = tmp_path / "tuned"
    save_for_tuning(traces, 25.0, stem, metadata={"animal": "m7"})
    for given in (stem, tmp_path / "tuned.npy", tmp_path / "tuned_metadata.json"):
        loaded, meta = read_traces(given)
        np.testing.assert_array_equal(loaded, traces)
        assert meta["format"] == "tuning" and meta["sampling_rate_hz"] == 25.0
        assert meta["animal"] == "m7" and meta["num_cells"] == 3
    assert read_traces(stem, fs=50.0)[1]["sampling_rate_hz"] == 50.0
    lazy, meta = read_traces(stem, lazy=True)
    np.testing.assert_array_equal(lazy.compute(), traces)
    assert meta["sampling_rate_hz"] == 25.0


def test_pipeline_formats_are_detected(tmp_path, traces):
    caiman = write_caiman(tmp_path / "cm.hdf5", traces, traces * 0.1, fr=30.0)
    minian = tmp_path / "minian"
    minian.mkdir()
    write_minian_variable(minian, "C", traces)
    write_minian_variable(minian, "S", traces * 2)
    plane = write_suite2p(tmp_path / "s2p" / "plane0", traces, traces * 0, np.ones((3, 2)))
    nwb = write_nwb(tmp_path / "rec.nwb", traces, rate=30.0)
    expected = {
        caiman: "caiman",
        minian: "minian",
        minian / "C.zarr": "minian",
        plane: "suite2p",
        nwb: "nwb",
    }
    for path, fmt in expected.items():
        assert detect_format(path) == fmt
        loaded, meta = read_traces(path, fs=30.0)
        assert meta["format"] == fmt and meta["sampling_rate_hz"] == 30.0
        np.testing.assert_allclose(loaded, traces, rtol=1e-6)
    doubled, meta = read_traces(minian, dataset="S")
    np.testing.assert_allclose(doubled, traces * 2)
    summed, _ = read_traces(caiman, dataset="estimates/YrA")
    np.testing.assert_allclose(summed, traces * 0.1)
    lazy, _ = read_traces(nwb, lazy=True)
    np.testing.assert_allclose(lazy.compute(), traces)


def test_errors(tmp_path, traces):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_traces(tmp_path / "nothing-here")
    odd = tmp_path / "notes.txt"
    odd.write_text("x")
    with pytest.raises(ValueError, match="cannot tell the format"):
        read_traces(odd)
    with pytest.raises(ValueError, match="fmt='tiff'"):
        read_traces(odd, fmt="tiff")
    path = _save(tmp_path / "rec.npy", traces)
    with pytest.raises(ValueError, match="dataset='C'"):
        read_traces(path, dataset="C")
    with pytest.raises(ValueError, match="3-D"):
        read_traces(_save(tmp_path / "cube.npy", np.zeros((2, 3, 4))))
    with pytest.raises(ValueError, match="fs"):
        read_traces(path, fs=0)


def _save(path, array):
    np.save(path, array)
    return path
