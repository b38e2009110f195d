"""``calab info``: run as a user runs it, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from calab.cli import info as info_module
from calab.core.kernel import build_kernel
from calab.io.export import save_export_params
from calab.io.tuning import save_for_tuning

PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 1.0, "fs": 30.0, "filter_enabled": True}


def run_info(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from calab.cli import main; main()", "info", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd, check=False,
    )


def info_json(path) -> dict:
    completed = run_info(path, "--json")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_npy_description(tmp_path, rng):
    array = rng.normal(size=(6, 40))
    array[2, 5:8] = np.nan
    np.save(tmp_path / "x.npy", array)
    described = info_json(tmp_path / "x.npy")
    assert described["kind"] == "npy"
    assert described["shape"] == [6, 40] and described["dtype"] == "<f8"
    assert (described["order"], described["size"], described["nan_count"]) == ("C", 240, 3)
    assert described["min"] == np.nanmin(array) and described["max"] == np.nanmax(array)
    assert described["nbytes"] == 240 * 8


def test_fortran_order_integer_npy_text(tmp_path):
    np.save(tmp_path / "f.npy", np.asfortranarray(np.arange(-3, 9, dtype=np.int16).reshape(3, 4)))
    completed = run_info(tmp_path / "f.npy")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    for expected in ("kind: npy", "shape: (3, 4)", "dtype: <i2", "order: F",
                     "min: -3", "max: 8", "nan_count: 0"):
        assert expected in lines


@pytest.mark.parametrize("suffix", ["", ".npy", "_metadata.json"])
def test_tuning_data_by_stem_npy_or_sidecar(tmp_path, rng, suffix):
    save_for_tuning(rng.normal(size=(3, 90)), 30.0, tmp_path / "rec", metadata={"animal": "m2"})
    described = info_json(f"{tmp_path / 'rec'}{suffix}")
    assert described["kind"] == "tuning_data"
    assert described["sampling_rate_hz"] == 30.0 and described["duration_s"] == 3.0
    assert described["sidecar_keys"] == [
        "animal", "schema_version", "sampling_rate_hz", "num_cells", "num_timepoints", "dtype",
    ]
    assert described["user_metadata"] == {"animal": "m2"} and described["problems"] == []
    assert described["array"]["shape"] == [3, 90]


def test_tuning_data_with_inconsistent_sidecar_reports_problem(tmp_path, rng):
    save_for_tuning(rng.normal(size=(3, 90)), 30.0, tmp_path / "rec")
    sidecar = tmp_path / "rec_metadata.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "num_cells": 4}))
    completed = run_info(tmp_path / "rec")
    assert completed.returncode == 0, completed.stderr
    assert "num_cells=4 does not match the array shape (3, 90)" in completed.stdout


def test_export_description_and_kernel_figures(tmp_path):
    path = save_export_params(PARAMS, tmp_path / "export.json", metadata={"num_cells": 7})
    described = info_json(path)
    assert described["kind"] == "export" and described["schema_version"] == "1.2.0"
    assert described["parameters"] == PARAMS and described["metadata"] == {"num_cells": 7}
    kernel = build_kernel(0.1, 0.6, 30.0)
    figures = described["kernel"]
    assert figures["length"] == kernel.size
    assert figures["peak_time_ms"] == pytest.approx(1000 * np.argmax(kernel) / 30.0)
    # the continuous kernel's full width at half maximum, on a fine grid
    t = np.linspace(0, 5, 500_001)
    shape = np.exp(-t / 0.6) - np.exp(-t / 0.1)
    above = t[shape >= shape.max() / 2]
    assert figures["fwhm_ms"] == pytest.approx(1000 * (above[-1] - above[0]), abs=1000 / 30.0)
    assert figures["gain_G"] == pytest.approx(kernel.sum())


def test_export_text_output(tmp_path):
    path = save_export_params(PARAMS, tmp_path / "export.json")
    completed = run_info(path)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert "kind: export" in lines and "  tau_decay: 0.6" in lines
    assert "  filter_enabled: True" in lines
    assert any(line.startswith("  fwhm_ms: ") for line in lines)


def test_zarr_store(tmp_path):
    zarr = pytest.importorskip("zarr")
    group = zarr.open_group(str(tmp_path / "out.zarr"), mode="w")
    activity = group.create_array("activity", shape=(10, 300), chunks=(4, 300), dtype="float32")
    activity[:4] = 1.0
    group.create_array("iterations", shape=(10,), chunks=(10,), dtype="int32")
    described = info_json(tmp_path / "out.zarr")
    assert described["kind"] == "zarr" and described["zarr_format"] == 3
    assert described["arrays"]["activity"] == {
        "shape": [10, 300], "chunks": [4, 300], "dtype": "float32",
        "chunks_written": 1, "nchunks": 3,
    }
    assert described["arrays"]["iterations"]["dtype"] == "int32"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.npy", "does not exist"),
        (lambda d: _write(d / "notes.txt", "hello"), "unknown kind"),
        (lambda d: _write(d / "bad.json", '{"parameters": {'), "is not valid JSON"),
        (lambda d: _write(d / "other.json", '{"a": 1}'), "not a CaTune export"),
        (lambda d: _write(d / "e.json", '{"schema_version": "1.2.0", "parameters": {}}'),
         "missing field 'parameters.tau_rise_s'"),
        (lambda d: d, "is a folder"),
    ],
)
def test_bad_paths_exit_2_with_message(tmp_path, make, message):
    completed = run_info(make(tmp_path))
    assert completed.returncode == 2
    assert message in completed.stderr and "Invalid value for 'FILE'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_value_stats_across_chunk_boundaries(monkeypatch, rng):
    array = rng.normal(size=(5, 11))
    array[1] = np.nan  # a whole chunk of NaN
    array[3, 2] = np.inf
    monkeypatch.setattr(info_module, "STATS_CHUNK", 7)
    stats = info_module._value_stats(np.asfortranarray(array))
    finite = array[np.isfinite(array)]
    assert stats == {"min": finite.min(), "max": np.inf, "nan_count": 11, "inf_count": 1}


def _write(path, text):
    path.write_text(text)
    return path


def test_value_stats_all_nan_bool_and_empty():
    assert info_module._value_stats(np.full((2, 3), np.nan))["min"] is None
    assert info_module._value_stats(np.full((2, 3), np.nan))["nan_count"] == 6
    flags = info_module._value_stats(np.array([[True, False]]))
    assert (flags["min"], flags["max"]) == (0, 1)
    assert info_module._value_stats(np.zeros((0, 4)))["max"] is None
