"""Bridge protocol v1 and the solve/upload routes, in process with Starlette's TestClient."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from starlette.testclient import TestClient

from calab.core.deconvolve import deconvolve_matrix
from calab.core.options import DeconvolutionOptions
from calab.server.bridge import bridge_app
from calab.server.bridge_session import TuningSession, load_dataset
from calab.server.frames import decode_frame

SECRET = "test-secret-123"
AUTH = {"X-Bridge-Secret": SECRET}
PROTOCOL_ROUTES = [
    ("GET", "/api/v1/health"), ("GET", "/api/v1/status"), ("GET", "/api/v1/metadata"),
    ("GET", "/api/v1/traces"), ("POST", "/api/v1/params"), ("POST", "/api/v1/heartbeat"),
    ("POST", "/api/v1/solve"), ("POST", "/api/v1/upload"), ("POST", "/api/v1/dataset"),
]


@pytest.fixture
def traces(rng):
    t = np.arange(1800) / 30.0
    spikes = (rng.random((5, t.size)) < 0.02).astype(float)
    kernel = np.exp(-np.arange(60) / 18.0) - np.exp(-np.arange(60) / 3.0)
    clean = np.array([np.convolve(s, kernel)[: t.size] for s in spikes])
    return 2.0 * clean + rng.normal(scale=0.3, size=clean.shape) + 5.0


@pytest.fixture
def session(traces):
    return TuningSession(load_dataset(traces, 30.0))


@pytest.fixture
def client(session):
    app = bridge_app(session, secret=SECRET)
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client
    app.state.solver.close()


@pytest.mark.parametrize(("method", "path"), PROTOCOL_ROUTES)
@pytest.mark.parametrize("headers", [{}, {"X-Bridge-Secret": "wrong"}, {"X-Bridge-Secret": ""}])
def test_every_api_route_requires_the_secret(client, method, path, headers):
    response = client.request(method, path, headers=headers)
    assert response.status_code == 401
    assert "X-Bridge-Secret".lower() in response.json()["error"].lower()


def test_health_status_and_metadata(client, traces):
    assert client.get("/api/v1/health", headers=AUTH).json()["protocol_version"] == 1
    status = client.get("/api/v1/status", headers=AUTH).json()
    assert status["state"] == "waiting" and status["has_data"] is True
    meta = client.get("/api/v1/metadata", headers=AUTH).json()
    assert meta["sampling_rate_hz"] == 30.0
    assert (meta["num_cells"], meta["num_timepoints"]) == traces.shape
    assert meta["cell_indices"] == list(range(5))


def test_traces_are_npy_bytes_of_the_data(client, traces):
    response = client.get("/api/v1/traces", headers=AUTH)
    assert response.status_code == 200
    array = np.load(io.BytesIO(response.content), allow_pickle=False)
    assert array.dtype == np.float64
    np.testing.assert_array_equal(array, traces)
    single = client.get("/api/v1/traces?dtype=float32", headers=AUTH).content
    np.testing.assert_array_equal(np.load(io.BytesIO(single)), traces.astype(np.float32))
    assert client.get("/api/v1/traces?dtype=int8", headers=AUTH).status_code == 400


def test_params_accepts_an_export_document_and_wakes_the_caller(client, session):
    export = {
        "schema_version": "1.2.0",
        "parameters": {"tau_rise_s": 0.05, "tau_decay_s": 0.45, "lambda": 2.5,
                       "sampling_rate_hz": 30.0, "filter_enabled": True},
    }
    response = client.post("/api/v1/params", headers=AUTH, json=export)
    assert response.status_code == 200, response.text
    assert session.exported.is_set()
    assert session.params == {"tau_rise": 0.05, "tau_decay": 0.45, "lambda_": 2.5,
                              "fs": 30.0, "filter_enabled": True}
    assert client.get("/api/v1/status", headers=AUTH).json()["state"] == "exported"


def test_params_accepts_a_flat_dict(client, session):
    flat = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.0, "fs": 30.0}
    assert client.post("/api/v1/params", headers=AUTH, json=flat).status_code == 200
    assert session.params["lambda_"] == 0.0 and session.params["filter_enabled"] is False


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "is not valid JSON"),
        (b"", 400, "empty"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"tau_rise": 0.7, "tau_decay": 0.6, "lambda": 1, "fs": 30}).encode(),
         422, "tau_r"),
        (json.dumps({"tau_rise": 0.1, "tau_decay": 0.6, "fs": 30}).encode(), 422, "lambda"),
        (b"\xff\xfe", 400, "UTF-8"),
    ],
)
def test_bad_params_get_4xx_with_a_message(client, session, body, status, fragment):
    response = client.post("/api/v1/params", headers=AUTH, content=body)
    assert response.status_code == status
    assert fragment.lower() in response.json()["error"].lower()
    assert not session.exported.is_set()


def test_oversized_body_gets_413(client):
    huge = b'{"x": "' + b"a" * (2 * 2**20) + b'"}'
    response = client.post("/api/v1/params", headers=AUTH, content=huge)
    assert response.status_code == 413
    assert "limit" in response.json()["error"]


def test_foreign_host_header_is_rejected(client):
    response = client.get("/api/v1/health", headers={**AUTH, "Host": "evil.example:8080"})
    assert response.status_code == 403
    assert "evil.example" in response.json()["error"]
    assert client.get("/api/v1/health", headers={**AUTH, "Host": "localhost:1"}).status_code == 200


def test_cors_and_private_network_preflight(client):
    response = client.options("/api/v1/params", headers={
        "Origin": "https://catune.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-bridge-secret, content-type",
        "Access-Control-Request-Private-Network": "true",
    })
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://catune.example"
    assert response.headers["access-control-allow-private-network"] == "true"
    assert "x-bridge-secret" in response.headers["access-control-allow-headers"]
    actual = client.get("/api/v1/health", headers={**AUTH, "Origin": "https://catune.example"})
    assert actual.headers["access-control-allow-origin"] == "https://catune.example"
    denied = client.get("/api/v1/health", headers={"Origin": "https://catune.example"})
    assert denied.status_code == 401
    assert denied.headers["access-control-allow-origin"] == "https://catune.example"


def _solve_body(number, **overrides):
    body = {"request_id": number, "tau_rise": 0.1, "tau_decay": 0.6, "lambda": 0.5,
            "filter_enabled": False, "rows": [0, 2, 4], "start": 300, "stop": 1200, "margin": 0}
    return {**body, **overrides}


def test_solve_returns_the_core_solution_as_float32_frame(client, traces):
    response = client.post("/api/v1/solve", headers=AUTH, json=_solve_body(1))
    assert response.status_code == 200, response.text
    header, (fit, activity, fitted) = decode_frame(response.content)
    assert header["request_id"] == 1 and header["cell_indices"] == [0, 2, 4]
    assert fit.shape == activity.shape == fitted.shape == (3, 900) and fit.dtype == np.float32
    np.testing.assert_allclose(fitted, traces[[0, 2, 4], 300:1200], rtol=1e-6)
    expected = deconvolve_matrix(traces[[0, 2, 4], 300:1200],
                                 DeconvolutionOptions(30.0, 0.1, 0.6, 0.5))
    np.testing.assert_allclose(activity, expected.activity, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fit, expected.reconvolution, rtol=1e-5, atol=1e-4)
    assert all(0.0 < r2 <= 1.0 for r2 in header["r2"])


def test_an_older_request_is_dropped_once_a_newer_one_arrived(client):
    assert client.post("/api/v1/solve", headers=AUTH, json=_solve_body(10)).status_code == 200
    stale = client.post("/api/v1/solve", headers=AUTH, json=_solve_body(9))
    assert stale.status_code == 409
    assert stale.json()["request_id"] == 9


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"rows": [0, 99]}, "rows"),
        ({"rows": []}, "rows"),
        ({"start": 1200, "stop": 300}, "window"),
        ({"tau_rise": 0.9}, "tau_r"),
        ({"lambda": -1}, "lambda"),
        ({"request_id": "7"}, "request_id"),
        ({"filter_enabled": "yes"}, "filter_enabled"),
    ],
)
def test_bad_solve_requests_get_422(client, overrides, fragment):
    response = client.post("/api/v1/solve", headers=AUTH, json=_solve_body(1, **overrides))
    assert response.status_code == 422
    assert fragment in response.json()["error"]


def test_solve_without_a_field_names_it(client):
    body = _solve_body(1)
    del body["tau_decay"]
    response = client.post("/api/v1/solve", headers=AUTH, json=body)
    assert response.status_code == 422 and "tau_decay" in response.json()["error"]
    assert response.json()["field"] == "tau_decay"


def test_upload_then_activate_a_time_first_npz(client, session, rng):
    recording = rng.normal(size=(900, 7))  # time points x cells
    buffer = io.BytesIO()
    np.savez(buffer, traces=recording, frame_times=np.arange(900.0))
    described = client.post("/api/v1/upload?name=rec.npz", headers=AUTH,
                            content=buffer.getvalue()).json()
    assert {a["key"]: a["shape"] for a in described["arrays"]} == {
        "traces": [900, 7], "frame_times": [900]}
    meta = client.post("/api/v1/dataset", headers=AUTH,
                       json={"key": "traces", "fs": 15.0, "transpose": True}).json()
    assert (meta["num_cells"], meta["num_timepoints"], meta["sampling_rate_hz"]) == (7, 900, 15.0)
    assert meta["source"] == "rec.npz:traces"
    np.testing.assert_array_equal(session.dataset.traces, recording.T)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"hello", "neither"), (b"\x93NUMPY\x01\x00garbage", "malformed .npy"),
     (b"PK\x03\x04broken", "malformed .npz")],
)
def test_malformed_uploads_get_400(client, content, fragment):
    response = client.post("/api/v1/upload?name=x", headers=AUTH, content=content)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_dataset_with_bad_sampling_rate_gets_422(client):
    buffer = io.BytesIO()
    np.save(buffer, np.ones((2, 50)))
    client.post("/api/v1/upload?name=a.npy", headers=AUTH, content=buffer.getvalue())
    response = client.post("/api/v1/dataset", headers=AUTH, json={"fs": -3})
    assert response.status_code == 422 and "fs" in response.json()["error"]
    assert response.json()["field"] == "fs"


def test_without_data_the_data_routes_say_so():
    app = bridge_app(TuningSession(), secret=SECRET)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.get("/api/v1/metadata", headers=AUTH)
        assert response.status_code == 404 and "drop" in response.json()["error"]
        assert client.get("/api/v1/status", headers=AUTH).json()["state"] == "no-data"
        assert client.post("/api/v1/dataset", headers=AUTH, json={}).status_code == 409
    app.state.solver.close()


def test_the_web_app_is_served_with_its_test_hooks(client):
    page = client.get("/")
    assert page.status_code == 200
    for hook in ("tau-rise-ms", "tau-decay-ms", "lambda", "filter-enabled",
                 "export-python", "export-download"):
        assert f'data-testid="{hook}"' in page.text
    assert client.get("/vendor/uplot/uPlot.esm.js").status_code == 200
    assert client.get("/vendor/uplot/LICENSE").status_code == 200
