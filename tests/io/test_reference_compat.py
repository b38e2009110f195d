"""File compatibility with the published reference package (calab 0.3.0), both directions.

The reference interpreter runs in a subprocess (isolated mode, so it imports its own
calab); it writes or reads files in ``tmp_path`` and reports what it read as JSON.
Floats survive the JSON round trip exactly (``repr`` precision).
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from calab.io.export import normalize_params, save_export_params
from calab.io.tuning import load_tuning_data, save_for_tuning

pytestmark = pytest.mark.reference

# Runs inside the reference interpreter: argv[1] is a JSON request.
REFERENCE_SCRIPT = """
import json, sys
import numpy as np
import calab
request = json.loads(sys.argv[1])
assert calab.__version__ == "0.3.0", calab.__version__
action = request["action"]
if action == "save_for_tuning":
    traces = np.array(request["traces"], dtype=request.get("dtype", "float64"))
    calab.save_for_tuning(traces, request["fs"], request["path"], metadata=request["metadata"])
    reply = {}
elif action == "load_tuning_data":
    traces, metadata = calab.load_tuning_data(request["path"])
    reply = {"traces": traces.tolist(), "dtype": traces.dtype.str, "metadata": metadata}
elif action == "load_export_params":
    reply = {"params": calab.load_export_params(request["path"])}
print(json.dumps(reply))
"""


def _reference(python: str, cwd, **request) -> dict:
    completed = subprocess.run(
        [python, "-I", "-c", REFERENCE_SCRIPT, json.dumps(request)],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("shape", [(5, 120), (120,)])
def test_reference_written_tuning_data_loads_here(reference_python, tmp_path, rng, shape):
    traces = rng.normal(size=shape)
    stem = tmp_path / "ref_rec"
    metadata = {"animal": "m3", "session": 2}
    _reference(reference_python, tmp_path, action="save_for_tuning",
               traces=traces.tolist(), fs=31.25, path=str(stem), metadata=metadata)
    loaded, meta = load_tuning_data(stem)
    np.testing.assert_array_equal(loaded, np.atleast_2d(traces))
    assert loaded.dtype == np.float64
    assert meta["sampling_rate_hz"] == 31.25 and meta["animal"] == "m3"
    assert (meta["num_cells"], meta["num_timepoints"]) == loaded.shape


def test_our_tuning_data_loads_in_reference(reference_python, tmp_path, rng):
    traces = rng.normal(size=(3, 80)).astype(np.float32)[:, ::2]  # float32, strided
    save_for_tuning(traces, 20.0, tmp_path / "ours", metadata={"animal": "m1"})
    reply = _reference(reference_python, tmp_path, action="load_tuning_data",
                       path=str(tmp_path / "ours"))
    assert reply["dtype"] == "<f8"
    np.testing.assert_array_equal(np.array(reply["traces"]), traces.astype(np.float64))
    _, ours = load_tuning_data(tmp_path / "ours")
    assert reply["metadata"] == ours


@pytest.mark.parametrize("metadata", [None, {"animal": "m1", "depth_um": 150.5}])
def test_sidecar_keys_and_values_equal_reference(reference_python, tmp_path, rng, metadata):
    traces = rng.normal(size=(2, 50))
    save_for_tuning(traces, 30.0, tmp_path / "ours", metadata=metadata)
    _reference(reference_python, tmp_path, action="save_for_tuning", traces=traces.tolist(),
               fs=30.0, path=str(tmp_path / "theirs"), metadata=metadata)
    ours = json.loads((tmp_path / "ours_metadata.json").read_text())
    theirs = json.loads((tmp_path / "theirs_metadata.json").read_text())
    assert list(ours.items()) == list(theirs.items())  # same keys, values and order
    for suffix in (".npy", "_metadata.json"):  # even byte for byte
        assert (tmp_path / f"ours{suffix}").read_bytes() == (
            tmp_path / f"theirs{suffix}"
        ).read_bytes()


@pytest.mark.parametrize(
    "params",
    [
        {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 1.0, "fs": 30.0, "filter_enabled": False},
        {"tau_rise": 0.4, "tau_decay": 1.8, "lambda_": 2.0, "fs": 15.0, "filter_enabled": True},
        {"tau_rise": 0.013, "tau_decay": 0.237, "lambda_": 0.0, "fs": 97.3,
         "filter_enabled": False},
    ],
)
def test_our_export_loads_in_reference(reference_python, tmp_path, params):
    path = save_export_params(params, tmp_path / "export.json",
                              metadata={"source_filename": "rec.npy", "num_cells": 4})
    reply = _reference(reference_python, tmp_path, action="load_export_params", path=str(path))
    assert reply["params"] == normalize_params(params) == params
