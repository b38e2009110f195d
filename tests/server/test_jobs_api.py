"""The job service's HTTP API in-process (Starlette TestClient): auth, validation, listing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import zarr
from starlette.testclient import TestClient

from calab.server.jobs import jobs_app
from calab.server.jobs.openapi import openapi_document
from tests.server.http_support import StaticCluster

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.01, "fs": 30.0}


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    rng = np.random.default_rng(7)
    zarr.create_array(store=str(root / "rec.zarr"), data=rng.random((6, 50), dtype=np.float32))
    group = zarr.open_group(str(root / "group.zarr"), mode="w")
    group.create_array("traces", data=rng.random((4, 40)))
    zarr.create_array(store=str(root / "cube.zarr"), data=np.zeros((2, 3, 4)))
    (root / "sub").mkdir()
    return root


@pytest.fixture
def client(data_root: Path, tmp_path: Path):
    app = jobs_app(data_root=data_root, state_dir=data_root / ".calab-service", token=TOKEN,
                   cluster=StaticCluster(), start_runner=False, max_body_bytes=4096)
    with TestClient(app) as test_client:
        yield test_client


def submit(client: TestClient, **overrides) -> object:
    body = {"input": "rec.zarr", "output": "out.zarr", "params": PARAMS, **overrides}
    body = {k: v for k, v in body.items() if v is not None}
    return client.post("/api/v1/jobs", json=body, headers=AUTH)


def test_submit_answers_202_and_the_job_is_queued(client: TestClient) -> None:
    response = submit(client, options={"max_iters": 50, "chunk_cells": 3})
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    assert response.headers["location"] == f"/api/v1/jobs/{job_id}"
    job = client.get(f"/api/v1/jobs/{job_id}", headers=AUTH).json()
    assert job["status"] == "queued"
    assert job["input"] == "rec.zarr" and job["output"] == "out.zarr"
    assert job["params"] == {**PARAMS, "filter_enabled": False}
    assert job["options"]["max_iters"] == 50 and job["options"]["chunk_cells"] == 3
    assert job["options"]["conv_mode"] == "fft"
    assert job["progress"] == {"blocks_done": 0, "blocks_total": None, "fraction": 0.0}
    assert job["created_at"].endswith("+00:00") and job["started_at"] is None


def test_catune_export_params_are_accepted(client: TestClient) -> None:
    export = {"schema_version": "1.0.0", "parameters": {
        "tau_rise_s": 0.05, "tau_decay_s": 0.4, "lambda": 0.02, "sampling_rate_hz": 20.0,
        "filter_enabled": True}}
    response = submit(client, params=export)
    assert response.status_code == 202, response.text
    job = client.get(f"/api/v1/jobs/{response.json()['id']}", headers=AUTH).json()
    assert job["params"] == {"tau_rise": 0.05, "tau_decay": 0.4, "lambda_": 0.02, "fs": 20.0,
                             "filter_enabled": True}


def test_group_input_with_dataset(client: TestClient) -> None:
    assert submit(client, input="group.zarr", dataset="traces").status_code == 202
    response = submit(client, input="group.zarr", dataset="nope", output="o2.zarr")
    assert response.status_code == 422
    assert response.json()["field"] == "dataset"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"},
                                     {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": TOKEN}])
def test_every_route_but_health_needs_the_token(client: TestClient, headers: dict) -> None:
    for method, path in [("GET", "/api/v1/jobs"), ("POST", "/api/v1/jobs"),
                         ("GET", "/api/v1/jobs/abc"), ("DELETE", "/api/v1/jobs/abc"),
                         ("GET", "/api/v1/openapi.json")]:
        response = client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "token" in response.json()["error"]
    health = client.get("/api/v1/health", headers=headers)
    assert health.status_code == 200
    assert health.json()["cluster"]["connected"] is False


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"input": "../outside.zarr"}, 403, "input"),
        ({"input": "/etc/passwd"}, 403, "input"),
        ({"output": "sub/../../x.zarr"}, 403, "output"),
        ({"output": "/tmp/x.zarr"}, 403, "output"),
        ({"input": "missing.zarr"}, 422, "input"),
        ({"input": "cube.zarr"}, 422, "input"),
        ({"input": 5}, 422, "input"),
        ({"input": None}, 422, "input"),
        ({"output": "out.npy"}, 422, "output"),
        ({"output": "rec.zarr"}, 422, "output"),
        ({"output": "rec.zarr/inner.zarr"}, 422, "output"),
        ({"output": ".calab-service/x.zarr"}, 422, "output"),
        ({"params": {"tau_rise": 0.1, "fs": 30.0, "lambda_": 0.1}}, 422, "params.tau_decay"),
        ({"params": {**PARAMS, "tau_rise": 0.9}}, 422, "params.tau_rise"),
        ({"params": {**PARAMS, "fs": "fast"}}, 422, "params.fs"),
        ({"params": [1, 2]}, 422, "params"),
        ({"options": {"max_iters": 0}}, 422, "options.max_iters"),
        ({"options": {"max_iters": 2.5}}, 422, "options.max_iters"),
        ({"options": {"conv_mode": "direct"}}, 422, "options.conv_mode"),
        ({"options": {"chunk_cells": -1}}, 422, "options.chunk_cells"),
        ({"options": {"full": "yes"}}, 422, "options.full"),
        ({"options": {"workers": 4}}, 422, "options.workers"),
        ({"options": "fast"}, 422, "options"),
        ({"priority": 1}, 422, "priority"),
        ({"params": "autox"}, 422, "params"),
        ({"params": "auto"}, 422, "params.fs"),  # rec.zarr records no sampling rate
        ({"params": {"auto": True, "fs": 0}}, 422, "params.fs"),
        ({"params": {"auto": True, "fs": -30.0}}, 422, "params.fs"),
        ({"params": {"auto": True, "fs": "fast"}}, 422, "params.fs"),
        ({"params": {"auto": False, "fs": 30.0}}, 422, "params.auto"),
        ({"params": {"auto": True, "fs": 30.0, "tau_rise": 0.1}}, 422, "params.tau_rise"),
        ({"params": {"auto": True, "fs": 30.0, "filter_enabled": "y"}}, 422,
         "params.filter_enabled"),
        ({"params": {"auto": True, "fs": 30.0}, "options": {"tol": -1}}, 422, "options.tol"),
    ],
)
def test_bad_submissions_get_a_4xx_naming_the_field(
    client: TestClient, overrides: dict, status: int, field: str
) -> None:
    body = {"input": "rec.zarr", "output": "out.zarr", "params": PARAMS, **overrides}
    response = client.post("/api/v1/jobs", json=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert response.json()["error"]
    assert client.get("/api/v1/jobs", headers=AUTH).json()["total"] == 0


def test_auto_params_are_queued_as_auto_and_checked_against_the_input(
    client: TestClient, data_root: Path
) -> None:
    response = submit(client, params={"auto": True, "fs": 30})
    assert response.status_code == 202, response.text
    job = client.get(f"/api/v1/jobs/{response.json()['id']}", headers=AUTH).json()
    assert job["params"] == {"auto": True, "fs": 30.0, "filter_enabled": False}
    with_rate = zarr.open_group(str(data_root / "rated.zarr"), mode="w")
    with_rate.create_array("traces", data=np.ones((3, 64)))
    with_rate.attrs["fs"] = 20.0
    answer = submit(client, input="rated.zarr", dataset="traces", params="auto",
                    output="r.zarr")
    assert answer.status_code == 202, answer.text
    job = client.get(f"/api/v1/jobs/{answer.json()['id']}", headers=AUTH).json()
    assert job["params"] == {"auto": True, "fs": None, "filter_enabled": False}
    clash = submit(client, input="rated.zarr", dataset="traces", output="r2.zarr",
                   params={"auto": True, "fs": 30.0})
    assert clash.status_code == 422 and clash.json()["field"] == "params.fs"
    assert "20.0" in clash.json()["error"]


def test_missing_params_message_names_the_missing_field(client: TestClient) -> None:
    response = submit(client, params={"tau_rise": 0.1, "fs": 30.0, "lambda_": 0.1})
    assert "tau_decay" in response.json()["error"]


def test_symlink_out_of_the_data_root_is_refused(
    client: TestClient, data_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    zarr.create_array(store=str(outside / "secret.zarr"), data=np.ones((2, 10)))
    os.symlink(outside / "secret.zarr", data_root / "link.zarr")
    os.symlink(outside, data_root / "linkdir")
    assert submit(client, input="link.zarr").status_code == 403
    response = submit(client, output="linkdir/out.zarr")
    assert response.status_code == 403 and response.json()["field"] == "output"
    os.symlink(data_root / "rec.zarr", data_root / "inside.zarr")
    assert submit(client, input="inside.zarr").status_code == 202


def test_malformed_and_oversized_bodies(client: TestClient) -> None:
    cases = [
        (b"{not json", 400), (b"", 400), (b"[1, 2]", 400), (b"\xff\xfe", 400),
        (json.dumps({"input": "rec.zarr", "pad": "x" * 5000}).encode(), 413),
    ]
    for content, status in cases:
        response = client.post("/api/v1/jobs", content=content,
                               headers={**AUTH, "Content-Type": "application/json"})
        assert response.status_code == status, content[:20]
        assert response.json()["error"]
    # chunked upload without Content-Length is still cut off
    response = client.post("/api/v1/jobs", content=iter([b"{" + b" " * 3000, b" " * 3000 + b"}"]),
                           headers=AUTH)
    assert response.status_code == 413
    assert submit(client).status_code == 202


def test_same_output_twice_while_active_is_a_conflict(client: TestClient) -> None:
    first = submit(client)
    assert first.status_code == 202
    second = submit(client)
    assert second.status_code == 409 and second.json()["field"] == "output"
    client.delete(f"/api/v1/jobs/{first.json()['id']}", headers=AUTH)
    assert submit(client).status_code == 202


def test_list_is_newest_first_and_paginated(client: TestClient) -> None:
    ids = [submit(client, output=f"out{i}.zarr").json()["id"] for i in range(5)]
    page = client.get("/api/v1/jobs?limit=2", headers=AUTH).json()
    assert [job["id"] for job in page["jobs"]] == ids[::-1][:2]
    assert page["total"] == 5 and page["next_offset"] == 2
    page = client.get("/api/v1/jobs?limit=2&offset=4", headers=AUTH).json()
    assert [job["id"] for job in page["jobs"]] == [ids[0]]
    assert page["next_offset"] is None
    client.delete(f"/api/v1/jobs/{ids[1]}", headers=AUTH)
    cancelled = client.get("/api/v1/jobs?status=cancelled", headers=AUTH).json()
    assert [job["id"] for job in cancelled["jobs"]] == [ids[1]]
    for query, field in [("limit=0", "limit"), ("limit=abc", "limit"), ("offset=-1", "offset"),
                         ("status=done", "status")]:
        response = client.get(f"/api/v1/jobs?{query}", headers=AUTH)
        assert response.status_code == 422 and response.json()["field"] == field


def test_cancel_queued_job_and_cancel_twice(client: TestClient) -> None:
    job_id = submit(client).json()["id"]
    response = client.delete(f"/api/v1/jobs/{job_id}", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["finished_at"]
    again = client.delete(f"/api/v1/jobs/{job_id}", headers=AUTH)
    assert again.status_code == 409
    assert client.delete("/api/v1/jobs/nope", headers=AUTH).status_code == 404
    assert client.get("/api/v1/jobs/nope", headers=AUTH).status_code == 404


def test_unknown_routes_and_methods_answer_json(client: TestClient) -> None:
    response = client.get("/api/v1/nothing", headers=AUTH)
    assert response.status_code == 404 and "error" in response.json()
    response = client.put("/api/v1/jobs", headers=AUTH)
    assert response.status_code == 405 and "error" in response.json()


def test_openapi_document_describes_every_route(client: TestClient) -> None:
    served = client.get("/api/v1/openapi.json", headers=AUTH).json()
    assert served == json.loads(json.dumps(openapi_document()))
    assert served["openapi"].startswith("3.")
    app_routes = {(route.path, method.lower()) for route in client.app.routes
                  for method in route.methods if method != "HEAD"}
    documented = {(path, method) for path, item in served["paths"].items()
                  for method in item if method != "parameters"}
    assert app_routes == documented
    assert served["paths"]["/api/v1/health"]["get"]["security"] == []


def test_health_reports_cluster_and_queue(client: TestClient) -> None:
    submit(client)
    health = client.get("/api/v1/health").json()
    assert health["status"] == "ok"
    assert health["jobs"] == {"queued": 1, "running": 0}
    assert health["cluster"]["address"] == "tcp://198.51.100.1:8786"


def test_data_root_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="data_root"):
        jobs_app(data_root=tmp_path / "nope", state_dir=tmp_path / "s", token=TOKEN,
                 cluster=StaticCluster())
