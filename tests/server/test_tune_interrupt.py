"""Ctrl-C ends ``calab.tune()`` promptly whatever the solver is doing (a real process, SIGINT)."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np


def can_listen_on(port: int) -> bool:
    """Whether a new server can listen on ``port`` (as a restarted tune() would)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True

SCRIPT = """
import numpy as np, calab
traces = np.random.default_rng(0).normal(size=(64, 18000)) + 5.0
r = calab.tune(traces, fs=30.0, open_browser=False, max_cells=64)
print('RESULT', r, flush=True)
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks


def test_ctrl_c_during_a_long_solve_ends_tune_promptly():
    process = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
        url = urlparse(line.split("open ", 1)[1].split()[0])
        query = parse_qs(url.query)
        bridge, secret = query["bridge"][0], query["bridge_secret"][0]
        port = urlparse(bridge).port
        body = {"request_id": 1, "tau_rise": 0.1, "tau_decay": 2.0, "lambda": 0.01,
                "filter_enabled": False, "rows": list(range(64)), "start": 0, "stop": 18000}

        def solve() -> None:  # its answer never comes: the process is interrupted first
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{bridge}/api/v1/solve", content=json.dumps(body),
                           headers={"X-Bridge-Secret": secret}, timeout=120)

        threading.Thread(target=solve, daemon=True).start()
        # the solver is busy once the process has burnt two more CPU seconds
        start_cpu = cpu_seconds(process.pid)
        deadline = time.monotonic() + 60
        while cpu_seconds(process.pid) < start_cpu + 2.0:
            assert time.monotonic() < deadline, "the solve never started"
            time.sleep(0.05)
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        took = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "RESULT None" in out and "interrupted" in err
    # the solve alone takes 20-60 s here; before, the process waited for it to end
    assert took < 10.0, f"tune() took {took:.1f} s to end after Ctrl-C"
    assert can_listen_on(port)


def test_solving_in_groups_gives_the_whole_batch_result():
    from calab.core.deconvolve import deconvolve_matrix
    from calab.core.options import DeconvolutionOptions
    from calab.server.bridge_solve import SOLVE_GROUP, WindowSolver

    traces = np.random.default_rng(5).normal(size=(2 * SOLVE_GROUP + 3, 900)) + 5.0
    options = DeconvolutionOptions(fs=30.0, tau_r=0.1, tau_d=0.6, lam=0.5)
    solver = WindowSolver()
    try:
        grouped = solver._solve_in_groups(traces, options, None)
    finally:
        solver.close()
    whole = deconvolve_matrix(traces, options)
    np.testing.assert_allclose(grouped.activity, whole.activity, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(grouped.reconvolution, whole.reconvolution, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(grouped.iterations, np.asarray(whole.iterations))
