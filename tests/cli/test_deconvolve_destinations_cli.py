"""``calab deconvolve ... --to nwb|suite2p|minian|caiman``: results into the user's own files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
from test_loaders_common import write_caiman, write_nwb, write_suite2p

import calab
from calab.cli.main import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
PARAMS = ["--tau-rise", "0.1", "--tau-decay", "0.6", "--lam", "0.5"]


def run(*args):
    result = CliRunner().invoke(main, ["deconvolve", *map(str, args)])
    return result


def expected(traces, fs):
    return calab.run_deconvolution(traces, fs, 0.1, 0.6, 0.5).astype(np.float32)


def test_nwb_copy_append_and_full(tmp_path):
    pytest.importorskip("pynwb")
    sim = calab.simulate(num_cells=3, duration_s=15.0, fs=30.0, seed=2)
    source = write_nwb(tmp_path / "s.nwb", 5.0 + sim.traces, rate=30.0, subject=True)
    out = tmp_path / "s_deconvolved.nwb"
    done = run(source, *PARAMS, "-o", out, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output.strip().splitlines()[-1])["output"] == str(out)
    activity, meta = calab.load_nwb(out, series="Deconvolved")
    traces, _ = calab.load_nwb(source)
    np.testing.assert_allclose(activity, expected(traces, 30.0), rtol=1e-5, atol=1e-6)
    assert meta["roi_ids"] == [100, 101, 102]
    assert "Deconvolved" not in calab.load_nwb(source)[1]["available_series"]
    done = run(source, *PARAMS, "--append", "--full")
    assert done.exit_code == 0, done.output
    names = calab.load_nwb(source, series="Deconvolved")[1]["available_series"]
    assert "Fluorescence/DeconvolvedReconvolution" in names
    again = run(source, *PARAMS, "--append")  # several series now: the source must be named
    assert again.exit_code != 0 and "holds several series" in again.output
    again = run(source, *PARAMS, "--append", "--dataset", "RoiResponseSeries")
    assert again.exit_code != 0 and "already holds ['Deconvolved']" in again.output


def test_suite2p_plane(tmp_path, rng):
    F = rng.normal(100.0, 5.0, size=(4, 300)) + 20 * (rng.random((4, 300)) > 0.97)
    plane = write_suite2p(tmp_path / "plane0", F, 0.1 * F,
                          np.array([[1, 0.9], [0, 0.2], [1, 0.8], [1, 0.7]]), fs=15.0)
    done = run(plane, *PARAMS, "--to", "suite2p")
    assert done.exit_code == 0, done.output
    written = np.load(plane / "spks_calab.npy")
    traces, _ = calab.load_suite2p(plane)
    np.testing.assert_allclose(written[[0, 2, 3]], expected(traces, 15.0), rtol=1e-5, atol=1e-6)
    assert not written[1].any()


def test_minian_folder(tmp_path, rng):
    xr = pytest.importorskip("xarray")
    folder = tmp_path / "minian"
    folder.mkdir()
    C = np.abs(rng.normal(size=(3, 200)))
    xr.DataArray(C, dims=("unit_id", "frame"), coords={"unit_id": [5, 8, 9]},
                 name="C").to_dataset().to_zarr(folder / "C.zarr", zarr_format=2)
    done = run(folder, *PARAMS, "--fs", "20", "--to", "minian", "--name", "S_new")
    assert done.exit_code == 0, done.output
    data = xr.open_zarr(folder / "S_new.zarr")["S_new"]
    assert data["unit_id"].values.tolist() == [5, 8, 9]
    np.testing.assert_allclose(data.values, expected(C, 20.0), rtol=1e-5, atol=1e-6)


def test_caiman_file(tmp_path, rng):
    import h5py

    C = np.abs(rng.normal(size=(4, 200)))
    path = write_caiman(tmp_path / "r.hdf5", C, 0.1 * C, idx=np.array([1, 3]))
    done = run(path, *PARAMS, "--to", "caiman")
    assert done.exit_code == 0, done.output
    with h5py.File(path, "r") as handle:
        np.testing.assert_allclose(handle["estimates/S_calab"][()], expected(C, 30.0),
                                   rtol=1e-5, atol=1e-6)


def test_mismatched_requests_are_refused(tmp_path, rng):
    np.save(tmp_path / "t.npy", rng.normal(size=(2, 100)))
    wrong = run(tmp_path / "t.npy", *PARAMS, "--fs", "30", "--to", "suite2p")
    assert wrong.exit_code != 0 and "--to suite2p needs suite2p input" in wrong.output
    wrong = run(tmp_path / "t.npy", *PARAMS, "--fs", "30", "--to", "nwb")
    assert wrong.exit_code != 0 and "-o OUTPUT.nwb" in wrong.output
    wrong = run(tmp_path / "t.npy", *PARAMS, "--fs", "30", "--to", "caiman", "-o", "x.h5")
    assert wrong.exit_code != 0 and "drop" in wrong.output
