"""tune() and the bridge on a real socket: export, timeout, heartbeat loss, Ctrl-C, busy port."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest

import calab
from calab.server import bridge_session
from calab.server.bridge_server import PortInUseError
from calab.server.bridge_session import load_dataset
from calab.server.tune import TuningRun, app_link

CALAB = [sys.executable, "-c", "from calab.cli import main; main()"]


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port``: a server could bind it again.

    SO_REUSEADDR as every server sets it (uvicorn too): connections the bridge
    closed may linger in TIME_WAIT, which does not stop a new server; a
    listening socket left behind does.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class UrlCatcher(logging.Handler):
    """Collects the app URL that tune() logs on the ``calab.tune`` logger."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.urls: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.urls.append(record.args[0])

    def wait(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while not self.urls:
            assert time.monotonic() < deadline, "tune() never announced its URL"
            time.sleep(0.02)
        return self.urls[-1]


@pytest.fixture
def url_catcher():
    logger = logging.getLogger("calab.tune")
    catcher = UrlCatcher()
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(catcher)
    yield catcher
    logger.removeHandler(catcher)
    logger.setLevel(old_level)


def run_in_thread(function, *args, **kwargs):
    box: dict = {}

    def target():
        try:
            box["result"] = function(*args, **kwargs)
        except BaseException as error:  # re-raised in the test
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def split_url(url: str) -> tuple[str, str]:
    query = httpx.URL(url).params
    return query["bridge"], query["bridge_secret"]


def test_app_link_shape():
    link = app_link("http://127.0.0.1:5000/", "http://127.0.0.1:5000", "a+b/c")
    assert link == ("http://127.0.0.1:5000/?bridge=http%3A%2F%2F127.0.0.1%3A5000"
                    "&bridge_secret=a%2Bb%2Fc")
    assert app_link("https://x.org/app?x=1", "b", "s").startswith("https://x.org/app?x=1&bridge=")


def test_tune_returns_what_a_client_posts_and_frees_the_port(rng, url_catcher):
    port = free_port()
    traces = rng.normal(size=(3, 600))
    thread, box = run_in_thread(calab.tune, traces, fs=20.0, port=port, open_browser=False,
                                timeout=60)
    url = url_catcher.wait()
    bridge, secret = split_url(url)
    assert bridge == f"http://127.0.0.1:{port}" and len(secret) >= 32
    assert url.startswith(f"http://127.0.0.1:{port}/?bridge=")
    with httpx.Client(base_url=bridge, headers={"X-Bridge-Secret": secret}) as client:
        assert client.get("/api/v1/metadata").json()["num_cells"] == 3
        assert httpx.get(f"{bridge}/api/v1/metadata").status_code == 401
        assert httpx.get(f"{bridge}/").status_code == 200
        posted = {"tau_rise": 0.02, "tau_decay": 0.3, "lambda": 0.75, "fs": 20.0,
                  "filter_enabled": True}
        assert client.post("/api/v1/params", json=posted).status_code == 200
    thread.join(20)
    assert box == {"result": {"tau_rise": 0.02, "tau_decay": 0.3, "lambda_": 0.75, "fs": 20.0,
                              "filter_enabled": True}}
    assert port_is_free(port)


def test_secret_differs_between_runs(rng):
    dataset = load_dataset(rng.normal(size=(2, 100)), 10.0)
    with TuningRun(dataset) as first, TuningRun(dataset) as second:
        assert first.secret != second.secret
        assert first.server.port != second.server.port


def test_timeout_returns_none_and_frees_the_port(rng, capsys):
    port = free_port()
    began = time.monotonic()
    result = calab.tune(rng.normal(size=(2, 300)), fs=10.0, timeout=0.5, port=port,
                        open_browser=False)
    assert result is None
    assert 0.5 <= time.monotonic() - began < 10
    assert port_is_free(port)
    assert "no export within 0.5 s" in capsys.readouterr().err


def test_lost_heartbeat_returns_none_and_frees_the_port(rng, monkeypatch, url_catcher):
    assert bridge_session.HEARTBEAT_TIMEOUT_S == 10.0  # the documented value
    monkeypatch.setattr(bridge_session, "HEARTBEAT_TIMEOUT_S", 2.0)
    port = free_port()
    thread, box = run_in_thread(calab.tune, rng.normal(size=(2, 300)), fs=10.0, port=port,
                                open_browser=False, timeout=60)
    bridge, secret = split_url(url_catcher.wait())
    beats = 0
    for _ in range(3):  # a live page keeps the session open
        response = httpx.post(f"{bridge}/api/v1/heartbeat", headers={"X-Bridge-Secret": secret})
        assert response.status_code == 200
        beats += 1
        time.sleep(0.3)
    assert thread.is_alive() and beats == 3
    thread.join(15)  # the page goes silent
    assert not thread.is_alive() and box == {"result": None}
    assert port_is_free(port)


def test_ctrl_c_returns_none_and_frees_the_port(tmp_path):
    port = free_port()
    script = (
        "import numpy as np, calab\n"
        f"r = calab.tune(np.random.default_rng(0).normal(size=(2, 300)), fs=10.0, port={port},"
        " open_browser=False)\n"
        "print('RESULT', r, flush=True)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
        assert f"http://127.0.0.1:{port}/" in line, line
        assert not port_is_free(port)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "RESULT None" in out
    assert "interrupted" in err
    assert port_is_free(port)


def test_port_in_use_gives_a_clear_error(rng):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} is already in use"):
            calab.tune(rng.normal(size=(2, 100)), fs=10.0, port=port, open_browser=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"fs": -1.0}, ValueError, "fs"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"port": 70000}, ValueError, "port"),
        ({"cells": [0, 99]}, ValueError, "cells"),
        ({"max_cells": 0}, ValueError, "max_cells"),
    ],
)
def test_bad_arguments_fail_before_serving(rng, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        calab.tune(rng.normal(size=(3, 100)), **{"fs": 10.0, "open_browser": False, **kwargs})


def test_cli_tune_exits_1_when_nothing_is_exported(tmp_path, rng):
    path = tmp_path / "rec.npy"
    np.save(path, rng.normal(size=(3, 400)))
    result = subprocess.run(
        [*CALAB, "tune", str(path), "--no-browser", "--timeout", "0.5",
         "--fs", "20"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "http://127.0.0.1:" in result.stderr and "bridge_secret=" in result.stderr


def test_cli_tune_rejects_a_missing_input(tmp_path):
    result = subprocess.run(
        [*CALAB, "tune", str(tmp_path / "nope.npy"), "--no-browser"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_cli_app_prints_the_export(tmp_path):
    process = subprocess.Popen(
        [*CALAB, "app", "--no-browser", "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stderr.readline()
        bridge, secret = split_url(line.split("open ", 1)[1].strip())
        response = httpx.post(f"{bridge}/api/v1/params", headers={"X-Bridge-Secret": secret},
                              json={"tau_rise": 0.1, "tau_decay": 0.7, "lambda": 3, "fs": 9})
        assert response.status_code == 200
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert json.loads(out) == {"tau_rise": 0.1, "tau_decay": 0.7, "lambda_": 3.0, "fs": 9.0,
                               "filter_enabled": False}


def test_cli_tune_reads_a_zarr_store_and_its_sampling_rate(tmp_path, rng):
    import zarr

    store = tmp_path / "rec.zarr"
    array = zarr.create_array(store=str(store), shape=(300, 500), chunks=(50, 500),
                              dtype="float32")
    array[:] = rng.normal(size=(300, 500)).astype(np.float32)
    array.attrs["sampling_rate_hz"] = 12.5
    process = subprocess.Popen(
        [*CALAB, "tune", str(store), "--no-browser", "--timeout", "60", "--max-cells", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        bridge, secret = split_url(process.stderr.readline().split("open ", 1)[1].strip())
        headers = {"X-Bridge-Secret": secret}
        meta = httpx.get(f"{bridge}/api/v1/metadata", headers=headers).json()
        assert meta["sampling_rate_hz"] == 12.5
        assert meta["num_cells"] == 5 and meta["total_cells"] == 300
        assert max(meta["cell_indices"]) >= 150  # spread over the store, not the first rows
        httpx.post(f"{bridge}/api/v1/params", headers=headers,
                   json={"tau_rise": 0.05, "tau_decay": 0.5, "lambda": 1, "fs": 12.5})
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert json.loads(out)["fs"] == 12.5
