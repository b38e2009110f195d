"""No CLI output is written over the recording it was made from (or any tuning recording)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import calab
from calab.cli.main import main

PARAMS = ["--tau-rise", "0.05", "--tau-decay", "0.4", "--lam", "0.02"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    sim = calab.simulate(num_cells=3, duration_s=30.0, fs=30.0, seed=1)
    calab.save_for_tuning(np.asarray(sim.traces), 30.0, tmp_path / "rec")
    np.save(tmp_path / "plain.npy", np.asarray(sim.traces))
    return tmp_path


@pytest.mark.parametrize("args", [
    ["deconvolve", "{d}/rec.npy", "-o", "{d}/rec.npy", "--params", "auto"],
    ["deconvolve", "{d}/rec.npy", "-o", "{d}/rec.npy", *PARAMS],
    ["deconvolve", "{d}/plain.npy", "--fs", "30", "-o", "{d}/./plain.npy", *PARAMS],
    ["deconvolve", "{d}/plain.npy", "--fs", "30", "-o", "{d}/rec.npy", *PARAMS],
    ["deconvolve", "{d}/rec_reconvolution.npy", "--fs", "30", "-o", "{d}/rec.npy", "--full",
     *PARAMS],
    ["suggest", "{d}/rec.npy", "--export", "{d}/rec_metadata.json"],
    ["suggest", "{d}/rec.npy", "--export", "{d}/rec.npy"],
    ["suggest", "{d}/plain.npy", "--fs", "30", "--export", "{d}/plain.npy"],
])
def test_output_over_a_recording_is_refused(recordings: Path, args: list[str]) -> None:
    np.save(recordings / "rec_reconvolution.npy", np.load(recordings / "plain.npy"))
    files = sorted(p for p in recordings.iterdir())
    before = {p.name: _digest(p) for p in files}
    done = CliRunner().invoke(main, [a.format(d=recordings) for a in args])
    assert done.exit_code == 2, done.output
    assert "Error:" in done.output and ("left untouched" in done.output
                                        or "sidecar" in done.output or ".json" in done.output)
    assert {p.name: _digest(p) for p in sorted(recordings.iterdir())} == before


def test_earlier_result_is_replaced(recordings: Path) -> None:
    out = recordings / "activity.npy"
    np.save(out, np.zeros(3))
    done = CliRunner().invoke(main, ["deconvolve", str(recordings / "rec.npy"), "-o", str(out),
                                     *PARAMS])
    assert done.exit_code == 0, done.output
    assert np.load(out).shape == (3, 900)
