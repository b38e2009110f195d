"""The zarr engine on a real ``dask scheduler`` + ``dask worker`` processes on loopback.

Covers connecting by address (option and environment variable), a worker
SIGKILLed mid-run, the client SIGKILLed mid-run and the rerun that finishes
only the rest, and a full disk on the workers.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from calab.core.deconvolve import deconvolve_matrix
from calab.core.options import DeconvolutionOptions
from calab.engine import BlocksFailedError, deconvolve_zarr

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

FS, TAU_R, TAU_D, LAM = 30.0, 0.05, 0.4, 0.03
PARAMS = {"tau_rise": TAU_R, "tau_decay": TAU_D, "lambda_": LAM, "fs": FS}
PARAM_FLAGS = ["--fs", "30", "--tau-rise", "0.05", "--tau-decay", "0.4", "--lam", "0.03"]


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """24 cells x 300 s: its path and data."""
    import calab

    sim = calab.simulate(num_cells=24, duration_s=300.0, fs=FS, seed=11,
                         tau_rise_s=TAU_R, tau_decay_s=TAU_D)
    data = sim.traces.astype(np.float32)
    path = tmp_path_factory.mktemp("cluster-data") / "rec.zarr"
    zarr.create_array(str(path), data=data, chunks=(6, data.shape[1]))
    return path, data


def assert_matches_in_memory(output: Path, data: np.ndarray, chunk_cells: int) -> None:
    """The output equals the in-memory core run on the same blocks of cells."""
    activity = np.concatenate([
        deconvolve_matrix(data[i : i + chunk_cells].astype(np.float64),
                          DeconvolutionOptions(FS, TAU_R, TAU_D, LAM)).activity
        for i in range(0, data.shape[0], chunk_cells)])
    got = zarr.open_array(str(output), path="activity", mode="r")[:]
    np.testing.assert_allclose(got, activity.astype(np.float32), rtol=2e-6, atol=1e-7)
    assert (zarr.open_array(str(output), path="done", mode="r")[:] == 1).all()


def calab_cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from calab.cli import main; main()", "deconvolve", *args]


def run_cli(args: list[str], env: dict | None = None, timeout: float = 180) -> dict:
    done = subprocess.run(calab_cli(*args), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_cli_uses_scheduler_from_environment(dask_cluster, recording, tmp_path):
    store, data = recording
    summary = run_cli([str(store), *PARAM_FLAGS, "-o", str(tmp_path / "out.zarr"), "--json",
                       "--chunk-cells", "8"], env={"DASK_SCHEDULER_ADDRESS": dask_cluster.address})
    assert summary["scheduler"] == dask_cluster.address and summary["workers"] == 2
    assert summary["blocks_computed"] == summary["blocks_total"] == 3
    assert_matches_in_memory(tmp_path / "out.zarr", data, 8)


def test_worker_sigkilled_mid_run_still_completes(dask_cluster, recording, tmp_path):
    store, data = recording
    kill_one_worker, killed = dask_cluster.worker_killer(after_blocks=2)
    with dask_cluster.client() as client:
        summary = deconvolve_zarr(store, tmp_path / "out.zarr", PARAMS, client=client,
                                  chunk_cells=2, progress=kill_one_worker)
    assert killed, "the run ended before a worker could be killed"
    assert summary["blocks_computed"] == summary["blocks_total"] == 12
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    assert_matches_in_memory(tmp_path / "out.zarr", data, 2)
    dask_cluster.wait_for_workers(2)  # the nanny restarted the killed worker


def test_client_killed_mid_run_then_rerun_computes_only_the_rest(dask_cluster, recording,
                                                                  tmp_path):
    store, data = recording
    out = tmp_path / "out.zarr"
    args = [str(store), *PARAM_FLAGS, "-o", str(out), "--json", "--chunk-cells", "1",
            "--scheduler", dask_cluster.address]
    client = subprocess.Popen(calab_cli(*args), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # killed: its output is not read
    try:
        finished = dask_cluster.wait_for_done_blocks(out, at_least=3, timeout=120)
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait(10)
    assert 3 <= finished < 24, "the first run should be killed part-way"
    time.sleep(1.0)  # let blocks already running on the workers finish (they stay valid)
    before = int((zarr.open_array(str(out), path="done", mode="r")[:] == 1).sum())
    summary = run_cli(args)
    assert summary["blocks_total"] == 24
    assert summary["blocks_skipped"] >= before >= 3
    assert summary["blocks_computed"] == 24 - summary["blocks_skipped"] > 0
    assert_matches_in_memory(out, data, 1)


def test_unreachable_scheduler_is_a_clear_error(recording, tmp_path, monkeypatch,
                                                unused_address):
    from calab.engine import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    store, _ = recording
    address = unused_address
    with pytest.raises(OSError, match=f"cannot reach the Dask scheduler at scheduler='{address}'"):
        deconvolve_zarr(store, tmp_path / "out.zarr", PARAMS, scheduler=address)


def _limit_file_size() -> None:
    limit = 64 * 1024  # bytes: every (dense) reconvolution chunk of the test is larger
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_full_disk_on_workers_marks_no_block_done(recording, tmp_path,
                                                 process_cluster_factory):
    """Workers that cannot write (file-size limit: EFBIG, like ENOSPC) fail every block."""
    store, _ = recording
    out = tmp_path / "out.zarr"
    failure = r"3 of 3 blocks failed.*(File too large|No space)"
    with process_cluster_factory(tmp_path / "limited", n_workers=1, warm=False,
                                 worker_preexec=_limit_file_size) as limited, \
            limited.client() as client, pytest.raises(BlocksFailedError, match=failure):
        deconvolve_zarr(store, out, PARAMS, client=client, chunk_cells=10, full=True)
    assert (zarr.open_array(str(out), path="done", mode="r")[:] == 0).all()
