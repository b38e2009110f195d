"""calab.io.array_cache: a process opens each zarr input once, and never reads stale metadata."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from calab.io import array_cache
from calab.io.confined import confine_traces
from calab.io.opener import open_recording


@pytest.fixture(autouse=True)
def empty_cache():
    array_cache.clear()
    yield
    array_cache.clear()


def stored_part(path):
    return open_recording(path).traces.parts[0][0]


def test_reads_of_one_described_store_share_one_open_array(tmp_path):
    path = tmp_path / "rec.zarr"
    zarr.create_array(str(path), data=np.arange(24.0).reshape(4, 6), chunks=(2, 6))
    part = stored_part(path)
    assert part.open() is part.open()
    assert stored_part(path).open() is part.open()  # a second description, same metadata
    np.testing.assert_array_equal(part[1:3, :], np.arange(24.0).reshape(4, 6)[1:3])


def test_rewritten_store_is_read_fresh(tmp_path):
    path = tmp_path / "rec.zarr"
    zarr.create_array(str(path), data=np.zeros((4, 6)), chunks=(2, 6))
    before = stored_part(path)
    assert before[0:4, :].sum() == 0
    # same metadata, new values: chunks are read from the store at every read
    zarr.create_array(str(path), data=np.ones((4, 6)), chunks=(2, 6), overwrite=True)
    assert before[0:4, :].sum() == 24
    # new chunking and type: a new description opens the store again
    zarr.create_array(str(path), data=np.full((4, 6), 2, dtype="int16"), chunks=(4, 3),
                      overwrite=True)
    after = stored_part(path)
    assert after.metadata != before.metadata and after.open() is not before.open()
    assert after[0:4, :].dtype == np.int16 and after[0:4, :].sum() == 48


def test_confined_reads_open_the_store_every_time(tmp_path):
    path = tmp_path / "rec.zarr"
    zarr.create_array(str(path), data=np.ones((4, 6)), chunks=(2, 6))
    traces = confine_traces(open_recording(path).traces, str(tmp_path))
    part = traces.parts[0][0]
    assert part.open() is not part.open()
    assert traces[0:2, :].sum() == 12


def test_only_the_last_arrays_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(array_cache, "MAX_OPEN", 2)
    parts = []
    for index in range(3):
        path = tmp_path / f"rec{index}.zarr"
        zarr.create_array(str(path), data=np.full((2, 3), float(index)), chunks=(1, 3))
        parts.append(stored_part(path))
    first = parts[0].open()
    for part in parts[1:]:
        part.open()
    assert parts[0].open() is not first  # evicted, opened again
    assert parts[0][0:2, :].sum() == 0 and parts[2][0:2, :].sum() == 12
