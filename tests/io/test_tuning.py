"""save_for_tuning / load_tuning_data: the CaTune tuning-data files."""

from __future__ import annotations

import json

import numpy as np
import pytest

import calab
from calab.io import write_atomically
from calab.io.tuning import load_tuning_data, save_for_tuning, tuning_paths


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_round_trip_2d_values_and_files(tmp_path, rng):
    traces = rng.normal(size=(4, 250))
    save_for_tuning(traces, 30.0, tmp_path / "rec")
    assert _files(tmp_path) == ["rec.npy", "rec_metadata.json"]
    loaded, meta = load_tuning_data(tmp_path / "rec")
    np.testing.assert_array_equal(loaded, traces)
    assert loaded.dtype == np.dtype("<f8") and loaded.flags.c_contiguous
    assert meta["sampling_rate_hz"] == 30.0


def test_sidecar_exact_keys_values_and_order(tmp_path, rng):
    save_for_tuning(rng.normal(size=(3, 40)), 15.5, tmp_path / "rec")
    text = (tmp_path / "rec_metadata.json").read_text()
    assert json.loads(text) == {
        "schema_version": "1.0.0",
        "sampling_rate_hz": 15.5,
        "num_cells": 3,
        "num_timepoints": 40,
        "dtype": "<f8",
    }
    assert list(json.loads(text)) == [
        "schema_version", "sampling_rate_hz", "num_cells", "num_timepoints", "dtype",
    ]


def test_npy_on_disk_is_float64_c_order_2d(tmp_path):
    f32 = np.asfortranarray(np.arange(30, dtype=np.float32).reshape(3, 10))
    save_for_tuning(f32[:, ::2], 10.0, tmp_path / "strided")
    raw = np.load(tmp_path / "strided.npy")
    assert raw.dtype.str == "<f8" and raw.shape == (3, 5) and raw.flags.c_contiguous
    with open(tmp_path / "strided.npy", "rb") as fh:
        np.lib.format.read_magic(fh)
        _, fortran_order, _ = np.lib.format.read_array_header_1_0(fh)
    assert fortran_order is False
    np.testing.assert_array_equal(raw, f32[:, ::2].astype(np.float64))


def test_one_d_trace_becomes_one_row(tmp_path):
    save_for_tuning(np.arange(7.0), 20.0, tmp_path / "one")
    loaded, meta = load_tuning_data(tmp_path / "one.npy")
    assert loaded.shape == (1, 7)
    assert (meta["num_cells"], meta["num_timepoints"]) == (1, 7)


def test_path_with_or_without_npy_suffix(tmp_path, rng):
    traces = rng.normal(size=(2, 30))
    save_for_tuning(traces, 30.0, str(tmp_path / "a.npy"))
    save_for_tuning(traces, 30.0, tmp_path / "b")
    assert _files(tmp_path) == ["a.npy", "a_metadata.json", "b.npy", "b_metadata.json"]
    for name in ("a", "a.npy", "a_metadata.json"):
        loaded, _ = load_tuning_data(tmp_path / name)
        np.testing.assert_array_equal(loaded, traces)


def test_tuning_paths_keeps_dots_in_stem(tmp_path):
    npy, sidecar = tuning_paths(tmp_path / "session.v2")
    assert (npy.name, sidecar.name) == ("session.v2.npy", "session.v2_metadata.json")


def test_user_metadata_kept_and_builtin_keys_win(tmp_path, rng):
    user = {"animal": "m7", "num_cells": 99, "nested": {"fov": [1, 2]}, "n": np.int64(5)}
    with pytest.warns(UserWarning, match="num_cells"):
        save_for_tuning(rng.normal(size=(2, 9)), 30.0, tmp_path / "rec", metadata=user)
    _, meta = load_tuning_data(tmp_path / "rec")
    assert meta["animal"] == "m7" and meta["nested"] == {"fov": [1, 2]} and meta["n"] == 5
    assert meta["num_cells"] == 2


def test_public_api_names_point_here():
    assert calab.save_for_tuning is save_for_tuning
    assert calab.load_tuning_data is load_tuning_data


@pytest.mark.parametrize(
    ("traces", "error", "pattern"),
    [
        (np.zeros((2, 3, 4)), ValueError, r"traces must be 1-D .* got 3-D"),
        (np.zeros((0, 10)), ValueError, r"traces is empty"),
        (np.array([[1.0, np.nan, 2.0]]), ValueError, r"traces contains NaN .*cell 0: 1"),
        (np.array(["a", "b"]), TypeError, r"traces must be a numeric array"),
    ],
)
def test_bad_traces_raise_and_write_nothing(tmp_path, traces, error, pattern):
    with pytest.raises(error, match=pattern):
        save_for_tuning(traces, 30.0, tmp_path / "bad")
    assert _files(tmp_path) == []


