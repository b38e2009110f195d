"""The bridge serves any cell and any window of the whole recording, per page session."""

from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

from calab.core.deconvolve import deconvolve_matrix
from calab.core.options import DeconvolutionOptions
from calab.core.preprocess import bandpass_filter
from calab.server.bridge import bridge_app
from calab.server.bridge_session import TuningSession, load_dataset
from calab.server.common import decode_frame

OPTIONS = DeconvolutionOptions(fs=30.0, tau_r=0.1, tau_d=0.6, lam=0.5)
SECRET = "windows-secret"
AUTH = {"X-Bridge-Secret": SECRET}


@pytest.fixture
def recording(rng):
    n = 6000  # 200 s at 30 Hz; the first subset keeps 1 minute of 4 cells
    spikes = (rng.random((40, n)) < 0.02).astype(float)
    kernel = np.exp(-np.arange(60) / 18.0) - np.exp(-np.arange(60) / 3.0)
    clean = np.array([np.convolve(s, kernel)[:n] for s in spikes])
    return 2.0 * clean + rng.normal(scale=0.3, size=clean.shape) + 5.0


@pytest.fixture
def run(recording):
    session = TuningSession(load_dataset(recording, 30.0, max_cells=4, max_minutes=1.0))
    app = bridge_app(session, secret=SECRET, web_root=None, upload_limit=4096)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, session
    app.state.solver.close()


def solve(client, request_id, **overrides):
    body = {"request_id": request_id, "tau_rise": 0.1, "tau_decay": 0.6, "lambda": 0.5,
            "filter_enabled": False, "cells": [39, 0], "start": 5000, "stop": 5900,
            "margin": 0, **overrides}
    return client.post("/api/v1/solve", headers=AUTH, json=body)


def test_any_cell_and_window_outside_the_first_subset_is_solved(run, recording):
    client, session = run
    subset = session.dataset.subset
    assert 39 not in subset.cell_indices or subset.start > 5000  # really outside
    response = solve(client, 1)
    assert response.status_code == 200, response.text
    header, (_fit, activity, fitted) = decode_frame(response.content)
    assert header["cell_indices"] == [39, 0] and (header["start"], header["stop"]) == (5000, 5900)
    np.testing.assert_allclose(fitted, recording[[39, 0], 5000:5900], rtol=1e-6)
    expected = deconvolve_matrix(recording[[39, 0], 5000:5900], OPTIONS)
    np.testing.assert_allclose(activity, expected.activity, atol=1e-4)


def test_a_margin_is_solved_and_cropped_away(run, recording):
    client, _ = run
    header, (fit, activity, fitted) = decode_frame(solve(client, 1, margin=None).content)
    assert header["margin"] == 150 and fit.shape == (2, 900)
    np.testing.assert_allclose(fitted, recording[[39, 0], 5000:5900], rtol=1e-6)
    padded = deconvolve_matrix(recording[[39, 0], 4850:6000], OPTIONS)
    np.testing.assert_allclose(activity, padded.activity[:, 150:1050], atol=1e-4)


def test_sessions_do_not_supersede_each_other(run):
    client, _ = run
    assert solve(client, 900, session="tab-a").status_code == 200
    # a reloaded page (or a second tab) starts counting at 1 again: it is served
    assert solve(client, 1, session="tab-b").status_code == 200
    refused = solve(client, 5, session="tab-a")
    assert refused.status_code == 409
    assert refused.json() == {"error": "superseded by a newer request of the same session",
                              "request_id": 5, "session": "tab-a"}


def test_with_the_filter_the_fitted_trace_is_the_filtered_one(run, recording):
    client, _ = run
    header, (fit, _, fitted) = decode_frame(solve(client, 1, filter_enabled=True).content)
    filtered = bandpass_filter(recording[[39, 0], 5000:5900], 0.1, 0.6, 30.0)
    np.testing.assert_allclose(fitted, filtered, rtol=1e-4, atol=1e-4)
    residual = fitted.astype(float) - fit
    expected_r2 = 1 - residual.var(axis=1) / fitted.astype(float).var(axis=1)
    np.testing.assert_allclose(header["r2"], expected_r2, atol=2e-3)
    # the fit follows the filtered trace, not the noise the filter removed
    raw_fit = decode_frame(solve(client, 2).content)[1][0]
    assert np.abs(np.diff(fit)).mean() < np.abs(np.diff(raw_fit)).mean() * 2


