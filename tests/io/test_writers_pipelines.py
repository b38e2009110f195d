"""suite2p, Minian and CaImAn writers on files laid out as the pipelines save them."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from test_loaders_common import write_caiman, write_minian_variable, write_suite2p

import calab
from calab.io.writers.caiman import save_caiman
from calab.io.writers.minian import save_minian
from calab.io.writers.suite2p import save_suite2p

PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.5, "fs": 30.0}


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# suite2p ------------------------------------------------------------------------------------

@pytest.fixture
def plane(tmp_path, rng):
    F = rng.normal(100.0, 5.0, size=(6, 200))
    iscell = np.array([[1, 0.9], [0, 0.1], [1, 0.8], [0, 0.2], [1, 0.7], [1, 0.95]])
    folder = write_suite2p(tmp_path / "plane0", F, 0.1 * F, iscell)
    np.save(folder / "spks.npy", np.ones((6, 200), dtype=np.float32))  # suite2p's own
    return folder


def test_suite2p_full_size_rows_follow_iscell(plane, rng):
    traces, meta = calab.load_suite2p(plane)
    activity = np.abs(rng.normal(size=traces.shape))
    before = digest(plane / "spks.npy")
    path = save_suite2p(activity, plane, roi_indices=meta["roi_indices"], params=PARAMS)
    assert path == plane / "spks_calab.npy" and digest(plane / "spks.npy") == before
    written = np.load(path)
    assert written.shape == (6, 200) and written.dtype == np.float32
    np.testing.assert_allclose(written[[0, 2, 4, 5]], activity.astype(np.float32))
    assert not written[[1, 3]].any()
    record = json.loads((plane / "spks_calab.json").read_text())
    assert record["roi_indices"] == [0, 2, 4, 5] and record["params"] == PARAMS
    assert record["version"] == calab.__version__
    # default rows: iscell's cells; a rerun replaces calab's own file
    save_suite2p(2 * activity, plane)
    np.testing.assert_allclose(np.load(path)[[0, 2, 4, 5]], 2 * activity.astype(np.float32))


def test_suite2p_refuses_its_own_names_and_foreign_files(plane, rng):
    activity = np.zeros((4, 200))
    with pytest.raises(ValueError, match=r"name='spks' must be .* other than suite2p's own"):
        save_suite2p(activity, plane, name="spks")
    (plane / "mine.npy").write_bytes(b"user data")
    with pytest.raises(FileExistsError, match="not written by calab"):
        save_suite2p(activity, plane, name="mine")
    assert (plane / "mine.npy").read_bytes() == b"user data"
    with pytest.raises(ValueError, match=r"activity has shape \(4, 199\)"):
        save_suite2p(activity[:, :199], plane)
    assert not (plane / "spks_calab.npy").exists()


# Minian -------------------------------------------------------------------------------------

def test_minian_store_reads_back_with_xarray(tmp_path, rng):
    xr = pytest.importorskip("xarray")
    folder = tmp_path / "minian"
    folder.mkdir()
    C = rng.normal(size=(5, 120))
    coords = {"unit_id": [1, 4, 7, 10, 13], "frame": np.arange(120)}
    # C as Minian saves it: xarray's to_zarr (zarr format 2), one store per variable
    xr.DataArray(C, dims=("unit_id", "frame"), coords=coords, name="C").to_dataset().to_zarr(
        folder / "C.zarr", zarr_format=2, consolidated=True)
    write_minian_variable(folder, "S", np.abs(C))
    s_before = sorted(p.name for p in (folder / "S.zarr").rglob("*"))
    traces, meta = calab.load_minian(folder, fs=20.0)
    activity = np.abs(rng.normal(size=traces.shape))
    store = save_minian(activity, folder / "C.zarr", unit_ids=meta["unit_ids"], params=PARAMS)
    assert store == folder / "S_calab.zarr"
    data = xr.open_zarr(store)["S_calab"]
    assert data.dims == ("unit_id", "frame")
    assert data["unit_id"].values.tolist() == meta["unit_ids"] == [1, 4, 7, 10, 13]
    assert data["frame"].values.tolist() == list(range(120))
    np.testing.assert_allclose(data.values, activity.astype(np.float32))
    assert data.attrs["calab"]["params"] == PARAMS
    merged = xr.merge([xr.open_zarr(folder / "C.zarr"), xr.open_zarr(store)], join="exact")
    assert set(merged.data_vars) >= {"C", "S_calab"}
    # calab's loader reads it as a Minian variable too
    again, _ = calab.load_minian(folder, trace_key="S_calab")
    np.testing.assert_allclose(again, activity.astype(np.float32))
    assert sorted(p.name for p in (folder / "S.zarr").rglob("*")) == s_before


def test_minian_refuses_minian_names_and_bad_coords(tmp_path):
    folder = tmp_path / "minian"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"name='S' .* Minian's variables"):
        save_minian(np.zeros((2, 10)), folder, name="S")
    with pytest.raises(ValueError, match=r"unit_ids has shape \(3,\); expected \(2,\)"):
        save_minian(np.zeros((2, 10)), folder, unit_ids=[1, 2, 3])
    (folder / "S_calab.zarr").mkdir()
    (folder / "S_calab.zarr" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not written by calab"):
        save_minian(np.zeros((2, 10)), folder)
    assert (folder / "S_calab.zarr" / "notes.txt").read_text() == "mine"


# CaImAn -------------------------------------------------------------------------------------

@pytest.fixture
def caiman_file(tmp_path, rng):
    C = np.abs(rng.normal(size=(5, 150)))
    return write_caiman(tmp_path / "results.hdf5", C, 0.1 * C, idx=np.array([0, 2, 3]))


def test_caiman_dataset_beside_s(caiman_file, rng):
    import h5py

    with h5py.File(caiman_file, "r") as handle:
        s_before = np.asarray(handle["estimates/S"][()])
    traces, meta = calab.load_caiman(caiman_file, only_accepted=True)
    activity = np.abs(rng.normal(size=traces.shape))
    key = save_caiman(activity, caiman_file, component_indices=meta["component_indices"],
                      params=PARAMS)
    assert key == "estimates/S_calab"
    with h5py.File(caiman_file, "r") as handle:
        written = np.asarray(handle[key][()])
        record = json.loads(handle[key].attrs["calab"])
        np.testing.assert_array_equal(handle["estimates/S"][()], s_before)
        idx = np.asarray(handle["estimates/idx_components"][()])
    assert written.shape == s_before.shape
    np.testing.assert_allclose(written[idx], activity.astype(np.float32))
    assert not written[[1, 4]].any()
    assert record["component_indices"] == [0, 2, 3] and record["params"] == PARAMS
    save_caiman(2 * activity, caiman_file, component_indices=[0, 2, 3])  # calab's own: replaced
    with h5py.File(caiman_file, "r") as handle:
        np.testing.assert_allclose(handle[key][[0, 2, 3]], 2 * activity.astype(np.float32))


def test_caiman_never_touches_s(caiman_file):
    before = digest(caiman_file)
    with pytest.raises(FileExistsError, match=r"'estimates/S' .* not written by calab"):
        save_caiman(np.zeros((5, 150)), caiman_file, name="S")
    with pytest.raises(ValueError, match=r"activity has shape \(5, 10\)"):
        save_caiman(np.zeros((5, 10)), caiman_file)
    assert digest(caiman_file) == before
    assert not list(caiman_file.parent.glob(".*.tmp"))
