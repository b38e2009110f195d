"""``--params``: 'auto' (lowercase, as the service's "params": "auto") or a CaTune export."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from click.testing import CliRunner

from calab.cli.main import main


@pytest.mark.parametrize("value", ["autox", "AUTO", "Auto", "missing.json"])
def test_deconvolve_params_names_the_option_and_value(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    np.save("rec.npy", np.random.default_rng(0).normal(size=(2, 200)))
    done = CliRunner().invoke(main, ["deconvolve", "rec.npy", "-o", "out.npy",
                                     "--params", value])
    assert done.exit_code == 2, done.output
    assert f"--params={value!r} must be 'auto'" in done.output
    assert "CaTune export JSON" in done.output and "Traceback" not in done.output
    assert ("lowercase" in done.output) == (value.lower() == "auto")
    assert not (tmp_path / "out.npy").exists()


@pytest.mark.parametrize("value", ["autox", "AUTO"])
def test_jobs_submit_params_names_the_option_and_value(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    zarr.create_array(store="rec.zarr", data=np.ones((2, 100), dtype=np.float32))
    done = CliRunner().invoke(main, ["jobs", "submit", "rec.zarr", "-o", "out.zarr",
                                     "--params", value],
                              env={"CALAB_SERVICE_URL": "http://127.0.0.1:9"})
    assert done.exit_code == 2, done.output
    assert f"--params={value!r} must be 'auto'" in done.output
