"""``calab suggest INPUT``: prints a suggestion; --json and --export are machine-readable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import calab
from calab.cli.main import main


def _recording(tmp_path, seconds: float = 200.0):
    sim = calab.simulate(num_cells=12, duration_s=seconds, fs=30.0, seed=5)
    path = tmp_path / "rec.npy"
    np.save(path, sim.traces)
    return sim, path


def test_suggest_json_and_per_cell(tmp_path):
    sim, path = _recording(tmp_path)
    done = CliRunner().invoke(main, ["suggest", str(path), "--fs", "30", "--per-cell",
                                     "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert len(result["tau_decay"]) == 12
    assert 0.5 < np.median(result["tau_decay"]) / sim.tau_decay < 2.0
    assert result["fs"] == 30.0 and result["details"]["reliable"] is True


def test_suggest_text_and_export(tmp_path):
    _, path = _recording(tmp_path)
    export = tmp_path / "params.json"
    done = CliRunner().invoke(main, ["suggest", str(path), "--fs", "30", "--per-cell",
                                     "--export", str(export)])
    assert done.exit_code == 0, done.output
    assert "tau_decay" in done.output and "reliable" in done.output
    params = calab.load_export_params(export)
    assert params["fs"] == 30.0 and params["lambda_"] > 0
    assert len(json.loads(export.read_text())["calab_per_cell"]["tau_decay_s"]) == 12


def test_suggest_needs_fs_and_reports_bad_input(tmp_path):
    _, path = _recording(tmp_path)
    assert CliRunner().invoke(main, ["suggest", str(path)]).exit_code != 0
    flat = tmp_path / "flat.npy"
    np.save(flat, np.ones((3, 500)))
    done = CliRunner().invoke(main, ["suggest", str(flat), "--fs", "30"])
    assert done.exit_code != 0 and "constant" in done.output


@pytest.mark.parametrize("fs", ["1e9", "1e-9"])
def test_suggest_implausible_fs_names_fs(tmp_path, fs):
    _, path = _recording(tmp_path, seconds=30.0)
    done = CliRunner().invoke(main, ["suggest", str(path), "--fs", fs])
    assert done.exit_code == 2
    assert "fs=" in done.output and "plausible sampling rate" in done.output
    assert "tau_d" not in done.output and "Traceback" not in done.output


def test_unreliable_suggestion_warns_on_stderr(tmp_path):
    path = tmp_path / "noise.npy"
    np.save(path, np.random.default_rng(0).normal(size=(4, 3000)))
    done = CliRunner().invoke(main, ["suggest", str(path), "--fs", "30"])
    assert done.exit_code == 0
    assert "UNRELIABLE" in done.output


def test_deconvolve_params_auto(tmp_path):
    sim, path = _recording(tmp_path, seconds=120.0)
    out = tmp_path / "activity.npy"
    done = CliRunner().invoke(main, ["deconvolve", str(path), "--fs", "30", "--params", "auto",
                                     "-o", str(out), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0.5 < summary["suggested"]["tau_decay"] / sim.tau_decay < 2.0
    activity = np.load(out)
    assert activity.shape == sim.traces.shape and activity.any()
    refused = CliRunner().invoke(main, ["deconvolve", str(path), "--fs", "30", "--params",
                                        "auto", "--lam", "1", "-o", str(out)])
    assert refused.exit_code == 2 and "--params auto" in refused.output


def test_deconvolve_params_auto_full_records_the_suggestion(tmp_path):
    _, path = _recording(tmp_path, seconds=120.0)
    out = tmp_path / "activity.npy"
    done = CliRunner().invoke(main, ["deconvolve", str(path), "--fs", "30", "--params", "auto",
                                     "-o", str(out), "--full", "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    info = json.loads((tmp_path / "activity_info.json").read_text())
    assert info["suggested"] == summary["suggested"]
    assert info["suggested"]["suggested_by"] == "calab.suggest_params"
    assert info["suggested"]["calab_version"] == calab.__version__


@pytest.mark.cluster
@pytest.mark.slow
def test_deconvolve_zarr_params_auto_records_the_suggestion_in_the_attrs(tmp_path):
    import subprocess
    import sys

    import zarr

    sim = calab.simulate(num_cells=12, duration_s=120.0, fs=30.0, seed=5)
    group = zarr.open_group(str(tmp_path / "rec.zarr"), mode="w")
    group.create_array("traces", data=sim.traces.astype(np.float32))
    group.attrs["fs"] = 30.0
    args = [sys.executable, "-c", "from calab.cli import main; main()", "deconvolve",
            str(tmp_path / "rec.zarr"), "--dataset", "traces", "--params", "auto",
            "-o", str(tmp_path / "out.zarr"), "--workers", "1", "--json"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert "suggested from the data" in done.stderr
    attrs = zarr.open_group(str(tmp_path / "out.zarr"), mode="r").attrs["calab"]
    assert attrs["suggested"] == summary["suggested"]
    assert attrs["suggested"]["calab_version"] == calab.__version__
    assert attrs["params"]["tau_decay"] == attrs["suggested"]["tau_decay"]
    assert 0.5 < attrs["params"]["tau_decay"] / sim.tau_decay < 2.0
    again = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["blocks_skipped"] == summary["blocks_total"]  # resumed


def test_suggest_on_zarr_with_invalid_rate_shows_it(tmp_path):
    import zarr

    store = tmp_path / "bad-rate.zarr"
    zarr.create_array(store=str(store), data=np.ones((3, 64), dtype=np.float32),
                      attributes={"fs": "thirty"})
    done = CliRunner().invoke(main, ["suggest", str(store)])
    assert done.exit_code == 2
    assert "invalid sampling rate (fs='thirty'" in done.output and "--fs" in done.output


def test_text_file_named_npy_is_not_a_valid_npy(tmp_path):
    text = tmp_path / "text.npy"
    text.write_text("hello,1,2\n")
    for args in (["suggest", str(text), "--fs", "30"], ["info", str(text)]):
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 2, done.output
        assert "not a NumPy .npy array of numbers" in done.output
        assert "allow_pickle" not in done.output and "unsafely" not in done.output
