"""The feature routes of the bridge: metrics, spectrum, demo data, drop validation summary."""

from __future__ import annotations

import io

import numpy as np
import pytest
from starlette.testclient import TestClient

from calab.core.preprocess import filter_cutoffs
from calab.server.bridge import bridge_app
from calab.server.bridge_session import TuningSession, load_dataset

SECRET = "features-secret"
AUTH = {"X-Bridge-Secret": SECRET}
PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda": 0.5, "filter_enabled": False}


@pytest.fixture
def recording(rng):
    n = 3000
    spikes = (rng.random((10, n)) < 0.02).astype(float)
    kernel = np.exp(-np.arange(60) / 18.0) - np.exp(-np.arange(60) / 3.0)
    clean = np.array([np.convolve(s, kernel)[:n] for s in spikes])
    noise = rng.normal(size=clean.shape) * np.linspace(0.1, 2.0, 10)[:, None]
    return 2.0 * clean + noise + 5.0


def client_for(session):
    app = bridge_app(session, secret=SECRET, web_root=None)
    return app, TestClient(app, base_url="http://127.0.0.1")


def test_metrics_describe_every_loaded_cell(recording):
    session = TuningSession(load_dataset(recording, 30.0, max_cells=6))
    app, client = client_for(session)
    with client:
        answer = client.post("/api/v1/metrics", json=PARAMS, headers=AUTH).json()
        sparse = client.post("/api/v1/metrics", json={**PARAMS, "lambda": 20.0},
                             headers=AUTH).json()
        bad = client.post("/api/v1/metrics", json={**PARAMS, "tau_rise": 2.0}, headers=AUTH)
    app.state.solver.close()
    cells = answer["cells"]
    assert [c["cell_index"] for c in cells] == session.dataset.subset.cell_indices.tolist()
    assert all(0 < c["r2"] <= 1 and 0 <= c["sparsity"] <= 1 for c in cells)
    quiet = {c["cell_index"]: c["r2"] for c in cells}
    assert quiet[min(quiet)] > quiet[max(quiet)]  # noise grows with the cell index
    assert np.mean([c["sparsity"] for c in sparse["cells"]]) > np.mean(
        [c["sparsity"] for c in cells])
    assert bad.status_code == 422 and "tau" in bad.json()["error"]


def test_spectrum_of_a_cell_with_the_passband(recording):
    t = np.arange(recording.shape[1]) / 30.0
    recording[3] += 3.0 * np.sin(2 * np.pi * 4.0 * t)
    session = TuningSession(load_dataset(recording, 30.0, cells=[1, 3, 5]))
    app, client = client_for(session)
    with client:
        answer = client.get("/api/v1/spectrum?cell=3&tau_rise=0.05&tau_decay=0.4",
                            headers=AUTH).json()
        missing = client.get("/api/v1/spectrum?cell=99", headers=AUTH)
    app.state.solver.close()
    freqs = np.array(answer["freqs_hz"])
    assert freqs[np.argmax(answer["cell_power"])] == pytest.approx(4.0, abs=0.05)
    assert max(answer["mean_power"]) < max(answer["cell_power"])  # averaged with two others
    assert answer["passband_hz"] == pytest.approx(list(filter_cutoffs(0.05, 0.4, 30.0)))
    assert missing.status_code == 422


def test_demo_loads_simulated_data_with_ground_truth():
    session = TuningSession()
    app, client = client_for(session)
    with client:
        assert client.get("/api/v1/demo/truth", headers=AUTH).status_code == 404
        meta = client.post("/api/v1/demo", json={"num_cells": 5, "duration_s": 30.0},
                           headers=AUTH).json()
        truth = client.get("/api/v1/demo/truth", headers=AUTH).json()
        bad = client.post("/api/v1/demo", json={"cells": 3}, headers=AUTH)
    app.state.solver.close()
    assert meta["num_cells"] == 5 and meta["sampling_rate_hz"] == 30.0
    assert meta["source"].startswith("demo:")
    assert (truth["tau_rise"], truth["tau_decay"]) == (0.05, 0.40)  # the GCaMP6f preset
    assert sorted(map(int, truth["spikes"])) == meta["cell_indices"]
    assert sum(len(s["frames"]) for s in truth["spikes"].values()) > 0
    assert bad.status_code == 422 and "unknown demo options" in bad.json()["error"]


def test_upload_summary_counts_bad_values_per_cell():
    data = np.ones((300, 4))  # time-first
    data[5, 1] = np.nan
    data[7, 1] = np.inf
    data[:, 3] = np.nan
    buffer = io.BytesIO()
    np.save(buffer, data)
    session = TuningSession()
    app, client = client_for(session)
    with client:
        client.post("/api/v1/upload?name=x.npy", content=buffer.getvalue(), headers=AUTH)
        summary = client.post("/api/v1/upload/summary", json={"transpose": True},
                              headers=AUTH).json()
    app.state.solver.close()
    assert summary["shape"] == [4, 300]
    assert (summary["nan_total"], summary["inf_total"]) == (301, 1)
    assert summary["cells_with_gaps"] == 2 and summary["cells_without_data"] == 1
    assert [c["cell"] for c in summary["cells"]] == [1, 3]
    assert summary["cells"][0]["action"].startswith("2 missing samples bridged")
    assert "skipped" in summary["cells"][1]["action"]

