"""``calab tune`` and ``calab.tune()`` open their input with the one opener."""

from __future__ import annotations

import click
import numpy as np
import pytest

import calab
from calab.cli.tune import _resolve_input
from calab.errors import InvalidParameterError
from calab.server.bridge_session import load_dataset


@pytest.fixture
def stem(tmp_path, rng):
    calab.save_for_tuning(rng.normal(size=(4, 600)), 25.0, tmp_path / "rec")
    return tmp_path / "rec"


def test_tuning_stem_gives_its_sidecar_rate(stem):
    recording, fs = _resolve_input(str(stem), None)
    assert fs == 25.0 and recording.format == "tuning"
    assert load_dataset(stem, None).fs == 25.0  # calab.tune(stem) ignored the sidecar before
    assert load_dataset(stem, 25.0).fs == 25.0
    with pytest.raises(InvalidParameterError, match=r"fs=30.0 Hz disagrees .* 25.0 Hz"):
        load_dataset(stem, 30.0)
    with pytest.raises(click.BadParameter, match=r"fs=30.0 Hz disagrees"):
        _resolve_input(str(stem), 30.0)


def test_minian_variable_store_is_accepted(tmp_path, rng):
    import zarr

    group = zarr.open_group(str(tmp_path / "C.zarr"), mode="w", zarr_format=2)
    values = rng.normal(size=(5, 300)).astype(np.float32)
    array = group.create_array("C", data=values)
    array.attrs["_ARRAY_DIMENSIONS"] = ["unit_id", "frame"]
    unit = group.create_array("unit_id", data=np.arange(5) * 3)
    unit.attrs["_ARRAY_DIMENSIONS"] = ["unit_id"]
    recording, fs = _resolve_input(str(tmp_path / "C.zarr"), 20.0)
    assert recording.format == "minian" and fs == 20.0 and recording.cell_ids == [0, 3, 6, 9, 12]
    dataset = load_dataset(recording, 20.0, max_cells=3)
    assert dataset.traces.shape == (3, 300)


def test_missing_and_unreadable_inputs_are_usage_errors(tmp_path):
    with pytest.raises(click.BadParameter, match="does not exist"):
        _resolve_input(str(tmp_path / "nope.npy"), None)
    (tmp_path / "junk.h5").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(click.BadParameter, match=r"junk\.h5' is not a readable HDF5 file"):
        _resolve_input(str(tmp_path / "junk.h5"), None)
