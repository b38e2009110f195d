"""save_nwb: a Deconvolved RoiResponseSeries written with pynwb, read back, inspected."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from test_loaders_common import write_nwb

import calab

pytest.importorskip("pynwb")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.5, "fs": 30.0}


def inspect_clean(path):
    """nwbinspector on a written file: no critical issue, nothing at all about our objects."""
    from nwbinspector import Importance, inspect_nwbfile

    messages = list(inspect_nwbfile(nwbfile_path=str(path)))
    critical = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.ERROR)]
    assert not critical, [(m.check_function_name, m.message, m.location) for m in critical]
    ours = [m for m in messages if "Deconvolved" in f"{m.location}{m.object_name}"]
    assert not ours, [(m.check_function_name, m.message) for m in ours]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def session(tmp_path):
    sim = calab.simulate(num_cells=4, duration_s=20.0, fs=30.0, seed=3)
    path = write_nwb(tmp_path / "session.nwb", 5.0 + sim.traces, rate=30.0, subject=True)
    traces, _meta = calab.load_nwb(path)
    result = calab.run_deconvolution_full(traces, 30.0, 0.1, 0.6, 0.5)
    return path, result


def read_series(path, name="Deconvolved", container="Fluorescence"):
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        series = nwbfile.processing["ophys"][container][name]
        return {
            "data": np.asarray(series.data[()]),
            "rate": series.rate,
            "unit": series.unit,
            "description": series.description,
            "rows": np.asarray(series.rois.data[()]).tolist(),
            "table": series.rois.table.name,
            "roi_ids": np.asarray(series.rois.table.id[()]).tolist(),
            "timestamps": None if series.timestamps is None else np.asarray(series.timestamps[()]),
            "interfaces": sorted(nwbfile.processing["ophys"].data_interfaces),
        }


def test_copy_gets_deconvolved_series_and_source_is_untouched(session, tmp_path):
    source, result = session
    before = digest(source)
    out = calab.save_nwb(result.activity, source, tmp_path / "out.nwb", params=PARAMS)
    assert out == tmp_path / "out.nwb" and digest(source) == before
    got = read_series(out)
    np.testing.assert_allclose(got["data"], result.activity.T.astype(np.float32))
    assert got["rate"] == 30.0 and got["unit"] == "a.u."
    assert got["rows"] == [0, 1, 2, 3] and got["table"] == "PlaneSegmentation"
    assert got["roi_ids"] == [100, 101, 102, 103]
    record = json.loads(got["description"].split(". ", 1)[1])
    assert record["version"] == calab.__version__ and record["params"] == PARAMS
    assert record["source_series"] == "Fluorescence/RoiResponseSeries"
    assert "DeconvolvedDiagnostics" not in got["interfaces"]
    traces, meta = calab.load_nwb(out, series="Deconvolved")  # calab reads it back too
    np.testing.assert_allclose(traces, result.activity, rtol=1e-6, atol=1e-6)
    assert meta["roi_ids"] == [100, 101, 102, 103]
    inspect_clean(out)


def test_append_in_place_with_full_diagnostics(session):
    from pynwb import NWBHDF5IO

    source, result = session
    calab.save_nwb(result, source, params=PARAMS)
    fit = read_series(source, "DeconvolvedReconvolution")
    np.testing.assert_allclose(fit["data"], result.reconvolution.T.astype(np.float32))
    assert fit["unit"] == "a.u."  # the source's unit
    with NWBHDF5IO(str(source), "r") as io:
        table = io.read().processing["ophys"]["DeconvolvedDiagnostics"].to_dataframe()
    assert table["roi_id"].tolist() == [100, 101, 102, 103]
    np.testing.assert_allclose(table["baseline"], result.baseline)
    assert table["iterations"].tolist() == result.iterations.tolist()
    assert table["converged"].tolist() == result.converged.tolist()
    assert not list(source.parent.glob(".*.tmp"))
    inspect_clean(source)


def test_series_with_timestamps_links_them(tmp_path, rng):
    stamps = 1.5 + np.arange(120) / 20.0
    fluo = rng.normal(10.0, 1.0, size=(3, 120))
    path = write_nwb(tmp_path / "ts.nwb", fluo, rate=20.0, dff=rng.normal(0, 0.1, (3, 120)),
                     dff_timestamps=stamps, subject=True)
    activity = np.abs(rng.normal(size=(3, 120)))
    out = calab.save_nwb(activity, path, tmp_path / "o.nwb", series="DfOverF/dff", name="calab")
    got = read_series(out, "calab", container="DfOverF")
    np.testing.assert_allclose(got["timestamps"], stamps)
    assert got["rate"] is None
    inspect_clean(out)


def test_wrong_shape_leaves_nothing_behind(session, tmp_path):
    source, result = session
    before = digest(source)
    with pytest.raises(ValueError, match=r"activity has shape \(3, 600\).*\(4, 600\)"):
        calab.save_nwb(result.activity[:3], source, tmp_path / "bad.nwb")
    with pytest.raises(ValueError, match="activity has shape"):
        calab.save_nwb(result.activity[:, :10], source)  # in place
    assert not (tmp_path / "bad.nwb").exists() and digest(source) == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_existing_names_are_refused(session, tmp_path):
    source, result = session
    calab.save_nwb(result.activity, source)
    after_first = digest(source)
    with pytest.raises(FileExistsError, match=r"already holds \['Deconvolved'\].*name="):
        calab.save_nwb(result.activity, source)
    assert digest(source) == after_first
    calab.save_nwb(result.activity, source, name="Deconvolved2")
    assert "Deconvolved2" in calab.load_nwb(source, series="Deconvolved2")[1]["series"]
    other = tmp_path / "taken.nwb"
    other.write_bytes(b"something")
    with pytest.raises(FileExistsError, match="never overwritten"):
        calab.save_nwb(result.activity, source, other)
    assert other.read_bytes() == b"something"
    with pytest.raises(TypeError, match="full=True needs a DeconvolutionResult"):
        calab.save_nwb(result.activity, source, tmp_path / "x.nwb", full=True)


def test_save_nwb_is_public():
    assert "save_nwb" in calab.__all__ and calab.save_nwb.__module__ == "calab.io.writers.nwb"
