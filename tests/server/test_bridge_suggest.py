"""The bridge's parameter suggestion: computed when the data arrive, sent with their description."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from starlette.testclient import TestClient

import calab
from calab.server.bridge import bridge_app
from calab.server.bridge_session import TuningSession, load_dataset
from calab.server.bridge_suggest import suggestion_document

SECRET = "suggest-secret"
AUTH = {"X-Bridge-Secret": SECRET}


@pytest.fixture(scope="module")
def sim():
    return calab.simulate(num_cells=12, duration_s=120.0, fs=30.0, seed=4)


def _suggested(traces, fs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return calab.suggest_params(traces, fs)


def _same(document, suggested):
    assert document["tau_rise"] == suggested["tau_rise"]
    assert document["tau_decay"] == suggested["tau_decay"]
    assert document["lambda"] == suggested["lambda_"]
    assert document["reliable"] == suggested["details"]["reliable"]
    assert document["reasons"] == list(suggested["details"]["reasons"])


def test_load_dataset_suggests_only_when_asked(sim):
    assert load_dataset(sim.traces, 30.0).metadata()["suggestion"] is None
    dataset = load_dataset(sim.traces, 30.0, max_cells=4, suggest=True)
    # on the whole recording (suggest_params subsamples itself), not on the 4 cells shown
    _same(dataset.metadata()["suggestion"], _suggested(sim.traces, 30.0))
    assert dataset.with_source("renamed").suggestion == dataset.suggestion


def test_the_suggestion_is_the_python_one_and_json_ready(sim):
    document = suggestion_document(sim.traces, 30.0)
    _same(document, _suggested(sim.traces, 30.0))
    assert document["cells_read"] == 12 and 0 < document["cells_active"] <= 12
    assert all(type(document[k]) is float for k in ("tau_rise", "tau_decay", "lambda", "fs"))


def test_no_suggestion_for_constant_traces():
    assert suggestion_document(np.ones((3, 600)), 30.0) is None


def test_unreliable_suggestion_says_why():
    document = suggestion_document(np.random.default_rng(0).normal(size=(4, 600)), 30.0)
    assert document is not None and document["reliable"] is False and document["reasons"]


def test_dropped_files_and_the_demo_get_a_suggestion(sim):
    session = TuningSession()
    app = bridge_app(session, secret=SECRET)
    buffer = io.BytesIO()
    np.save(buffer, sim.traces.T)  # time-first
    with TestClient(app, base_url="http://127.0.0.1") as client:
        client.post("/api/v1/upload?name=rec.npy", headers=AUTH, content=buffer.getvalue())
        dropped = client.post("/api/v1/dataset", headers=AUTH,
                              json={"fs": 30.0, "transpose": True}).json()
        again = client.get("/api/v1/metadata", headers=AUTH).json()
        demo = client.post("/api/v1/demo", json={"num_cells": 8, "duration_s": 60.0},
                           headers=AUTH).json()
    app.state.solver.close()
    _same(dropped["suggestion"], _suggested(sim.traces, 30.0))
    assert again["suggestion"] == dropped["suggestion"]
    assert demo["suggestion"]["tau_rise"] < demo["suggestion"]["tau_decay"]
    assert demo["suggestion"]["lambda"] > 0