def test_missing_samples_are_interpolated_and_reported(recording):
    data = recording.copy()
    data[3, 5100:5130] = np.nan
    data[5, :] = np.nan
    session = TuningSession(load_dataset(data, 30.0, cells=[3, 5]))
    app = bridge_app(session, secret=SECRET, web_root=None)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = solve(client, 1, cells=[3, 5])
        assert response.status_code == 200, response.text
        header, (fit, activity, fitted) = decode_frame(response.content)
    app.state.solver.close()
    assert header["missing"] == [30, 900] and header["longest_gap_s"] == [1.0, 30.0]
    assert header["no_finite_values"] == [False, True]
    assert np.isnan(fitted[0, 100:130]).all() and np.isfinite(fitted[0, :100]).all()
    assert np.isfinite(fit).all() and np.isfinite(activity).all()
    assert 0 < header["r2"][0] <= 1


def test_overview_covers_the_whole_recording(run, recording):
    client, _ = run
    response = client.get("/api/v1/overview?cell=39&points=100", headers=AUTH)
    assert response.status_code == 200, response.text
    header, (low, high) = decode_frame(response.content)
    assert header["bin_samples"] == 60 and low.shape == (1, 100)
    bins = recording[39].reshape(100, 60)
    np.testing.assert_allclose(low[0], bins.min(axis=1), rtol=1e-6)
    np.testing.assert_allclose(high[0], bins.max(axis=1), rtol=1e-6)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("", "cell is required"), ("cell=40", "cell='40' must be an integer in 0..39"),
     ("cell=1&points=abc", "points='abc'"), ("cell=1&points=5", "in 10..20000")],
)
def test_bad_overview_queries_get_400(run, query, fragment):
    response = run[0].get(f"/api/v1/overview?{query}", headers=AUTH)
    assert response.status_code == 400 and fragment in response.json()["error"]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [({"cells": [40]}, "cells=[40] must be integers in 0..39"),
     ({"start": 0, "stop": 6001}, "stop=6001"),
     ({"session": 5}, "session=5"),
     ({"margin": -1}, "margin=-1"),
     ({"tau_decay": "0.6"}, "tau_decay='0.6'"),
     ({"cells": "3"}, "cells must be a list")],
)
def test_bad_solve_fields_are_named(run, overrides, fragment):
    response = solve(run[0], 1, **overrides)
    assert response.status_code == 400 and fragment in response.json()["error"]


def test_an_oversized_upload_points_to_the_command_line(run):
    response = run[0].post("/api/v1/upload?name=big.npy", headers=AUTH, content=b"x" * 5000)
    assert response.status_code == 413
    message = response.json()["error"]
    assert "big.npy" in message and "calab tune big.npy" in message
    status = run[0].get("/api/v1/status", headers=AUTH).json()
    assert status["upload_limit_bytes"] == 4096


def test_draft_solves_stop_early_and_the_final_solve_starts_from_them(run):
    client, _ = run
    # margin=1: another cell window, so this full solve starts cold
    full = decode_frame(solve(client, 1, cells=[3, 4], tau_decay=0.62, margin=1).content)
    solve(client, 2, cells=[3, 4], tau_decay=0.6)  # the solution before the slider moved
    draft = decode_frame(solve(client, 3, cells=[3, 4], tau_decay=0.62, draft=True).content)
    final = decode_frame(solve(client, 4, cells=[3, 4], tau_decay=0.62).content)
    assert draft[0]["draft"] is True and final[0]["draft"] is False
    assert max(draft[0]["iterations"]) < min(full[0]["iterations"])
    assert max(final[0]["iterations"]) < min(full[0]["iterations"])  # warm from the draft
    # the draft's fit is within a few percent of the converged one
    spread = np.ptp(final[1][0], axis=1, keepdims=True)
    assert np.abs(draft[1][0] - final[1][0]).max() / spread.min() < 0.05


def test_draft_must_be_a_boolean(run):
    response = solve(run[0], 1, draft="yes")
    assert response.status_code == 400 and "draft='yes'" in response.json()["error"]
