"""``calab demo``: simulate, deconvolve out of core, report throughput and accuracy."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import zarr


def calab_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from calab.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.cluster
@pytest.mark.slow
def test_demo_json_report_files_and_accuracy(tmp_path):
    folder = tmp_path / "demo"
    done = calab_cli("demo", str(folder), "--cells", "40", "--minutes", "1", "--workers", "1",
                     "--chunk-cells", "16", "--seed", "3", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["cells"], report["timepoints"]) == (40, 1800)
    assert report["blocks_total"] == report["blocks_computed"] == 3
    assert report["workers"] == 1 and report["cells_per_s"] > 0
    assert report["scored_cells"] >= 35
    assert 0.8 < report["spike_corr_median"] <= 1.0  # deconvolution recovers the spikes
    assert "deconvolve [" in done.stderr and "3/3 blocks" in done.stderr
    recording = zarr.open_group(str(folder / "recording.zarr"), mode="r")
    assert recording["traces"].shape == recording["spikes"].shape == (40, 1800)
    activity = zarr.open_array(str(folder / "deconvolved.zarr"), path="activity", mode="r")[:]
    assert activity.shape == (40, 1800) and (activity >= 0).all() and activity.any()
    export = json.loads((folder / "params.json").read_text())
    # the parameters are suggested from the data (calab.suggest_params), not copied
    decay = export["parameters"]["tau_decay_s"] / recording.attrs["tau_decay"]
    assert 0.5 < decay < 2.0
    assert "suggested from the data" in done.stderr


@pytest.mark.cluster
@pytest.mark.slow
def test_demo_human_report_and_rerun_overwrites(tmp_path):
    folder = tmp_path / "d"
    scores = []
    for _ in range(2):  # a second demo in the same folder starts afresh, same seed
        done = calab_cli("demo", str(folder), "--cells", "16", "--minutes", "0.5",
                         "--workers", "1", "--indicator", "gcamp6s")
        assert done.returncode == 0, done.stderr
        assert "16 cells x 900 samples" in done.stdout
        match = re.search(r"median spike correlation ([0-9.]+)", done.stdout)
        assert match and 0.5 < float(match.group(1)) <= 1.0
        scores.append(match.group(1))
        assert "cells/s on 1 workers" in done.stdout
    assert scores[0] == scores[1]  # seeded: the same recording and result again
    assert zarr.open_group(str(folder / "recording.zarr")).attrs["indicator"] == "gcamp6s"


def test_demo_rejects_bad_options(tmp_path):
    done = calab_cli("demo", str(tmp_path / "x"), "--cells", "0")
    assert done.returncode == 2 and "--cells" in done.stderr
    done = calab_cli("demo", str(tmp_path / "x"), "--cells", "4", "--minutes", "0.2",
                     "--indicator", "gfp")
    assert done.returncode == 2 and "indicator" in done.stderr and "Traceback" not in done.stderr
