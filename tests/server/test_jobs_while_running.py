"""The job service while a real job runs (uvicorn, httpx, a LocalCluster with a worker process):
a symbolic link swapped in mid-run, and the state disk filling up mid-run."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import zarr

from calab.engine.service_client import ServiceCluster
from calab.server.jobs import jobs_app
from tests.server.http_support import served, wait_for

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.5, "fs": 30.0}
TERMINAL = ("succeeded", "failed", "cancelled")
N_CELLS = 60


@pytest.fixture(scope="module")
def cluster():
    os.environ.pop("DASK_SCHEDULER_ADDRESS", None)
    shared = ServiceCluster(n_workers=1)
    shared.client(timeout=60)
    yield shared
    shared.close()


class KeepOpen:
    """The module's cluster, not closed by each app's shutdown."""

    def __init__(self, cluster: ServiceCluster) -> None:
        self.inner = cluster

    def client(self, timeout: float | None = None):
        return self.inner.client(timeout)

    def status(self) -> dict:
        return self.inner.status()

    def close(self) -> None:
        pass


def make_root(path: Path) -> Path:
    path.mkdir()
    rng = np.random.default_rng(3)
    traces = rng.normal(size=(N_CELLS, 6000)).astype(np.float32) + 5.0
    zarr.create_array(store=str(path / "rec.zarr"), data=traces, chunks=(1, 6000))
    (path / "res").mkdir()
    return path


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def job_state(http, job_id: str) -> dict:
    return http.get(f"/api/v1/jobs/{job_id}").json()


def submit(http, output: str = "res/out.zarr"):
    response = http.post("/api/v1/jobs", json={
        "input": "rec.zarr", "output": output, "params": PARAMS,
        "options": {"chunk_cells": 1, "max_iters": 500, "tol": 1e-9}})
    assert response.status_code == 202, response.text
    return response.json()["id"]


@pytest.mark.parametrize("swapped", ["output", "input"])
def test_a_symlink_swapped_in_mid_run_is_never_followed(cluster, tmp_path, swapped):
    root = make_root(tmp_path / "data")
    outside = tmp_path / "outside"
    outside.mkdir()
    app = jobs_app(data_root=root, state_dir=tmp_path / "state", token=TOKEN,
                   cluster=KeepOpen(cluster), max_concurrent=1)
    with served(app, AUTH, lifespan="on") as http:
        job_id = submit(http)
        wait_for(lambda: job_state(http, job_id)["progress"]["blocks_done"] >= 2, 120,
                 "two blocks done")
        name = "res" if swapped == "output" else "rec.zarr"
        shutil.copytree(root / name, outside / name, symlinks=True)
        os.rename(root / name, root / f"{name}-old")
        os.symlink(outside / name, root / name)
        before = snapshot(outside)
        job = wait_for(lambda: (j := job_state(http, job_id))["status"] in TERMINAL and j,
                       120, "the job ended")
    assert job["status"] == "failed", job
    assert "outside the data root" in job["error"]
    assert (f"'{name}/" in job["error"]) or (f"'{name}'" in job["error"])
    assert str(root) not in job["error"] and str(outside) not in job["error"]
    assert job["progress"]["blocks_done"] < N_CELLS
    assert snapshot(outside) == before  # nothing written outside the root after the swap


@pytest.fixture
def tiny_state_disk(tmp_path):
    """A 4 MiB tmpfs for the state directory (needs root, as in CI)."""
    mount_point = tmp_path / "state"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(bytes(1 << 16))
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_state_disk_fails_the_running_job_and_frees_its_output(
        cluster, tmp_path, tiny_state_disk):
    root = make_root(tmp_path / "data")
    app = jobs_app(data_root=root, state_dir=tiny_state_disk, token=TOKEN,
                   cluster=KeepOpen(cluster), max_concurrent=1)
    with served(app, AUTH, lifespan="on") as http:
        job_id = submit(http)
        wait_for(lambda: job_state(http, job_id)["progress"]["blocks_done"] >= 2, 120,
                 "two blocks done")
        filler = fill(tiny_state_disk)
        job = wait_for(lambda: (j := job_state(http, job_id))["status"] in TERMINAL and j,
                       60, "the job ended on the full disk")
        assert job["status"] == "failed" and "state disk is full" in job["error"], job
        done_when_stopped = job["progress"]["blocks_done"]
        assert done_when_stopped < N_CELLS
        # no new work while there is no room to record it; the answer says why
        refused = http.post("/api/v1/jobs", json={"input": "rec.zarr", "output": "b.zarr",
                                                  "params": PARAMS})
        assert refused.status_code == 507 and "state disk is full" in refused.json()["error"]
        assert http.delete(f"/api/v1/jobs/{job_id}").status_code == 409  # already failed
        filler.unlink()
        # with room again the same output is free: resubmitting resumes the finished blocks
        again = submit(http)
        final = wait_for(lambda: (j := job_state(http, again))["status"] in TERMINAL and j,
                         300, "the resubmitted job ended")
    assert final["status"] == "succeeded", final
    assert final["result"]["blocks_skipped"] >= 1
    assert str(root) not in str(final["result"])
