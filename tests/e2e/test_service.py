"""End to end: `calab serve` on a real `dask scheduler` + two `dask worker` processes, over sockets.

The same topology as docker-compose.yml, as local processes on loopback: submit,
watch progress, compare with the engine run on the same input, list, cancel and
resume; faults (a worker SIGKILLed mid-job, the service SIGKILLed and restarted
mid-job); bad requests; many small jobs at once.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TOKEN = "e2e-token-0123456789abcdef"
TERMINAL = ("succeeded", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def calab_command() -> list[str]:
    """The `calab` console script next to this interpreter (what users run)."""
    script = Path(sys.executable).with_name("calab")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from calab.cli.main import main; sys.exit(main())"]


class ServiceProcess:
    """`calab serve` as a subprocess on a free loopback port."""

    def __init__(self, scheduler: str | None, data_root: Path, state_dir: Path, log_dir: Path,
                 max_concurrent: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cluster = ["--scheduler", scheduler] if scheduler else []
        self.args = [*calab_command(), "serve", "--port", str(self.port), *cluster,
                     "--data-root", str(data_root), "--state", str(state_dir),
                     "--max-concurrent", str(max_concurrent), "--log-level", "info"]
        self.log_dir = log_dir
        self.state_dir = state_dir
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        log = open(self.log_dir / f"serve-{self.starts}.log", "wb")  # noqa: SIM115
        env = {**os.environ, "CALAB_TOKEN": TOKEN}
        env.pop("DASK_SCHEDULER_ADDRESS", None)
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"calab serve exited with {self.proc.returncode}: {self.log()}")
            try:
                status, body = self.request("GET", "/api/v1/health", token=None, timeout=5)
                if status == 200 and body["cluster"]["connected"]:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"calab serve did not become healthy: {self.log()}")

    def log(self) -> str:
        return (self.log_dir / f"serve-{self.starts}.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.kill()

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = TOKEN,
                raw: bytes | None = None, declare_only: bool = False,
                timeout: float = 30) -> tuple[int, Any]:
        """One request over a fresh connection; ``(status, decoded JSON answer)``.

        ``declare_only`` sends the headers (with the body's Content-Length) but not
        the body, as a client waiting for the server's go-ahead would: a server that
        refuses the declared size answers at once. (Sending a refused body anyway
        races the server closing the connection on it.)
        """
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.putrequest(method, path)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(len(data)))
            if token is not None:
                connection.putheader("Authorization", f"Bearer {token}")
            connection.endheaders()
            if data and not declare_only:
                connection.send(data)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()

    def submit(self, body: dict) -> str:
        status, answer = self.request("POST", "/api/v1/jobs", body)
        assert status == 202, answer
        return answer["id"]

    def job(self, job_id: str) -> dict:
        status, job = self.request("GET", f"/api/v1/jobs/{job_id}")
        assert status == 200, job
        return job

    def wait(self, job_id: str, until: Any = None, timeout: float = 120.0,
             seen: list | None = None) -> dict:
        """Poll until the job ends (or ``until(job)`` holds); record progress in ``seen``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if seen is not None:
                seen.append((job["status"], job["progress"]["blocks_done"],
                             job["progress"]["blocks_total"]))
            if (until(job) if until else job["status"] in TERMINAL):
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} still {self.job(job_id)}; log: {self.log()}")


# -- fixtures ------------------------------------------------------------------------------------

PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.05, "fs": 30.0}
OPTIONS = {"chunk_cells": 8, "max_iters": 300}  # small.zarr jobs
# rec.zarr jobs: every cell runs all its iterations (the tolerance is out of reach), so
# that a job lasts long enough, however fast the machine, to be interrupted mid-way.
REC_OPTIONS = {"chunk_cells": 8, "max_iters": 1500, "tol": 1e-12}
N_CELLS, N_SMALL = 128, 8
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import zarr

    import calab

    root = tmp_path_factory.mktemp("data")
    recording = calab.simulate(num_cells=N_CELLS, duration_s=120.0, fs=30.0, seed=11)
    zarr.create_array(store=str(root / "rec.zarr"), data=recording.traces.astype("float32"),
                      chunks=(16, recording.traces.shape[1]))
    small = calab.simulate(num_cells=N_SMALL, duration_s=20.0, fs=30.0, seed=12)
    group = zarr.open_group(str(root / "small.zarr"), mode="w")
    group.create_array("traces", data=small.traces.astype("float32"))
    return root


