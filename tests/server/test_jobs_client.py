"""`calab jobs` (the client) against a real `jobs_app` served by uvicorn on a loopback socket.

The runner is not started here, so jobs stay queued: these tests cover the client's
requests, output and errors; running jobs end to end is tests/e2e/test_service.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import uvicorn
import zarr
from click.testing import CliRunner

from calab.cli.main import main
from calab.engine.service_client import ServiceCluster
from calab.server.jobs import jobs_app

TOKEN = "client-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "data"
    root.mkdir()
    zarr.create_array(store=str(root / "rec.zarr"), data=np.ones((4, 30), dtype=np.float32))
    # long enough (>= 32 samples per cell) for "params": "auto"
    zarr.create_array(store=str(root / "long.zarr"), data=np.ones((4, 64), dtype=np.float32))
    unreachable = ServiceCluster(f"tcp://127.0.0.1:{free_port()}", connect_timeout=0.5)
    app = jobs_app(data_root=root, state_dir=tmp_path / "state", token=TOKEN,
                   cluster=unreachable, start_runner=False)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    monkeypatch.setenv("CALAB_TOKEN", TOKEN)
    monkeypatch.setenv("CALAB_SERVER", f"http://127.0.0.1:{port}")
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


def calab_jobs(*args: str):
    return CliRunner().invoke(main, ["jobs", *args], catch_exceptions=False)


FLAT = ["--fs", "30", "--tau-rise", "0.1", "--tau-decay", "0.6", "--lam", "0.05"]


def test_submit_status_list_cancel(server: str, tmp_path: Path) -> None:
    result = calab_jobs("submit", "rec.zarr", "-o", "out.zarr", *FLAT, "--max-iters", "50",
                        "--json")
    assert result.exit_code == 0, result.output
    job_id = json.loads(result.output)["id"]
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"schema_version": "1.0.0", "parameters": {
        "tau_rise_s": 0.1, "tau_decay_s": 0.5, "lambda": 0.1, "sampling_rate_hz": 20.0}}))
    result = calab_jobs("submit", "rec.zarr", "-o", "out2.zarr", "--params", str(export))
    assert result.exit_code == 0 and "queued" in result.output
    second = result.output.split()[1]

    status = json.loads(calab_jobs("status", job_id, "--json").output)
    assert status["status"] == "queued" and status["options"]["max_iters"] == 50
    assert status["params"]["lambda_"] == 0.05
    assert "queued" in calab_jobs("status", second).output

    listing = json.loads(calab_jobs("list", "--json").output)
    assert [j["id"] for j in listing["jobs"]] == [second, job_id]
    assert [j["id"] for j in json.loads(calab_jobs("list", "--limit", "1", "--json")
                                        .output)["jobs"]] == [second]

    assert "cancelled" in calab_jobs("cancel", job_id).output
    result = calab_jobs("cancel", job_id)
    assert result.exit_code == 1 and "HTTP 409" in result.output
    result = calab_jobs("status", job_id, "--wait")
    assert result.exit_code == 1 and "cancelled" in result.output  # ended, not succeeded


def test_server_errors_are_reported_with_status_and_field(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = calab_jobs("submit", "../x.zarr", "-o", "out.zarr", *FLAT)
    assert result.exit_code == 1
    assert "HTTP 403" in result.output and "(field: input)" in result.output
    result = calab_jobs("submit", "rec.zarr", "-o", "out.zarr", *FLAT, "--nan-policy",
                        "interpolate", "--json")
    assert result.exit_code == 0, result.output  # the service runs short NaN gaps filled
    status = json.loads(calab_jobs("status", json.loads(result.output)["id"], "--json").output)
    assert status["options"]["nan_policy"] == "interpolate"
    monkeypatch.setenv("CALAB_TOKEN", "wrong-token-0123456789")
    result = calab_jobs("list")
    assert result.exit_code == 1 and "HTTP 401" in result.output and "CALAB_TOKEN" in result.output


def test_submit_params_auto(server: str) -> None:
    result = calab_jobs("submit", "long.zarr", "-o", "auto.zarr", "--params", "auto", "--fs",
                        "30", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(calab_jobs("status", json.loads(result.output)["id"], "--json").output)
    assert status["params"] == {"auto": True, "fs": 30.0, "filter_enabled": False}
    result = calab_jobs("submit", "long.zarr", "-o", "auto2.zarr", "--params", "auto")
    assert result.exit_code == 1 and "(field: params.fs)" in result.output  # long.zarr has none
    result = calab_jobs("submit", "long.zarr", "-o", "auto2.zarr", "--params", "auto", "--fs",
                        "30", "--lam", "1")
    assert result.exit_code == 2 and "leave out --lam" in result.output
    result = calab_jobs("submit", "rec.zarr", "-o", "auto3.zarr", "--params", "auto", "--fs",
                        "30")  # 30 samples per cell: refused at submission, not at run time
    assert result.exit_code == 1 and "(field: input)" in result.output
    assert "30 samples per cell" in result.output


def test_parameter_flags_are_checked_before_any_request(tmp_path: Path) -> None:
    result = calab_jobs("--server", "http://127.0.0.1:9", "submit", "rec.zarr", "-o", "o.zarr",
                        "--fs", "30", "--tau-rise", "0.9", "--tau-decay", "0.6", "--lam", "1")
    assert result.exit_code == 2 and "Error: options: tau_rise=0.9 must be smaller" in (
        result.output)
    result = calab_jobs("--server", "http://127.0.0.1:9", "submit", "rec.zarr", "-o", "o.zarr",
                        "--fs", "30")
    assert result.exit_code == 2 and "--tau-rise" in result.output and "--lam" in result.output
    export = tmp_path / "e.json"
    export.write_text("{}")
    result = calab_jobs("--server", "http://127.0.0.1:9", "submit", "rec.zarr", "-o", "o.zarr",
                        "--params", str(export), "--fs", "30")
    assert result.exit_code == 2 and "either --params" in result.output


def test_unreachable_server_is_a_clear_error() -> None:
    result = calab_jobs("--server", f"http://127.0.0.1:{free_port()}", "list")
    assert result.exit_code == 1 and "cannot reach the job service" in result.output


def test_server_and_token_file_after_the_subcommand(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALAB_TOKEN")
    monkeypatch.setenv("CALAB_SERVER", f"http://127.0.0.1:{free_port()}")  # wrong on purpose
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    result = calab_jobs("list", "--server", server, "--token-file", str(token_file), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == 0
    result = calab_jobs("list", "--server", server)
    assert result.exit_code == 1 and "HTTP 401" in result.output


def test_health_reports_unreachable_scheduler_quickly(server: str) -> None:
    import urllib.request

    for attempt in range(2):
        began = time.monotonic()
        with urllib.request.urlopen(f"{server}/api/v1/health", timeout=10) as response:
            health = json.loads(response.read())
        assert health["cluster"]["connected"] is False and health["cluster"]["error"]
        if attempt == 1:  # the failure is remembered: no new connection attempt
            assert time.monotonic() - began < 0.5
