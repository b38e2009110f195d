"""Reading the tuning subset from NumPy, dask, zarr, .npy and .h5 (calab.engine.reading)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr

from calab.engine.reading import read_tuning_subset


@pytest.fixture
def recording(rng):
    """400 cells whose SNR rises with a shuffled amplitude, 2400 samples (80 s at 30 Hz)."""
    n_cells, n_time = 400, 2400
    amplitudes = rng.permutation(np.linspace(0.0, 20.0, n_cells))
    events = (rng.random((n_cells, n_time)) < 0.01).astype(float)
    kernel = np.exp(-np.arange(40) / 10.0)
    clean = np.array([np.convolve(e, kernel)[:n_time] for e in events])
    return (amplitudes[:, None] * clean + rng.normal(size=clean.shape)).astype(np.float32)


def test_chooses_cells_across_the_snr_range_not_the_first_rows(recording):
    subset = read_tuning_subset(recording, 30.0, max_cells=16)
    assert subset.traces.shape == (16, 2400)
    assert subset.cell_indices.max() > 100  # not just the first rows
    np.testing.assert_array_equal(subset.traces, recording[subset.cell_indices])
    from calab.core.subsample import estimate_snr

    all_snr = estimate_snr(recording)
    assert subset.snr.min() <= np.quantile(all_snr, 0.02)
    assert subset.snr.max() >= np.quantile(all_snr, 0.98)


def test_window_is_centred_and_explicit_cells_are_kept(recording):
    subset = read_tuning_subset(recording, 30.0, cells=[5, 300, 7], max_minutes=0.5)
    assert subset.cell_indices.tolist() == [5, 7, 300]
    assert subset.start == 750 and subset.traces.shape == (3, 900)
    np.testing.assert_array_equal(subset.traces, recording[[5, 7, 300], 750:1650])
    assert (subset.total_cells, subset.total_timepoints) == recording.shape


def test_dask_zarr_and_npy_give_the_same_subset(recording, tmp_path):
    store = tmp_path / "rec.zarr"
    array = zarr.create_array(store=str(store), shape=recording.shape, chunks=(50, 600),
                              dtype="float32")
    array[:] = recording
    np.save(tmp_path / "rec.npy", recording)
    options = dict(max_cells=12, max_minutes=1.0, candidate_bytes=150 * 1800 * 4)
    from_zarr = read_tuning_subset(str(store), 30.0, **options)
    from_dask = read_tuning_subset(da.from_array(recording, chunks=(50, 600)), 30.0, **options)
    assert from_zarr.cell_indices.tolist() == from_dask.cell_indices.tolist()
    np.testing.assert_array_equal(from_zarr.traces, from_dask.traces)
    # the survey spans at most MIN_SURVEY_CHUNKS = 4 chunks of 50 rows, across the store
    assert len(np.unique(from_zarr.cell_indices // 50)) <= 4
    assert from_zarr.cell_indices.max() >= 350
    from_npy = read_tuning_subset(tmp_path / "rec.npy", 30.0, cells=[1, 2])
    np.testing.assert_array_equal(from_npy.traces, recording[[1, 2]])


def test_hdf5_dataset(recording, tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "rec.h5", "w") as handle:
        handle["traces"] = recording[:20]
        handle["other"] = np.zeros(3)
    subset = read_tuning_subset(tmp_path / "rec.h5", 30.0, cells=[3])
    np.testing.assert_array_equal(subset.traces[0], recording[3])
    assert subset.source == "rec.h5:traces"


def test_many_cell_zarr_store_reads_only_a_bounded_survey(tmp_path, rng):
    """10,000 cells: only ~64 MiB of candidate chunks are read (the full-size timing,
    18,000 samples per cell, is measured by benchmarks/tune_latency.py)."""
    shape = (10_000, 3_000)
    array = zarr.create_array(store=str(tmp_path / "big.zarr"), shape=shape, chunks=(250, 3_000),
                              dtype="float32", fill_value=0.0)
    array[:] = rng.normal(size=shape).astype(np.float32)
    subset = read_tuning_subset(str(tmp_path / "big.zarr"), 30.0, candidate_bytes=2 * 2**20)
    assert subset.traces.shape == (64, 3_000)
    # the 2 MiB budget is below one chunk: 4 chunks spread over the store, 174 rows each
    assert len(np.unique(subset.cell_indices // 250)) <= 4
    assert subset.cell_indices.max() > 9000


@pytest.mark.parametrize(
    ("source", "error", "fragment"),
    [
        (np.zeros((2, 3, 4)), ValueError, "1-D"),
        (np.zeros((0, 5)), ValueError, "empty"),
        (np.array([["a", "b"]]), TypeError, "numeric"),
        ("/nonexistent/rec.zarr", FileNotFoundError, "does not exist"),
    ],
)
def test_bad_sources_fail_clearly(source, error, fragment):
    with pytest.raises(error, match=fragment):
        read_tuning_subset(source, 30.0)


def test_cells_with_some_nan_are_kept_and_empty_cells_skipped(recording):
    data = recording[:10].copy()
    data[4, 1000] = np.nan
    data[6, :] = np.nan
    subset = read_tuning_subset(data, 30.0)
    assert 4 in subset.cell_indices.tolist() and 6 not in subset.cell_indices.tolist()
    assert len(subset.cell_indices) == 9 and np.isfinite(subset.snr).all()


def test_one_nan_in_every_cell_does_not_reject_the_recording(recording):
    data = recording[:10].copy()
    data[np.arange(10), np.arange(10) * 7 + 900] = np.nan
    subset = read_tuning_subset(data, 30.0, max_cells=5)
    assert len(subset.cell_indices) == 5


def test_a_recording_without_finite_values_is_refused(recording):
    with pytest.raises(ValueError, match="no finite value"):
        read_tuning_subset(np.full((3, 100), np.nan), 30.0)


def test_parse_cell_spec_and_its_errors():
    from calab.core.subsample import parse_cell_spec

    assert parse_cell_spec("3,17,40-42") == [3, 17, 40, 41, 42]
    for bad, fragment in [("3,x", "'x' is not an index"), ("9-2", "backwards"), ("", "not an")]:
        with pytest.raises(ValueError, match=fragment):
            parse_cell_spec(bad)
