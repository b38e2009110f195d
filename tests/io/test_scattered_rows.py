"""Scattered cells of a chunked store are read once per storage chunk, with the right values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from calab.io.arrays import TraceArray, ZarrArray


class CountingZarrArray(ZarrArray):
    """The real zarr-backed array, counting the reads it makes."""

    reads: list[tuple[slice, slice]]

    def read(self, selection):
        self.reads.append(selection)
        return super().read(selection)


def _stored(tmp_path: Path, values: np.ndarray, chunks: tuple[int, int],
            time_first: bool = False) -> tuple[TraceArray, CountingZarrArray]:
    stored = values.T if time_first else values
    zarr.create_array(str(tmp_path / "t.zarr"), data=stored, chunks=chunks)
    part = CountingZarrArray(str(tmp_path / "t.zarr"), None, stored.shape, stored.dtype,
                             chunks, None)
    part.reads = []
    return TraceArray([(part, 1.0)], time_first=time_first), part


@pytest.mark.parametrize("time_first", [False, True])
def test_scattered_rows_read_once_per_chunk(tmp_path: Path, time_first: bool) -> None:
    values = np.random.default_rng(0).normal(size=(40, 60)).astype(np.float32)
    chunks = (60, 10) if time_first else (10, 60)
    traces, part = _stored(tmp_path, values, chunks, time_first)
    rows = np.array([1, 4, 8, 13, 17, 19, 25, 38])  # chunks 0, 1, 2 and 3
    got = traces[rows, 5:50]
    np.testing.assert_array_equal(got, values[rows, 5:50])
    assert len(part.reads) == 4


def test_unsorted_repeated_rows_keep_their_order(tmp_path: Path) -> None:
    values = np.arange(30 * 8, dtype=np.float64).reshape(30, 8)
    traces, part = _stored(tmp_path, values, (10, 8))
    rows = np.array([27, 3, 3, 12, 0])
    np.testing.assert_array_equal(traces[rows, :], values[rows])
    assert len(part.reads) == 3


def test_unchunked_rows_are_read_run_by_run(tmp_path: Path) -> None:
    values = np.arange(12 * 5, dtype=np.float64).reshape(12, 5)
    zarr.create_array(str(tmp_path / "t.zarr"), data=values, chunks=(12, 5))
    part = CountingZarrArray(str(tmp_path / "t.zarr"), None, values.shape, values.dtype,
                             None, None)
    part.reads = []
    traces = TraceArray([(part, 1.0)])
    np.testing.assert_array_equal(traces[[0, 1, 5, 9], :], values[[0, 1, 5, 9]])
    assert len(part.reads) == 3  # no chunk grid known: runs [0, 1], [5], [9]