@pytest.fixture(scope="module")
def reference(dask_cluster, data_root: Path, tmp_path_factory) -> dict:
    """The engine run on the same inputs and cluster (outside the data root)."""
    import zarr
    from distributed import Client

    from calab.engine import deconvolve_zarr

    out = tmp_path_factory.mktemp("reference")
    with Client(dask_cluster.address, set_as_default=False) as client:
        deconvolve_zarr(str(data_root / "rec.zarr"), str(out / "rec.zarr"), PARAMS,
                        client=client, **REC_OPTIONS)
        deconvolve_zarr(str(data_root / "small.zarr"), str(out / "small.zarr"), PARAMS,
                        dataset="traces", client=client, **OPTIONS)
    return {name: zarr.open_array(str(out / f"{name}.zarr" / "activity"))[:]
            for name in ("rec", "small")}


@pytest.fixture
def service(dask_cluster, data_root: Path, tmp_path: Path):
    process = ServiceProcess(dask_cluster.address, data_root, tmp_path / "state", tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def activity(data_root: Path, output: str) -> np.ndarray:
    import zarr

    return zarr.open_array(str(data_root / output / "activity"))[:]


def rec_job(output: str) -> dict:
    return {"input": "rec.zarr", "output": output, "params": PARAMS, "options": REC_OPTIONS}


def run_cli(service: ServiceProcess, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CALAB_TOKEN": TOKEN}
    return subprocess.run([*calab_command(), "jobs", "--server", service.url, *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


# -- the tests -----------------------------------------------------------------------------------


def test_submit_watch_progress_and_output_equals_engine_run(
    service: ServiceProcess, data_root: Path, reference: dict
) -> None:
    job_id = service.submit(rec_job("api/out.zarr"))
    seen: list = []
    job = service.wait(job_id, seen=seen)
    assert job["status"] == "succeeded", job
    n_blocks = N_CELLS // REC_OPTIONS["chunk_cells"]
    assert job["progress"] == {"blocks_done": n_blocks, "blocks_total": n_blocks, "fraction": 1.0}
    done = [d for _, d, _ in seen]
    assert done == sorted(done)  # progress never goes back
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    assert job["result"]["blocks_computed"] == n_blocks and job["result"]["cells"] == N_CELLS
    np.testing.assert_array_equal(activity(data_root, "api/out.zarr"), reference["rec"])

    # the command-line client: submit with --wait (progress on stderr), then list
    result = run_cli(service, "submit", "small.zarr", "--dataset", "traces", "-o", "cli.zarr",
                     "--fs", "30", "--tau-rise", "0.1", "--tau-decay", "0.6", "--lam", "0.05",
                     "--chunk-cells", "8", "--max-iters", "300", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    cli_job = json.loads(result.stdout)
    assert cli_job["status"] == "succeeded" and "1/1 blocks" in result.stderr
    np.testing.assert_array_equal(activity(data_root, "cli.zarr"), reference["small"])
    listing = json.loads(run_cli(service, "list", "--json").stdout)
    assert [j["id"] for j in listing["jobs"]] == [cli_job["id"], job_id]
    status = run_cli(service, "status", job_id)
    assert status.returncode == 0 and "succeeded" in status.stdout


def test_cancel_keeps_finished_blocks_and_resubmit_resumes(
    service: ServiceProcess, data_root: Path, reference: dict
) -> None:
    job_id = service.submit(rec_job("cancel.zarr"))
    service.wait(job_id, until=lambda j: j["progress"]["blocks_done"] >= 2)
    status, answer = service.request("DELETE", f"/api/v1/jobs/{job_id}")
    assert status in (200, 202), answer  # 200 only if it already ended as cancelled
    job = service.wait(job_id)
    assert job["status"] == "cancelled", job
    done_at_cancel = job["progress"]["blocks_done"]
    assert 2 <= done_at_cancel < job["progress"]["blocks_total"]
    cli = run_cli(service, "cancel", job_id)
    assert cli.returncode == 1 and "409" in cli.stderr  # already cancelled

    again = service.submit(rec_job("cancel.zarr"))
    job = service.wait(again)
    assert job["status"] == "succeeded", job
    assert job["result"]["blocks_skipped"] >= done_at_cancel
    assert job["result"]["blocks_computed"] == job["result"]["blocks_total"] - \
        job["result"]["blocks_skipped"]
    np.testing.assert_array_equal(activity(data_root, "cancel.zarr"), reference["rec"])


def test_worker_killed_mid_job_the_job_still_succeeds(
    service: ServiceProcess, dask_cluster, data_root: Path, reference: dict
) -> None:
    cluster = dask_cluster
    job_id = service.submit(rec_job("worker-kill.zarr"))
    job = service.wait(job_id, until=lambda j: j["progress"]["blocks_done"] >= 2)
    assert job["progress"]["blocks_done"] < job["progress"]["blocks_total"]  # really mid-job
    victim = cluster.workers[0]
    cluster.kill_worker(victim)
    cluster.workers.remove(victim)
    job = service.wait(job_id)
    assert job["status"] == "succeeded", job.get("error")
    assert job["attempts"] == 1
    np.testing.assert_array_equal(activity(data_root, "worker-kill.zarr"), reference["rec"])
    cluster.add_worker()  # back to two workers for the next tests
    cluster.wait_for_workers(2)


def test_service_killed_and_restarted_mid_job_resumes(
    service: ServiceProcess, data_root: Path, reference: dict
) -> None:
    outputs = {service.submit(rec_job(f"service-kill-{i}.zarr")): f"service-kill-{i}.zarr"
               for i in range(2)}  # max_concurrent=2: both run, a third job waits
    queued_id = service.submit({**rec_job("queued.zarr"), "input": "small.zarr",
                                "dataset": "traces", "options": OPTIONS})
    deadline = time.monotonic() + 120
    while True:  # until one of the running jobs has finished 3 blocks (Dask interleaves them)
        jobs = [service.job(job_id) for job_id in outputs]
        mid = max(jobs, key=lambda j: j["progress"]["blocks_done"])
        if mid["progress"]["blocks_done"] >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert 3 <= mid["progress"]["blocks_done"] < mid["progress"]["blocks_total"]
    assert service.job(queued_id)["status"] == "queued"
    service.kill()
    service.start()  # same state directory
    resumed_from = mid["progress"]["blocks_done"]
    job = service.wait(mid["id"], until=lambda j: j["status"] != "running" or (
        j["attempts"] == 2 and j["progress"]["blocks_done"] > resumed_from))
    if job["status"] == "running":  # a graceful stop (SIGTERM) mid-job requeues it
        service.stop()
        with sqlite3.connect(service.state_dir / "jobs.sqlite") as db:
            assert db.execute("SELECT status FROM jobs WHERE id = ?", (mid["id"],)).fetchone() \
                == ("queued",)
        service.start()
    job = service.wait(mid["id"])
    assert job["status"] == "succeeded", job
    assert job["attempts"] >= 2
    assert job["result"]["blocks_skipped"] >= resumed_from  # nothing finished is redone
    for job_id, output in outputs.items():
        assert service.wait(job_id)["status"] == "succeeded"
        np.testing.assert_array_equal(activity(data_root, output), reference["rec"])
    queued = service.wait(queued_id)
    assert queued["status"] == "succeeded" and queued["attempts"] == 1
    np.testing.assert_array_equal(activity(data_root, "queued.zarr"), reference["small"])


def test_bad_requests_get_their_4xx_and_the_service_keeps_serving(
    service: ServiceProcess, data_root: Path
) -> None:
    good = {"input": "small.zarr", "dataset": "traces", "output": "bad-then-good.zarr",
            "params": PARAMS, "options": OPTIONS}
    cases = [
        ({"body": good, "token": None}, 401, "Authorization"),
        ({"body": good, "token": "wrong-token-0123456789"}, 401, "Authorization"),
        ({"raw": b'{"input": "small.zarr",'}, 400, None),
        ({"body": {**good, "input": "../outside.zarr"}}, 403, "input"),
        ({"body": {**good, "output": "/tmp/evil.zarr"}}, 403, "output"),
        ({"body": {**good, "input": "missing.zarr"}}, 422, "input"),
        ({"body": {**good, "params": {**PARAMS, "tau_decay": -1}}}, 422, "params.tau_decay"),
        ({"body": {**good, "params": {"fs": 30.0}}}, 422, "params.tau_rise"),
        ({"raw": json.dumps({**good, "pad": "x" * (2 << 20)}).encode(), "declare_only": True},
         413, None),
    ]
    for kwargs, status, field in cases:
        code, answer = service.request("POST", "/api/v1/jobs", **kwargs)
        assert code == status, (kwargs.get("body"), answer)
        assert answer["field"] == field and answer["error"]
    assert service.request("GET", "/api/v1/jobs")[1]["total"] == 0
    assert service.request("GET", "/api/v1/health", token=None)[0] == 200
    assert service.wait(service.submit(good))["status"] == "succeeded"
    assert service.proc.poll() is None


def test_auto_params_are_suggested_run_and_recorded(
    service: ServiceProcess, data_root: Path
) -> None:
    """``"params": "auto"`` over sockets: suggested lazily, run, recorded in result and attrs."""
    import warnings

    import zarr

    import calab
    from calab.core.suggest import SuggestionWarning

    for params, field in (("autox", "params"), ({"auto": True, "fs": 0}, "params.fs"),
                          ("auto", "params.fs")):  # rec.zarr records no sampling rate
        code, answer = service.request("POST", "/api/v1/jobs", {
            "input": "rec.zarr", "output": "auto-bad.zarr", "params": params})
        assert (code, answer["field"]) == (422, field), answer
    job = service.wait(service.submit({"input": "rec.zarr", "output": "auto.zarr",
                                       "params": {"auto": True, "fs": 30.0},
                                       "options": {"chunk_cells": 32, "max_iters": 300}}))
    assert job["status"] == "succeeded", job
    record = job["result"]["suggested"]
    assert record["suggested_by"] == "calab.suggest_params"
    assert record["calab_version"] == calab.__version__ and record["reliable"] is True
    attrs = zarr.open_group(str(data_root / "auto.zarr"), mode="r").attrs["calab"]
    assert attrs["suggested"] == record
    assert {key: attrs["params"][key] for key in ("tau_rise", "tau_decay", "lambda_")} == {
        key: record[key] for key in ("tau_rise", "tau_decay", "lambda_")}
    traces = zarr.open_array(str(data_root / "rec.zarr"))[:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SuggestionWarning)
        direct = calab.suggest_params(traces, 30.0)  # the same suggestion in memory
    assert direct["tau_decay"] == record["tau_decay"] and direct["lambda_"] == record["lambda_"]
    expected = calab.run_deconvolution(traces[:4].astype(np.float64), 30.0, record["tau_rise"],
                                       record["tau_decay"], record["lambda_"], max_iters=300)
    np.testing.assert_allclose(activity(data_root, "auto.zarr")[:4], expected.astype(np.float32),
                               rtol=2e-6, atol=1e-7)
    assert activity(data_root, "auto.zarr").any()


def test_many_small_jobs_at_once_all_finish(
    service: ServiceProcess, data_root: Path, reference: dict
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    bodies = [{"input": "small.zarr", "dataset": "traces", "output": f"many/{i}.zarr",
               "params": PARAMS, "options": OPTIONS} for i in range(12)]
    with ThreadPoolExecutor(12) as pool:
        ids = list(pool.map(service.submit, bodies))
    assert len(set(ids)) == 12
    jobs = [service.wait(job_id, timeout=180) for job_id in ids]
    assert [job["status"] for job in jobs] == ["succeeded"] * 12
    for i in range(12):
        np.testing.assert_array_equal(activity(data_root, f"many/{i}.zarr"), reference["small"])
    page = service.request("GET", "/api/v1/jobs?limit=5")[1]
    assert page["total"] == 12 and len(page["jobs"]) == 5 and page["next_offset"] == 5


def test_without_a_scheduler_the_service_runs_an_embedded_cluster(
    data_root: Path, reference: dict, tmp_path: Path
) -> None:
    service = ServiceProcess(None, data_root, tmp_path / "state", tmp_path, max_concurrent=1)
    service.start(timeout=120)
    try:
        health = service.request("GET", "/api/v1/health", token=None)[1]
        assert health["cluster"]["mode"] == "embedded" and health["cluster"]["workers"] >= 1
        job_id = service.submit({"input": "small.zarr", "dataset": "traces",
                                 "output": "embedded.zarr", "params": PARAMS, "options": OPTIONS})
        assert service.wait(job_id, timeout=180)["status"] == "succeeded"
        np.testing.assert_array_equal(activity(data_root, "embedded.zarr"), reference["small"])
    finally:
        service.stop()
    # SIGTERM: uvicorn runs the shutdown (jobs requeued, embedded cluster closed), then exits
    # by re-raising the signal
    assert service.proc.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in service.log()
