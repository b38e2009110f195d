"""`calab serve --allow-url`: jobs on object storage, confined to the shared prefixes.

A real S3 server (moto's standalone server), real `dask scheduler`/`dask worker`
processes and `calab serve` over sockets: a job reads a recording from the
bucket and writes its result into it (and one writes to the data root), equal
to the engine run; URLs outside the prefixes, with `..`, other schemes,
embedded credentials, client storage options and foreign data are refused with
the field named. The prefixes come from the environment (``CALAB_ALLOW_URLS``)
and the credentials from ``--url-storage-options``, never from the client.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")

import zarr
from s3_server import moto_server
from test_service import ServiceProcess, run_cli

import calab

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(300)]

BUCKET = "calab-service"
SHARED = f"s3://{BUCKET}/shared/"
PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.05, "fs": 30.0}
OPTIONS = {"chunk_cells": 4, "max_iters": 300}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture(scope="module")
def recording(s3):
    sim = calab.simulate(num_cells=12, duration_s=20.0, fs=30.0, seed=21)
    data = sim.traces.astype(np.float32)
    zarr.create_array(f"{SHARED}rec.zarr", data=data, chunks=(4, data.shape[1]),
                      storage_options=s3.storage_options)
    zarr.create_array(f"s3://{BUCKET}/private/rec.zarr", data=data,
                      storage_options=s3.storage_options)
    return data


@pytest.fixture
def service(dask_cluster, s3, recording, tmp_path, monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)  # the service's credentials: the flag only
    monkeypatch.setenv("CALAB_ALLOW_URLS", f"{SHARED} s3://{BUCKET}/results/")
    root = tmp_path / "data"
    root.mkdir()
    process = ServiceProcess(dask_cluster.address, root, tmp_path / "state", tmp_path)
    process.args += ["--url-storage-options", json.dumps(s3.storage_options)]
    process.start()
    try:
        yield process, root
    finally:
        process.stop()


def engine_run(data, dask_cluster, tmp_path):
    from distributed import Client

    from calab.engine import deconvolve_zarr

    local = tmp_path / "local.zarr"
    zarr.create_array(str(local), data=data, chunks=(4, data.shape[1]))
    with Client(dask_cluster.address, set_as_default=False) as client:
        deconvolve_zarr(local, tmp_path / "ref.zarr", PARAMS, client=client, **OPTIONS)
    return zarr.open_array(str(tmp_path / "ref.zarr"), path="activity", mode="r")[:]


def test_a_job_reads_from_and_writes_to_the_bucket(service, s3, recording, dask_cluster,
                                                   tmp_path):
    process, root = service
    job_id = process.submit({"input": f"{SHARED}rec.zarr", "output": f"{SHARED}out.zarr",
                             "params": PARAMS, "options": OPTIONS})
    job = process.wait(job_id)
    assert job["status"] == "succeeded", (job, process.log())
    assert job["input"] == "s3://calab-service/shared/rec.zarr"
    assert job["result"]["blocks_computed"] == 3
    expected = engine_run(recording, dask_cluster, tmp_path)
    written = zarr.open_array(f"{SHARED}out.zarr", path="activity", mode="r",
                              storage_options=s3.storage_options)[:]
    np.testing.assert_array_equal(written, expected)
    assert s3.storage_options["secret"] not in json.dumps(job)  # never in a job record

    # a URL input into the data root, and a second shared prefix as output
    mixed = process.submit({"input": f"{SHARED}rec.zarr", "output": "local.zarr",
                            "params": PARAMS, "options": OPTIONS})
    assert process.wait(mixed)["status"] == "succeeded"
    np.testing.assert_array_equal(zarr.open_array(str(root / "local.zarr" / "activity"))[:],
                                  expected)
    other = process.submit({"input": f"{SHARED}rec.zarr",
                            "output": f"s3://{BUCKET}/results/a/out.zarr", "params": PARAMS,
                            "options": OPTIONS})
    assert process.wait(other)["status"] == "succeeded"

    # the command-line client passes URLs through as given
    result = run_cli(process, "submit", f"{SHARED}rec.zarr", "-o", f"s3://{BUCKET}/results/cli.zarr",
                     "--fs", "30", "--tau-rise", "0.1", "--tau-decay", "0.6", "--lam", "0.05",
                     "--chunk-cells", "4", "--max-iters", "300", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "succeeded"
    written = zarr.open_array(f"s3://{BUCKET}/results/cli.zarr", path="activity", mode="r",
                              storage_options=s3.storage_options)[:]
    np.testing.assert_array_equal(written, expected)


def test_urls_outside_the_prefixes_are_refused_naming_the_field(service, s3, recording):
    import s3fs

    process, _ = service
    fs = s3fs.S3FileSystem(**s3.storage_options)
    fs.pipe(f"{BUCKET}/shared/taken.zarr/notes.txt", b"someone else's")
    good = {"input": f"{SHARED}rec.zarr", "output": f"{SHARED}refused.zarr", "params": PARAMS,
            "options": OPTIONS}
    cases = [
        ({"input": f"{SHARED}../private/rec.zarr"}, 403, "input", "contains '..'"),
        ({"input": f"s3://{BUCKET}/private/rec.zarr"}, 403, "input", "outside"),
        ({"output": f"s3://{BUCKET}/shared-evil/out.zarr"}, 403, "output", "outside"),
        ({"output": f"s3://{BUCKET}/sharedx.zarr"}, 403, "output", "outside"),
        ({"input": "file:///etc/rec.zarr"}, 403, "input", "outside"),
        ({"input": f"gs://{BUCKET}/shared/rec.zarr"}, 403, "input", "outside"),
        ({"input": f"s3://AKIA:topsecret@{BUCKET}/shared/rec.zarr"}, 422, "input",
         "embeds credentials"),
        ({"storage_options": {"client_kwargs": {"endpoint_url": "http://evil:9000"}}}, 422,
         "storage_options", "configured by the service"),
        ({"input": f"{SHARED}missing.zarr"}, 422, "input", "does not exist"),
        ({"output": f"{SHARED}taken.zarr"}, 409, "output", "not a calab output"),
        ({"output": f"{SHARED}rec.zarr/inner.zarr"}, 422, "output", "the input"),
        ({"output": f"{SHARED}out"}, 422, "output", ".zarr"),
    ]
    for change, status, field, text in cases:
        code, answer = process.request("POST", "/api/v1/jobs", {**good, **change})
        assert (code, answer["field"]) == (status, field), (change, answer)
        assert text in answer["error"], (change, answer)
        assert "topsecret" not in json.dumps(answer)
    assert process.request("GET", "/api/v1/jobs")[1]["total"] == 0
    assert fs.cat(f"{BUCKET}/shared/taken.zarr/notes.txt") == b"someone else's"
    assert not fs.exists(f"{BUCKET}/shared/refused.zarr")


def test_without_allowed_prefixes_no_url_is_accepted(dask_cluster, tmp_path, monkeypatch):
    monkeypatch.delenv("CALAB_ALLOW_URLS", raising=False)
    root = tmp_path / "data"
    root.mkdir()
    process = ServiceProcess(dask_cluster.address, root, tmp_path / "state", tmp_path)
    process.start()
    try:
        code, answer = process.request("POST", "/api/v1/jobs", {
            "input": f"{SHARED}rec.zarr", "output": "out.zarr", "params": PARAMS})
        assert (code, answer["field"]) == (403, "input")
        assert "prefixes this service shares (none)" in answer["error"]
    finally:
        process.stop()
    assert not Path(root / "s3:").exists()
