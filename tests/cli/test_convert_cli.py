"""``calab convert`` through the installed console script (real subprocesses)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
from test_loaders_common import (
    write_caiman,
    write_minian_variable,
    write_nwb,
    write_suite2p,
)

from calab.io.tuning import load_tuning_data

CALAB = shutil.which("calab") or "calab"


def run_calab(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CALAB, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture
def traces(rng):
    return rng.gamma(2.0, 1.0, size=(4, 90))


def test_caiman_to_tuning_data(tmp_path, traces):
    residuals = traces * 0.25
    source = write_caiman(tmp_path / "cm.hdf5", traces, residuals, fr=15.0, idx=[1, 3])
    result = run_calab(
        "convert",
        source,
        "--format",
        "caiman",
        "-o",
        "out",
        "--add-residuals",
        "--only-accepted",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "2 cells x 90 samples at 15 Hz" in result.stdout
    loaded, meta = load_tuning_data(tmp_path / "out")
    np.testing.assert_allclose(loaded, (traces + residuals)[[1, 3]])
    assert meta["sampling_rate_hz"] == 15.0 and meta["source_format"] == "caiman"
    assert meta["component_indices"] == [1, 3] and meta["source_file"] == str(source)


def test_suite2p_detected_and_options(tmp_path, traces):
    plane = write_suite2p(
        tmp_path / "plane0",
        traces,
        traces * 0.5,
        np.array([[1, 0.9], [0, 0.1], [1, 0.8], [0, 0.2]]),
    )
    result = run_calab(
        "convert",
        plane,
        "-o",
        "s2p",
        "--neuropil-coefficient",
        "1.0",
        "--all-rois",
        "--fs",
        "30",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    loaded, meta = load_tuning_data(tmp_path / "s2p.npy")
    np.testing.assert_allclose(loaded, traces.astype(np.float32) * 0.5, rtol=1e-6)
    assert meta["sampling_rate_hz"] == 30.0 and meta["roi_indices"] == [0, 1, 2, 3]
    result = run_calab("convert", plane, "-o", "other", "--fs", "10", cwd=tmp_path)
    assert result.returncode == 2 and "fs=10.0 Hz disagrees" in result.stderr
    assert "30.0 Hz" in result.stderr and not (tmp_path / "other.npy").exists()


def test_minian_needs_fs_and_nwb_series(tmp_path, traces):
    folder = tmp_path / "minian"
    folder.mkdir()
    write_minian_variable(folder, "C", traces)
    result = run_calab("convert", folder, "--format", "minian", "-o", "mn", cwd=tmp_path)
    assert result.returncode == 2 and "pass --fs HZ" in result.stderr
    assert not (tmp_path / "mn.npy").exists()
    result = run_calab("convert", folder, "-o", "mn", "--fs", "20", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "mn_metadata.json").read_text())["unit_ids"] == [1, 4, 7, 10]

    nwb = write_nwb(tmp_path / "rec.nwb", traces, rate=30.0)
    result = run_calab("convert", nwb, "-o", "nwb", "--dataset", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "Error: series='nope' not found" in result.stderr
    assert "Fluorescence/RoiResponseSeries" in result.stderr
    result = run_calab("convert", nwb, "-o", "nwb", "--dataset", "RoiResponseSeries", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(load_tuning_data(tmp_path / "nwb")[0], traces)


def test_usage_errors_and_no_silent_overwrite(tmp_path, traces):
    source = write_caiman(tmp_path / "cm.hdf5", traces, traces, fr=15.0)
    result = run_calab("convert", tmp_path / "missing.hdf5", "-o", "x", cwd=tmp_path)
    assert result.returncode == 2 and "missing.hdf5" in result.stderr
    result = run_calab("convert", source, "-o", "x", "--all-rois", cwd=tmp_path)
    assert result.returncode == 2 and "--all-rois applies to --format suite2p" in result.stderr
    result = run_calab("convert", source, "--format", "zip", "-o", "x", cwd=tmp_path)
    assert result.returncode == 2 and "zip" in result.stderr
    assert run_calab("convert", source, "-o", "x", cwd=tmp_path).returncode == 0
    before = (tmp_path / "x.npy").read_bytes()
    result = run_calab("convert", source, "-o", "x", "--fs", "15", cwd=tmp_path)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert (tmp_path / "x.npy").read_bytes() == before
    result = run_calab("convert", source, "-o", "x", "--fs", "99", "--overwrite", cwd=tmp_path)
    assert result.returncode == 2 and "fs=99.0 Hz disagrees" in result.stderr
    assert (tmp_path / "x.npy").read_bytes() == before
    result = run_calab("convert", source, "-o", "x", "--add-residuals", "--overwrite",
                       cwd=tmp_path)
    assert result.returncode == 0
    assert load_tuning_data(tmp_path / "x")[1]["sampling_rate_hz"] == 15.0
