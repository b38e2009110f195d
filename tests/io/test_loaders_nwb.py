"""load_nwb on NWB files written by pynwb (ImagingPlane, PlaneSegmentation, RoiResponseSeries)."""

from __future__ import annotations

import numpy as np
import pytest
from test_loaders_common import write_nwb

import calab
from calab.io.arrays import TraceArray

pytest.importorskip("pynwb")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def nwb_file(tmp_path, rng):
    fluorescence = rng.normal(50.0, 3.0, size=(4, 150))
    dff = rng.normal(0.0, 0.1, size=(4, 150))
    stamps = 2.0 + np.arange(150) / 12.5
    path = write_nwb(
        tmp_path / "session.nwb", fluorescence, rate=30.0, dff=dff, dff_timestamps=stamps
    )
    return path, fluorescence, dff


def test_named_series_is_transposed_with_rate(nwb_file):
    path, fluorescence, _ = nwb_file
    traces, meta = calab.load_nwb(path, series="RoiResponseSeries")
    assert traces.shape == (4, 150) and traces.dtype == np.float64
    np.testing.assert_array_equal(traces, fluorescence)
    assert meta["sampling_rate_hz"] == 30.0
    assert meta["series"] == "Fluorescence/RoiResponseSeries"
    assert meta["container"] == "Fluorescence" and meta["unit"] == "a.u."
    assert meta["roi_ids"] == [100, 101, 102, 103]
    assert meta["indicator"] == "GCaMP6f"
    assert (meta["num_cells"], meta["num_timepoints"]) == (4, 150)


def test_dff_series_rate_from_timestamps(nwb_file):
    path, _, dff = nwb_file
    traces, meta = calab.load_nwb(path, series="DfOverF/dff")
    np.testing.assert_array_equal(traces, dff)
    assert meta["sampling_rate_hz"] == pytest.approx(12.5)
    assert meta["starting_time_s"] == pytest.approx(2.0)
    assert meta["container"] == "DfOverF"
    assert calab.load_nwb(path, series="dff", fs=12.0)[1]["sampling_rate_hz"] == 12.0


def test_single_series_needs_no_name_and_lazy_equals_eager(tmp_path, rng):
    fluorescence = rng.normal(size=(3, 80))
    path = write_nwb(tmp_path / "one.nwb", fluorescence, rate=20.0)
    eager, meta = calab.load_nwb(path)
    np.testing.assert_array_equal(eager, fluorescence)
    lazy, lazy_meta = calab.load_nwb(path, lazy=True)
    assert isinstance(lazy, TraceArray) and lazy.shape == (3, 80)
    np.testing.assert_array_equal(lazy[:, :], eager)
    assert lazy_meta == meta


def test_wrong_series_lists_available(nwb_file):
    path, _, _ = nwb_file
    with pytest.raises(KeyError, match=r"available series: \['DfOverF/dff', 'Fluorescence/Roi"):
        calab.load_nwb(path, series="Deconvolved")
    with pytest.raises(ValueError, match="several series"):
        calab.load_nwb(path)
    with pytest.raises(KeyError, match=r"available modules: \['ophys'\]"):
        calab.load_nwb(path, module="behavior")


def test_not_an_nwb_file(tmp_path):
    import h5py

    path = tmp_path / "plain.nwb"
    with h5py.File(path, "w") as handle:
        handle["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not an NWB file"):
        calab.load_nwb(path)


def test_conversion_and_offset_are_applied(tmp_path, rng):
    stored = rng.integers(0, 4000, size=(2, 60)).astype(np.int16)
    path = write_nwb(tmp_path / "raw.nwb", stored, rate=15.0, conversion=0.5, offset=-3.0)
    traces, meta = calab.load_nwb(path)
    assert traces.dtype == np.float64
    np.testing.assert_allclose(traces, stored * 0.5 - 3.0)
    lazy, _ = calab.load_nwb(path, lazy=True)
    np.testing.assert_allclose(lazy[:, :], stored * 0.5 - 3.0)
    assert meta["sampling_rate_hz"] == 15.0
