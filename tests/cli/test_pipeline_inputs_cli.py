"""``calab tune`` and ``calab deconvolve`` read pipeline outputs (a suite2p plane) directly."""

from __future__ import annotations

import shutil
import subprocess

import click
import numpy as np
import pytest


def write_suite2p_plane(folder, n_cells=5, n_time=600, fs=15.0):
    folder.mkdir()
    rng = np.random.default_rng(0)
    fluorescence = rng.random((n_cells, n_time)).astype(np.float32) + 1.0
    np.save(folder / "F.npy", fluorescence)
    np.save(folder / "Fneu.npy", 0.1 * fluorescence)
    np.save(folder / "iscell.npy", np.ones((n_cells, 2)))
    np.save(folder / "ops.npy", np.array({"fs": fs}, dtype=object), allow_pickle=True)


@pytest.mark.slow
def test_tune_serves_a_suite2p_plane(tmp_path):
    plane = tmp_path / "plane0"
    write_suite2p_plane(plane)
    done = subprocess.run(
        [shutil.which("calab"), "tune", str(plane), "--no-browser", "--timeout", "3"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stderr  # nothing exported before the timeout
    assert "http://127.0.0.1:" in done.stderr
    assert "bridge_secret=" in done.stderr


def test_tune_takes_the_rate_from_the_plane_or_fs(tmp_path):
    from calab.cli.tune import _resolve_input

    plane = tmp_path / "plane0"
    write_suite2p_plane(plane)
    traces, fs = _resolve_input(str(plane), None)
    assert fs == 15.0 and traces.shape == (5, 600)
    traces, fs = _resolve_input(str(plane), 15.0)
    assert fs == 15.0
    with pytest.raises(click.BadParameter, match=r"fs=20.0 Hz disagrees .* 15.0 Hz"):
        _resolve_input(str(plane), 20.0)


def test_deconvolve_reads_a_suite2p_plane(tmp_path):
    plane = tmp_path / "plane0"
    write_suite2p_plane(plane)
    out = tmp_path / "activity.npy"
    done = subprocess.run(
        [shutil.which("calab"), "deconvolve", str(plane), "--tau-rise", "0.1", "--tau-decay",
         "0.6", "--lam", "0.01", "-o", str(out), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    activity = np.load(out)
    assert activity.shape == (5, 600) and (activity >= 0).all()
    assert '"cells": 5' in done.stdout  # fs came from ops.npy: no --fs was needed
