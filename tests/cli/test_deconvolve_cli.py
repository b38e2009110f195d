"""``calab deconvolve`` through a real subprocess, and the progress bar it draws."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import calab
from calab.cli.progress import ProgressBar, format_duration

FS, TAU_R, TAU_D, LAM = 30.0, 0.05, 0.4, 0.03
FLAGS = ["--tau-rise", "0.05", "--tau-decay", "0.4", "--lam", "0.03"]


def calab_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from calab.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def traces() -> np.ndarray:
    sim = calab.simulate(num_cells=12, duration_s=30.0, fs=FS, seed=2, tau_rise_s=TAU_R,
                         tau_decay_s=TAU_D)
    return sim.traces


def test_npy_in_memory_with_full_diagnostics(traces, tmp_path):
    np.save(tmp_path / "x.npy", traces)
    done = calab_cli("deconvolve", str(tmp_path / "x.npy"), "--fs", "30", *FLAGS,
                     "-o", str(tmp_path / "act.npy"), "--full", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["cells"] == 12 and summary["timepoints"] == traces.shape[1]
    expected = calab.run_deconvolution_full(traces, FS, TAU_R, TAU_D, LAM)
    np.testing.assert_allclose(np.load(tmp_path / "act.npy"), expected.activity, rtol=1e-9,
                               atol=1e-12)
    info = json.loads((tmp_path / "act_info.json").read_text())
    assert info["iterations"] == expected.iterations.tolist()
    assert info["converged"] == expected.converged.tolist()
    np.testing.assert_allclose(info["baseline"], expected.baseline, rtol=1e-9)
    assert np.load(tmp_path / "act_reconvolution.npy").shape == traces.shape


def test_tuning_stem_supplies_fs_and_export_supplies_params(traces, tmp_path):
    calab.save_for_tuning(traces, FS, tmp_path / "rec")
    done = calab_cli("deconvolve", str(tmp_path / "rec"), *FLAGS, "-o", str(tmp_path / "a.npy"))
    assert done.returncode == 0, done.stderr
    assert "deconvolved 12 cells" in done.stderr
    calab.save_export_params({"tau_rise": TAU_R, "tau_decay": TAU_D, "lambda_": LAM, "fs": FS},
                             tmp_path / "export.json")
    done = calab_cli("deconvolve", str(tmp_path / "rec.npy"), "--params",
                     str(tmp_path / "export.json"), "-o", str(tmp_path / "b.npy"))
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    expected = calab.run_deconvolution(traces, FS, TAU_R, TAU_D, LAM)
    np.testing.assert_allclose(np.load(tmp_path / "a.npy"), expected, rtol=1e-9, atol=1e-12)


def test_solver_flags_reach_the_solver(traces, tmp_path):
    gappy = traces.copy()
    gappy[3, 100:104] = np.nan
    np.save(tmp_path / "x.npy", gappy)
    done = calab_cli("deconvolve", str(tmp_path / "x.npy"), "--fs", "30", *FLAGS, "--filter",
                     "--constraint", "box01", "--tol", "1e-3", "--nan-policy", "interpolate",
                     "--max-iters", "300", "-o", str(tmp_path / "a.npy"))
    assert done.returncode == 0, done.stderr
    expected = calab.run_deconvolution(gappy, FS, TAU_R, TAU_D, LAM, 300, constraint="box01",
                                       tol=1e-3, filter_enabled=True, nan_policy="interpolate")
    np.testing.assert_allclose(np.load(tmp_path / "a.npy"), expected, rtol=1e-9, atol=1e-12)
    unfiltered = calab.run_deconvolution(gappy, FS, TAU_R, TAU_D, LAM, 300, constraint="box01",
                                         tol=1e-3, nan_policy="interpolate")
    assert not np.allclose(expected, unfiltered)  # --filter made a difference


def test_no_filter_overrides_an_export_that_filters(traces, tmp_path):
    np.save(tmp_path / "x.npy", traces)
    calab.save_export_params({"tau_rise": TAU_R, "tau_decay": TAU_D, "lambda_": LAM, "fs": FS,
                              "filter_enabled": True}, tmp_path / "export.json")
    for flag, filtered in (("--filter", True), ("--no-filter", False)):
        done = calab_cli("deconvolve", str(tmp_path / "x.npy"), "-p",
                         str(tmp_path / "export.json"), flag, "-o", str(tmp_path / "a.npy"))
        assert done.returncode == 0, done.stderr
        expected = calab.run_deconvolution(traces, FS, TAU_R, TAU_D, LAM,
                                           filter_enabled=filtered)
        np.testing.assert_allclose(np.load(tmp_path / "a.npy"), expected, rtol=1e-9)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["x.npy", "--params", "e.json", "--fs", "30"], 2, "either --params or"),
        (["x.npy", "--fs", "30", "--tau-rise", "0.05", "--tau-decay", "0.4"], 2, "missing --lam"),
        (["missing.npy", "--fs", "30", *FLAGS], 2, "input='missing.npy' does not exist"),
        (["x.npy", "--fs", "30", *FLAGS, "-o", "out.zarr"], 2, "written to an .npy file"),
        (["x.npy", "--fs", "30", "--tau-rise", "0.5", "--tau-decay", "0.4", "--lam", "1"], 2,
         "tau_rise=0.5 must be smaller"),
        (["x.npy", "--fs", "30", *FLAGS, "--tau-decay", "1e5"], 2, "tau_d=100000.0 s at fs=30"),
        (["x.npy", "--fs", "1e400", *FLAGS], 2, "fs=inf must be a finite number > 0"),
        (["rec.zarr", "--fs", "30", *FLAGS, "-o", "o.npy"], 2, "use an OUTPUT.zarr path"),
        (["rec.zarr", "--fs", "30", *FLAGS], 2, "zarr input needs -o OUTPUT.zarr"),
        (["rec.zarr", "--fs", "30", *FLAGS, "-o", "rec.zarr/o.zarr"], 2,
         "output='rec.zarr/o.zarr' is inside the input"),
        (["loop", "--fs", "30", *FLAGS], 2, "input='loop' cannot be opened: it is a loop"),
        (["y" * 256, "--fs", "30", *FLAGS], 2, "too long (256 characters"),
        (["empty", "--fs", "30", *FLAGS], 2, "input='empty' is a folder but"),
    ],
)
def test_bad_invocations_are_explained(traces, tmp_path, args, code, message):
    import zarr

    np.save(tmp_path / "x.npy", traces)
    zarr.create_array(str(tmp_path / "rec.zarr"), data=traces.astype(np.float32))
    (tmp_path / "e.json").write_text("{}")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "empty").mkdir()
    done = calab_cli("deconvolve", *args, cwd=tmp_path)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.cluster
@pytest.mark.slow
def test_zarr_out_of_core_with_progress_json_and_resume(traces, tmp_path):
    import zarr

    data = traces.astype(np.float32)
    group = zarr.open_group(str(tmp_path / "rec.zarr"), mode="w")
    group.create_array("traces", data=data, chunks=(4, data.shape[1]))
    group.create_array("cube", data=np.zeros((2, 2, 5), dtype=np.float32))
    common = ["deconvolve", str(tmp_path / "rec.zarr"), "--fs", "30", *FLAGS,
              "-o", str(tmp_path / "out.zarr")]
    first = calab_cli(*common, "--dataset", "traces", "--workers", "1", "--chunk-cells", "4",
                      "--full", "--json", "--memory-limit", "1GB")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["blocks_total"], summary["blocks_computed"], summary["workers"]) == (3, 3, 1)
    assert "deconvolve [" in first.stderr and "3/3 blocks" in first.stderr  # plain progress
    out = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    assert set(out.array_keys()) >= {"activity", "baseline", "reconvolution", "iterations",
                                     "converged", "done"}
    expected = calab.run_deconvolution(data[:4].astype(np.float64), FS, TAU_R, TAU_D, LAM)
    np.testing.assert_allclose(out["activity"][:4], expected.astype(np.float32), rtol=2e-6,
                               atol=1e-7)
    again = json.loads(calab_cli(*common, "--dataset", "traces", "--full", "--json").stdout)
    assert (again["blocks_skipped"], again["blocks_computed"]) == (3, 0)
    other = calab_cli(*common, "--dataset", "traces", "--json")  # without --full: other run
    assert other.returncode == 2 and "different full" in other.stderr
    for dataset, message in (("nope", "dataset='nope' is not an array"),
                             ("cube", "must be 2-D (n_cells, n_timepoints); got 3-D")):
        bad = calab_cli(*common[:-1], str(tmp_path / "o2.zarr"), "--dataset", dataset)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


def test_progress_bar_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(label="deconvolve", cells_total=400, stream=stream, interval_s=3600)
    bar(2, 10)  # two blocks were done before this run: not counted in the rate
    bar(3, 10)  # within the interval: no new line
    bar(10, 10)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[0].startswith("deconvolve [") and "2/10 blocks" in lines[0]
    assert "10/10 blocks" in lines[1] and "cells/s" in lines[1] and "done in" in lines[1]


def test_progress_bar_redraws_in_place_on_a_terminal():
    stream = io.StringIO()
    with ProgressBar(total=4, label="run", stream=stream, tty=True) as bar:
        bar.update(0)
        bar.update(1)
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and "1/4 blocks" in text
    assert "ETA" in text and "[######------------------]" in text


def test_format_duration():
    assert format_duration(0) == "0:00"
    assert format_duration(59.6) == "1:00"
    assert format_duration(3 * 3600 + 61) == "3:01:01"
