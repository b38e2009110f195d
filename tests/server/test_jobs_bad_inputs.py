"""Bad inputs to the job service, over a real socket (uvicorn + httpx): each a 4xx naming the
field, answered at submission, with nothing recorded and no server path in the answer."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from calab.server.jobs import jobs_app
from tests.server.http_support import StaticCluster, served

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.01, "fs": 30.0}
HUGE = 10**400


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    rng = np.random.default_rng(7)
    zarr.create_array(store=str(root / "rec.zarr"), data=rng.random((6, 300), dtype=np.float32))
    zarr.create_array(store=str(root / "other.zarr"), data=rng.random((6, 300), dtype=np.float32))
    (root / "notes.txt").write_text("a regular file")
    return root


@pytest.fixture
def client(data_root: Path):
    app = jobs_app(data_root=data_root, state_dir=data_root / ".calab-service", token=TOKEN,
                   cluster=StaticCluster(), start_runner=False)
    with served(app, AUTH) as http:
        yield http


def post_raw(client, text: str):
    return client.post("/api/v1/jobs", content=text.encode("utf-8", "surrogatepass"),
                       headers={"Content-Type": "application/json"})


def submit(client, **overrides):
    body = {"input": "rec.zarr", "output": "out.zarr", "params": PARAMS, **overrides}
    # json.dumps writes Python ints of any size, as a client in another language would
    return post_raw(client, json.dumps(body))


def assert_refused(response, status: int | tuple[int, ...], field: str | None, root: Path):
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.text
    body = response.json()
    assert set(body) == {"error", "field"} and body["error"]
    assert body["field"] == field, body
    assert str(root) not in response.text  # never the server's absolute path


def assert_nothing_recorded(client, data_root: Path) -> None:
    assert client.get("/api/v1/jobs").json()["total"] == 0
    assert not (data_root / "out.zarr").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"params": {**PARAMS, "fs": HUGE}}, "params.fs"),
        ({"params": {**PARAMS, "lambda_": HUGE}}, "params.lambda_"),
        ({"params": {**PARAMS, "tau_decay": HUGE}}, "params.tau_decay"),
        ({"options": {"tol": HUGE}}, "options.tol"),
        ({"options": {"max_iters": HUGE}}, "options.max_iters"),
        ({"params": {**PARAMS, "tau_decay": 1e300}}, "params.tau_decay"),
        ({"params": {**PARAMS, "tau_decay": "0.6"}}, "params.tau_decay"),
        ({"params": {**PARAMS, "tau_decay": True}}, "params.tau_decay"),
    ],
)
def test_unrepresentable_parameters_are_422_naming_the_field(client, data_root, overrides, field):
    assert_refused(submit(client, **overrides), 422, field, data_root)
    assert_nothing_recorded(client, data_root)


def test_a_decay_longer_than_the_input_is_refused_at_once(client, data_root):
    began = time.perf_counter()
    response = submit(client, params={**PARAMS, "tau_decay": 1e5})  # a 4e7-tap kernel
    assert time.perf_counter() - began < 5.0
    assert_refused(response, 422, "params.tau_decay", data_root)
    assert "seconds" in response.json()["error"]
    # ... and a decay too long for this 300-sample input, though a fine kernel otherwise
    response = submit(client, params={**PARAMS, "tau_decay": 20.0})
    assert_refused(response, 422, "params.tau_decay", data_root)
    assert_nothing_recorded(client, data_root)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "levels deep"),
        ('{"input": "rec.zarr", "deep": ' + "[" * 40 + "]" * 40 + "}", "levels deep"),
        ('{"input": ' + "9" * 5000 + "}", "digits"),
        ('{"input": 1e400}', "too large"),
        ('{"input": NaN}', "NaN"),
        ('{"input": "rec.zarr", "output": "\\ud800.zarr", "params": {}}', "surrogate"),
        ('{"\\udfff": 1}', "surrogate"),
        ('[1, 2]', "JSON object"),
        ('"rec.zarr"', "JSON object"),
    ],
)
def test_hostile_bodies_are_400(client, data_root, text, fragment):
    response = post_raw(client, text)
    assert_refused(response, 400, None, data_root)
    assert fragment in response.json()["error"]
    assert_nothing_recorded(client, data_root)


def test_unknown_fields_are_refused_by_name(client, data_root):
    assert_refused(submit(client, priority=1), 422, "priority", data_root)
    assert_refused(submit(client, params={**PARAMS, "speed": 2}), 422, "params.speed", data_root)


@pytest.mark.parametrize("offset", [str(2**64), "9" * 5000, "-1", "1e3"])
def test_offsets_beyond_64_bits_are_422(client, data_root, offset):
    response = client.get("/api/v1/jobs", params={"offset": offset})
    assert_refused(response, 422, "offset", data_root)


def test_symlink_loop_and_long_names_as_input(client, data_root):
    os.symlink("loop-b.zarr", data_root / "loop-a.zarr")
    os.symlink("loop-a.zarr", data_root / "loop-b.zarr")
    assert_refused(submit(client, input="loop-a.zarr"), 422, "input", data_root)
    assert_refused(submit(client, input="x" * 256), 422, "input", data_root)
    assert_refused(submit(client, input="x" * 251 + ".zarr"), 422, "input", data_root)
    assert_nothing_recorded(client, data_root)


@pytest.mark.parametrize(
    ("output", "status"),
    [
        ("o" * 251 + ".zarr", 422),           # a 256-character name
        ("notes.txt/out.zarr", 422),          # under a regular file
        ("other.zarr", 409),                  # an existing store that is not a calab output
        ("other.zarr/inner.zarr", 422),       # inside an existing store
        ("rec.zarr", 422),                    # the input itself
    ],
)
def test_outputs_that_would_lose_data_or_fail_later_are_refused(client, data_root, output,
                                                                 status):
    before = sorted(p.name for p in (data_root / "other.zarr").iterdir())
    assert_refused(submit(client, output=output), status, "output", data_root)
    assert sorted(p.name for p in (data_root / "other.zarr").iterdir()) == before
    assert client.get("/api/v1/jobs").json()["total"] == 0


def test_one_directory_under_two_names_is_one_output(client, data_root):
    (data_root / "results").mkdir()
    os.symlink("results", data_root / "alias")
    first = submit(client, output="results/out.zarr")
    assert first.status_code == 202, first.text
    second = submit(client, output="alias/out.zarr")
    assert_refused(second, 409, "output", data_root)
    assert first.json()["id"] in second.json()["error"]
    # writing into the store another queued job reads is refused too
    assert_refused(submit(client, input="results/out.zarr", output="b.zarr"), (409, 422),
                   "input", data_root)
    assert client.get("/api/v1/jobs").json()["total"] == 1


def test_unexpected_errors_are_500_without_internals(data_root):
    class BrokenCluster(StaticCluster):
        def status(self) -> dict:
            raise RuntimeError(f"secret internals at {data_root}")

    app = jobs_app(data_root=data_root, state_dir=data_root / ".calab-service", token=TOKEN,
                   cluster=BrokenCluster(), start_runner=False)
    with served(app, AUTH) as http:
        response = http.get("/api/v1/health")
    assert response.status_code == 500
    assert response.json()["field"] is None
    assert "internals" not in response.text and str(data_root) not in response.text


@pytest.mark.parametrize("fs", [1e300, 1e6, 1e-300, 0.01])
def test_auto_fs_outside_plausible_rates_is_refused_at_submission(client, data_root, fs):
    response = submit(client, params={"auto": True, "fs": fs})
    assert_refused(response, 422, "params.fs", data_root)
    assert "plausible sampling rate" in response.json()["error"]
    assert_nothing_recorded(client, data_root)


def test_auto_on_too_short_input_is_refused_at_submission(client, data_root):
    zarr.create_array(store=str(data_root / "short.zarr"),
                      data=np.ones((3, 10), dtype=np.float32), attributes={"fs": 30.0})
    response = submit(client, input="short.zarr", params="auto")
    assert_refused(response, 422, "input", data_root)
    assert "10 samples per cell" in response.json()["error"] and "32" in response.json()["error"]
    assert_nothing_recorded(client, data_root)


def test_nan_policy_is_a_service_option(client, data_root):
    bad = submit(client, options={"nan_policy": "fill"})
    assert_refused(bad, 422, "options.nan_policy", data_root)
    assert "'raise', 'interpolate'" in bad.json()["error"]
    assert_nothing_recorded(client, data_root)
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert schema["Options"]["properties"]["nan_policy"]["enum"] == ["raise", "interpolate"]


def test_auto_job_with_nan_gaps_runs_with_nan_policy_interpolate(client, data_root):
    from calab import simulate
    from calab.server.jobs.executor import engine_executor

    traces = np.asarray(simulate(num_cells=4, duration_s=60.0, fs=30.0, seed=3).traces)
    traces[:, 100:104] = np.nan
    zarr.create_array(store=str(data_root / "gaps.zarr"), data=traces, attributes={"fs": 30.0})
    answer = submit(client, input="gaps.zarr", params="auto",
                    options={"nan_policy": "interpolate"})
    assert answer.status_code == 202, answer.text
    job = client.get(f"/api/v1/jobs/{answer.json()['id']}").json()
    assert job["options"]["nan_policy"] == "interpolate"

    class LocalCluster:  # no shared cluster: the engine starts its own for the run
        def client(self):
            return None

    summary = engine_executor(LocalCluster(), data_root)(job, lambda *_: None, lambda: False)
    assert summary
    activity = zarr.open_group(str(data_root / "out.zarr"), mode="r")["activity"][:]
    assert activity.shape == traces.shape and np.isfinite(activity).all()


@pytest.mark.parametrize("rate", ["thirty", -30, True])
def test_auto_on_input_with_invalid_rate_says_so(client, data_root, rate):
    zarr.create_array(store=str(data_root / "bad-rate.zarr"),
                      data=np.ones((3, 64), dtype=np.float32), attributes={"fs": rate})
    response = submit(client, input="bad-rate.zarr", params="auto")
    assert_refused(response, 422, "params.fs", data_root)
    error = response.json()["error"]
    assert "invalid sampling rate" in error and f"fs={rate!r}" in error
    assert "records no sampling rate" not in error
    assert_nothing_recorded(client, data_root)
