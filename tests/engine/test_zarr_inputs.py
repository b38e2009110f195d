"""deconvolve_zarr's input side: any recording in, changed inputs, outputs inside inputs."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zarr
from engine_helpers import FS, PARAMS

from calab.engine import deconvolve_zarr
from calab.errors import InvalidParameterError, ParameterTypeError, ResumeMismatchError


def test_input_edited_in_place_is_not_resumed_with_stale_results(recording, tmp_path,
                                                                 dask_client):
    store, _ = recording
    out = tmp_path / "out.zarr"
    deconvolve_zarr(store, out, PARAMS, client=dask_client, chunk_cells=4)
    stored = zarr.open_array(str(store), mode="r+")
    stored[13, 100:400] = stored[13, 100:400] + 5.0  # a middle cell: not row 0
    before = np.asarray(zarr.open_array(str(out), path="activity")[:])
    with pytest.raises(ResumeMismatchError, match=r"input changed .*block 3 \(cells 12-15\)"):
        deconvolve_zarr(store, out, PARAMS, client=dask_client)
    np.testing.assert_array_equal(zarr.open_array(str(out), path="activity")[:], before)
    summary = deconvolve_zarr(store, out, PARAMS, client=dask_client, resume=False)
    assert summary["blocks_computed"] == 6
    assert not np.array_equal(zarr.open_array(str(out), path="activity")[12:16], before[12:16])


def test_unchanged_input_resumes_after_checking_every_finished_block(recording, tmp_path,
                                                                     dask_client):
    store, _ = recording
    out = tmp_path / "out.zarr"
    deconvolve_zarr(store, out, PARAMS, client=dask_client, chunk_cells=4)
    checksums = np.asarray(zarr.open_array(str(out), path="input_checksum")[:])
    assert checksums.shape == (6,) and (checksums != 0).all() and len(set(checksums)) == 6
    summary = deconvolve_zarr(store, out, PARAMS, client=dask_client)
    assert (summary["blocks_computed"], summary["blocks_skipped"]) == (0, 6)


def test_output_inside_or_around_the_input_is_refused_before_writing(recording, tmp_path):
    store, _ = recording
    began = time.perf_counter()
    for output in (store / "x.zarr", store, tmp_path):
        with pytest.raises(InvalidParameterError, match="the input") as info:
            deconvolve_zarr(store, output, PARAMS)
        assert info.value.argument == "output"
    assert time.perf_counter() - began < 10
    assert not (store / "x.zarr").exists()
    assert sorted(p.name for p in store.iterdir()) == ["c", "zarr.json"]


def test_resume_and_full_must_be_bools(recording, tmp_path):
    store, _ = recording
    for name in ("resume", "full"):
        with pytest.raises(ParameterTypeError, match=rf"(?i){name}='no' must be true or false"):
            deconvolve_zarr(store, tmp_path / "out.zarr", PARAMS, **{name: "no"})
    assert not (tmp_path / "out.zarr").exists()


def test_fs_contradicting_the_store_names_both(tmp_path, rng):
    group = zarr.open_group(str(tmp_path / "r.zarr"), mode="w", attributes={"fs": 20.0})
    group.create_array("traces", data=rng.normal(size=(4, 300)).astype(np.float32))
    with pytest.raises(InvalidParameterError, match=rf"fs={FS} Hz .* 20.0 Hz"):
        deconvolve_zarr(tmp_path / "r.zarr", tmp_path / "out.zarr", PARAMS)
    assert not (tmp_path / "out.zarr").exists()


def test_an_npy_recording_runs_out_of_core_too(tmp_path, dask_client, rng):
    data = np.abs(rng.normal(size=(6, 400))).astype(np.float32)
    np.save(tmp_path / "rec.npy", data)
    summary = deconvolve_zarr(tmp_path / "rec.npy", tmp_path / "out.zarr", PARAMS,
                              client=dask_client, chunk_cells=3)
    assert summary["blocks_computed"] == 2
    attrs = zarr.open_group(str(tmp_path / "out.zarr")).attrs["calab"]["input"]
    assert attrs["format"] == "npy" and attrs["shape"] == [6, 400]


def test_symlink_loop_and_long_name_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop.zarr").symlink_to("loop.zarr")
    with pytest.raises(FileNotFoundError, match=r"input='loop.zarr' .*symbolic links"):
        deconvolve_zarr("loop.zarr", "out.zarr", PARAMS)
    with pytest.raises(ValueError, match=r"too long \(256 characters"):
        deconvolve_zarr("y" * 256, "out.zarr", PARAMS)
    assert not (tmp_path / "out.zarr").exists()

