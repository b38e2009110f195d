"""deconvolve_zarr on an embedded cluster: equality, layout, resume, refusals, failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import zarr
from engine_helpers import (
    PARAMS,
    TAU_R,
    assert_same_result,
    in_memory_by_blocks,
    write_store,
)

from calab.engine import BlocksFailedError, Cancelled, ResumeMismatchError, deconvolve_zarr

pytestmark = pytest.mark.cluster


def expected(data: np.ndarray, summary: dict):
    """The in-memory core on the same blocks as the run that produced ``summary``."""
    return in_memory_by_blocks(data, summary["chunk_cells"])


def read_output(path: Path, full: bool = True):
    group = zarr.open_group(str(path), mode="r")
    names = ("activity", "baseline", "reconvolution", "iterations", "converged")
    return [group[name][:] for name in (names if full else names[:1])]


def done_mask(path: Path) -> np.ndarray:
    return zarr.open_array(str(path), path="done", mode="r")[:] == 1


def test_zarr_path_equals_in_memory_and_is_plain_zarr(recording, tmp_path, dask_client):
    store, data = recording
    blocks = []
    summary = deconvolve_zarr(store, tmp_path / "out.zarr", PARAMS, client=dask_client,
                              chunk_cells=5, full=True, progress=lambda d, t: blocks.append(d))
    assert summary["blocks_total"] == summary["blocks_computed"] == 5
    assert summary["blocks_skipped"] == 0 and summary["cells"] == 24
    assert summary["timepoints"] == data.shape[1] and summary["workers"] == 2
    assert blocks == sorted(blocks) and blocks[0] == 0 and blocks[-1] == 5
    got = read_output(tmp_path / "out.zarr")
    assert got[0].dtype == np.float32 and got[0].shape == data.shape
    assert_same_result(tuple(got), expected(data, summary), float32=True)
    group = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    assert group["activity"].chunks == (5, data.shape[1])
    attrs = group.attrs["calab"]
    assert attrs["params"]["tau_rise"] == TAU_R and attrs["version"]
    assert attrs["input"]["shape"] == [24, data.shape[1]] and attrs["input"]["chunks"] == [8, 600]
    assert done_mask(tmp_path / "out.zarr").all()


def test_group_with_dataset_and_zarr_v2_input(tmp_path, recording, dask_client):
    _, data = recording
    group = zarr.open_group(str(tmp_path / "v2.zarr"), mode="w", zarr_format=2)
    group.create_array("traces", data=data[:10], chunks=(4, 300))
    group.create_array("other", data=np.zeros(3))
    group.create_array("more", data=np.zeros(3))
    two = zarr.open_group(str(tmp_path / "two.zarr"), mode="w", zarr_format=2)
    two.create_array("a", data=data[:2])
    two.create_array("b", data=data[:2])
    with pytest.raises(ValueError, match=r"pass dataset=NAME.*'a', 'b'"):
        deconvolve_zarr(tmp_path / "two.zarr", tmp_path / "o.zarr", PARAMS, client=dask_client)
    with pytest.raises(ValueError, match=r"dataset='trace' is not an array.*'traces'"):
        deconvolve_zarr(tmp_path / "v2.zarr", tmp_path / "o.zarr", PARAMS,
                        dataset="trace", client=dask_client)
    summary = deconvolve_zarr(tmp_path / "v2.zarr", tmp_path / "o.zarr", PARAMS,
                              dataset="traces", client=dask_client)
    assert summary["blocks_computed"] >= 2  # small inputs are split across the workers
    assert_same_result(tuple(read_output(tmp_path / "o.zarr", full=False)),
                       expected(data[:10], summary)[:1], float32=True)


def test_resume_computes_only_unfinished_blocks(recording, tmp_path, dask_client):
    store, data = recording
    out = tmp_path / "out.zarr"
    first = deconvolve_zarr(store, out, PARAMS, client=dask_client, chunk_cells=4)
    # Simulate an interrupted run: blocks 1 and 4 lost their marker and have garbage data.
    done = zarr.open_array(str(out), path="done", mode="r+")
    done[1], done[4] = 0, 0
    activity = zarr.open_array(str(out), path="activity", mode="r+")
    activity[4:8] = 7.0
    activity[16:20] = 0.0
    progress = []
    summary = deconvolve_zarr(store, out, PARAMS, client=dask_client,
                              progress=lambda d, t: progress.append((d, t)))
    assert (summary["blocks_skipped"], summary["blocks_computed"]) == (4, 2)
    assert progress[0] == (4, 6) and progress[-1] == (6, 6)
    assert_same_result(tuple(read_output(out, full=False)), expected(data, first)[:1],
                       float32=True)
    again = deconvolve_zarr(store, out, PARAMS, client=dask_client)
    assert again["blocks_computed"] == 0 and again["blocks_skipped"] == 6


def test_resume_refuses_other_params_inputs_and_settings(recording, tmp_path, dask_client):
    store, data = recording
    out = tmp_path / "out.zarr"
    deconvolve_zarr(store, out, PARAMS, client=dask_client, chunk_cells=6)
    with pytest.raises(ResumeMismatchError, match="different params"):
        deconvolve_zarr(store, out, {**PARAMS, "lambda_": 0.5}, client=dask_client)
    with pytest.raises(ResumeMismatchError, match="different chunk_cells"):
        deconvolve_zarr(store, out, PARAMS, client=dask_client, chunk_cells=8)
    with pytest.raises(ResumeMismatchError, match="different solver"):
        deconvolve_zarr(store, out, PARAMS, client=dask_client, max_iters=50)
    other = data.copy()
    other[0] += 1.0
    write_store(store, other, chunks=(8, 600))  # same path and shape, other content
    with pytest.raises(ResumeMismatchError, match="different input"):
        deconvolve_zarr(store, out, PARAMS, client=dask_client)
    assert done_mask(out).all()  # refused runs left the output alone
    summary = deconvolve_zarr(store, out, {**PARAMS, "lambda_": 0.5}, client=dask_client,
                              resume=False)
    assert summary["blocks_skipped"] == 0
    assert zarr.open_group(str(out)).attrs["calab"]["params"]["lambda_"] == 0.5


def test_params_as_export_file(recording, tmp_path, dask_client):
    from calab.io.export import save_export_params

    store, _ = recording
    export = save_export_params(PARAMS, tmp_path / "export.json")
    deconvolve_zarr(store, tmp_path / "a.zarr", export, client=dask_client)
    deconvolve_zarr(store, tmp_path / "b.zarr", json.loads(export.read_text()),
                    client=dask_client)
    a, b = read_output(tmp_path / "a.zarr", False)[0], read_output(tmp_path / "b.zarr", False)[0]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="params must be a dict"):
        deconvolve_zarr(store, tmp_path / "c.zarr", [1, 2], client=dask_client)


def test_silent_block_is_marked_done_though_zarr_stores_no_chunk(tmp_path, dask_client):
    data = np.zeros((12, 600), dtype=np.float32)  # all-zero input -> all-zero activity
    store = write_store(tmp_path / "zeros.zarr", data)
    out = tmp_path / "out.zarr"
    deconvolve_zarr(store, out, PARAMS, client=dask_client, chunk_cells=4)
    assert not any((out / "activity" / "c").glob("**/*"))  # no activity chunk written
    assert done_mask(out).all()
    assert deconvolve_zarr(store, out, PARAMS, client=dask_client)["blocks_computed"] == 0


def test_nan_block_fails_clearly_and_stays_unmarked(recording, tmp_path, dask_client):
    store, data = recording
    bad = data.copy()
    bad[13, 100:103] = np.nan
    write_store(store, bad, chunks=(8, 600))
    out = tmp_path / "out.zarr"
    with pytest.raises(BlocksFailedError, match=r"1 of 6 blocks failed.*cell 13: 3 samples"):
        deconvolve_zarr(store, out, PARAMS, client=dask_client, chunk_cells=4)
    assert done_mask(out).tolist() == [True, True, True, False, True, True]
    summary = deconvolve_zarr(store, out, PARAMS, client=dask_client, nan_policy="interpolate",
                              resume=False)
    assert summary["blocks_computed"] == 6 and done_mask(out).all()


@pytest.mark.parametrize(
    ("shape", "match"),
    [((50,), r"must be 2-D .*got 1-D .*reshape"), ((2, 3, 40), r"must be 2-D .*got 3-D")],
)
def test_wrong_dimensionality_is_refused(tmp_path, shape, match):
    store = write_store(tmp_path / "x.zarr", np.ones(shape, dtype=np.float32))
    with pytest.raises(ValueError, match=match):
        deconvolve_zarr(store, tmp_path / "out.zarr", PARAMS)
    assert not (tmp_path / "out.zarr").exists()


def test_missing_input_foreign_and_unwritable_outputs(recording, tmp_path):
    store, _ = recording
    with pytest.raises(FileNotFoundError, match=r"input=.*nothing.zarr' does not exist"):
        deconvolve_zarr(tmp_path / "nothing.zarr", tmp_path / "out.zarr", PARAMS)
    with pytest.raises(ValueError, match="is the same as the input"):
        deconvolve_zarr(store, store, PARAMS)
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a calab output"):
        deconvolve_zarr(store, foreign, PARAMS)
    assert (foreign / "notes.txt").read_text() == "keep me"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError, match=r"cannot write output=.*a-file/out.zarr"):
        deconvolve_zarr(store, blocker / "out.zarr", PARAMS)
    with pytest.raises(ValueError, match=r"tau_rise=0.5 must be smaller"):
        deconvolve_zarr(store, tmp_path / "o.zarr", {**PARAMS, "tau_rise": 0.5})


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only directories")
def test_read_only_directory_is_refused(recording, tmp_path):
    store, _ = recording
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="no write permission"):
            deconvolve_zarr(store, locked / "out.zarr", PARAMS)
    finally:
        locked.chmod(0o700)


def test_should_stop_cancels_and_finished_blocks_stay_valid(recording, tmp_path, dask_client):
    store, data = recording
    out = tmp_path / "out.zarr"
    seen = []
    with pytest.raises(Cancelled, match="rerun with resume"):
        deconvolve_zarr(store, out, PARAMS, client=dask_client, chunk_cells=1,
                        progress=lambda d, t: seen.append(d), should_stop=lambda: bool(seen))
    finished = done_mask(out)
    assert 0 <= finished.sum() < 24
    summary = deconvolve_zarr(store, out, PARAMS, client=dask_client)
    assert summary["blocks_skipped"] == finished.sum()
    assert summary["blocks_computed"] == 24 - finished.sum()
    assert_same_result(tuple(read_output(out, full=False)), expected(data, summary)[:1],
                       float32=True)


@pytest.mark.slow
def test_embedded_cluster_is_started_and_closed(recording, tmp_path, warm_solver):
    store, data = recording
    summary = deconvolve_zarr(store, tmp_path / "out.zarr", PARAMS, n_workers=1,
                              memory_limit="1GB", chunk_cells=12)
    assert summary["workers"] == 1 and summary["blocks_computed"] == 2
    assert summary["scheduler"].startswith("tcp://127.0.0.1")
    assert_same_result(tuple(read_output(tmp_path / "out.zarr", False)),
                       expected(data, summary)[:1], float32=True)
    with pytest.raises(ValueError, match="memory_limit='lots'"):
        deconvolve_zarr(store, tmp_path / "o2.zarr", PARAMS, n_workers=1, memory_limit="lots")
