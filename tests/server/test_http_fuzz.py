"""Random JSON thrown at both HTTP apps (in-process ASGI): never a 500, always the one error body.

The named bad inputs go over a real socket in test_jobs_bad_inputs.py and
test_bridge_bad_inputs.py; here hypothesis looks for the ones nobody named.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from calab.server.bridge import bridge_app
from calab.server.bridge_session import TuningSession, load_dataset
from calab.server.jobs import jobs_app
from tests.server.http_support import StaticCluster

TOKEN = "test-token-0123456789abcdef"
SECRET = "test-secret-123"
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

numbers = st.one_of(
    st.integers(), st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=False, allow_infinity=False), st.just(0), st.just(-1), st.just(1e308),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20),
                    st.sampled_from(["0.1", "fft", "nonneg", "rec.zarr", "out.zarr", "../x.zarr",
                                     "/etc/passwd", "a" * 300, "rec.zarr/x.zarr", "\ud800"]))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


def keyed(keys: list[str]) -> st.SearchStrategy:
    """Objects with (some of) the route's own keys, plus the odd stranger."""
    return st.dictionaries(st.sampled_from([*keys, "extra", "\udc80"]), json_values,
                           max_size=len(keys) + 1)


def encoded(value) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


def check(response) -> None:
    assert response.status_code < 500 or response.status_code == 507, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["error"], str) and body["error"] and "field" in body


@pytest.fixture(scope="module")
def jobs_client(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "data"
    root.mkdir()
    zarr.create_array(store=str(root / "rec.zarr"),
                      data=np.random.default_rng(1).random((4, 200), dtype=np.float32))
    (root / "file.txt").write_text("x")
    app = jobs_app(data_root=root, state_dir=Path(root) / ".state", token=TOKEN,
                   cluster=StaticCluster(), start_runner=False)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


@pytest.fixture(scope="module")
def bridge_client():
    traces = np.random.default_rng(2).normal(size=(3, 600)) + 5.0
    app = bridge_app(TuningSession(load_dataset(traces, 30.0)), secret=SECRET, web_root=None)
    with TestClient(app, base_url="http://127.0.0.1",
                    headers={"X-Bridge-Secret": SECRET}) as client:
        yield client
    app.state.solver.close()


SUBMISSION_KEYS = ["input", "output", "dataset", "params", "options"]
PARAM_KEYS = ["tau_rise", "tau_decay", "lambda_", "lambda", "fs", "filter_enabled"]
OPTION_KEYS = ["full", "conv_mode", "max_iters", "chunk_cells", "constraint", "tol"]


@FUZZ
@given(body=st.one_of(json_values, keyed(SUBMISSION_KEYS)))
def test_job_submissions_never_500(jobs_client, body):
    check(jobs_client.post("/api/v1/jobs", content=encoded(body)))


@FUZZ
@given(params=keyed(PARAM_KEYS), options=st.one_of(st.none(), keyed(OPTION_KEYS)),
       output=st.one_of(st.text(max_size=40), st.sampled_from(["o.zarr", "file.txt/o.zarr"])))
def test_job_parameters_never_500(jobs_client, params, options, output):
    body = {"input": "rec.zarr", "output": output, "params": params}
    if options is not None:
        body["options"] = options
    check(jobs_client.post("/api/v1/jobs", content=encoded(body)))


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["limit", "offset", "status"]),
                             st.text(max_size=30), max_size=3))
def test_job_listing_never_500(jobs_client, query):
    check(jobs_client.get("/api/v1/jobs", params=query))


@FUZZ
@given(body=st.one_of(json_values, keyed(PARAM_KEYS)))
def test_bridge_params_never_500(bridge_client, body):
    check(bridge_client.post("/api/v1/params", content=encoded(body)))


SOLVE_KEYS = ["request_id", "tau_rise", "tau_decay", "lambda", "filter_enabled", "rows",
              "cells", "start", "stop", "session", "draft", "margin"]


@FUZZ
@given(body=st.one_of(json_values, keyed(SOLVE_KEYS)))
def test_bridge_solve_never_500(bridge_client, body):
    check(bridge_client.post("/api/v1/solve", content=encoded(body)))


@FUZZ
@given(body=st.one_of(json_values, keyed(["key", "fs", "transpose"])))
def test_bridge_dataset_never_500(bridge_client, body):
    buffer = io.BytesIO()
    np.savez(buffer, a=np.ones((2, 50)), b=np.ones(3))
    bridge_client.post("/api/v1/upload?name=f.npz", content=buffer.getvalue())
    check(bridge_client.post("/api/v1/dataset", content=encoded(body)))


@FUZZ
@given(data=st.binary(max_size=300))
def test_bridge_upload_never_500(bridge_client, data):
    for prefix in (b"", b"PK\x03\x04", b"\x93NUMPY\x01\x00"):
        check(bridge_client.post("/api/v1/upload?name=x", content=prefix + data))