@pytest.mark.parametrize("fs", [0.0, -5.0, float("nan"), float("inf")])
def test_bad_fs_raises_naming_fs(tmp_path, fs):
    with pytest.raises(ValueError, match=r"fs=.* must be a finite number > 0"):
        save_for_tuning(np.ones((1, 5)), fs, tmp_path / "bad")
    assert _files(tmp_path) == []


def test_unserialisable_metadata_leaves_no_file(tmp_path):
    with pytest.raises(TypeError, match="metadata cannot be written as JSON"):
        save_for_tuning(np.ones((1, 5)), 10.0, tmp_path / "bad", metadata={"x": object()})
    with pytest.raises(ValueError, match="metadata cannot be written as JSON"):
        save_for_tuning(np.ones((1, 5)), 10.0, tmp_path / "bad", metadata={"x": float("nan")})
    with pytest.raises(TypeError, match="metadata must be a dict"):
        save_for_tuning(np.ones((1, 5)), 10.0, tmp_path / "bad", metadata=[1, 2])
    assert _files(tmp_path) == []


def test_failed_overwrite_keeps_previous_files(tmp_path):
    save_for_tuning(np.ones((1, 5)), 10.0, tmp_path / "rec")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ValueError):
        save_for_tuning(np.full((1, 5), np.inf), 10.0, tmp_path / "rec")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_for_tuning(np.ones((1, 5)), 10.0, tmp_path / "nowhere" / "rec")


def test_missing_sidecar_names_both_files(tmp_path):
    np.save(tmp_path / "rec.npy", np.ones((2, 5)))
    with pytest.raises(FileNotFoundError) as info:
        load_tuning_data(tmp_path / "rec")
    message = str(info.value)
    assert "rec.npy" in message and "rec_metadata.json" in message
    assert message.endswith("missing: " + str(tmp_path / "rec_metadata.json"))


def test_missing_both_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"rec\.npy.*rec_metadata\.json"):
        load_tuning_data(tmp_path / "rec")


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"num_cells": 3}, r"num_cells=3 does not match the array shape \(2, 5\)"),
        ({"num_timepoints": 6}, r"num_timepoints=6 does not match"),
        ({"dtype": "<f4"}, r"dtype='<f4' does not match the array's <f8"),
        ({"sampling_rate_hz": -1}, r"sampling_rate_hz=-1 must be a finite number > 0"),
        ({"sampling_rate_hz": "30"}, r"sampling_rate_hz='30' must be a real number"),
        ({"schema_version": "2.0.0"}, r"schema_version='2.0.0' is not supported"),
    ],
)
def test_mismatched_sidecar_raises_naming_field(tmp_path, change, pattern):
    save_for_tuning(np.ones((2, 5)), 10.0, tmp_path / "rec")
    sidecar = tmp_path / "rec_metadata.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), **change}))
    with pytest.raises(ValueError, match=pattern) as info:
        load_tuning_data(tmp_path / "rec")
    assert "rec_metadata.json" in str(info.value)


def test_sidecar_without_sampling_rate(tmp_path):
    np.save(tmp_path / "rec.npy", np.ones((2, 5)))
    (tmp_path / "rec_metadata.json").write_text('{"num_cells": 2}')
    with pytest.raises(ValueError, match="missing field 'sampling_rate_hz'"):
        load_tuning_data(tmp_path / "rec")


def test_malformed_sidecar_names_file_and_position(tmp_path):
    np.save(tmp_path / "rec.npy", np.ones((2, 5)))
    (tmp_path / "rec_metadata.json").write_text('{\n  "sampling_rate_hz": 30,\n}')
    with pytest.raises(ValueError, match=r"rec_metadata.json is not valid JSON.*line 3 column 1"):
        load_tuning_data(tmp_path / "rec")


def test_one_d_npy_on_disk_is_rejected(tmp_path):
    np.save(tmp_path / "rec.npy", np.ones(5))
    (tmp_path / "rec_metadata.json").write_text('{"sampling_rate_hz": 30}')
    with pytest.raises(ValueError, match=r"must hold a 2-D .* got 1-D"):
        load_tuning_data(tmp_path / "rec")


def test_interrupted_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "rec.npy"
    target.write_bytes(b"old content")

    def write_then_fail(handle):
        handle.write(b"half of the new content")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, write_then_fail)
    assert target.read_bytes() == b"old content"
    assert _files(tmp_path) == ["rec.npy"]
