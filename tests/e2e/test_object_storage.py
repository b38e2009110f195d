"""Recordings on object storage: a real S3 server (moto, standalone) and real Dask processes.

A recording in a bucket is deconvolved into the bucket by ``dask scheduler`` /
``dask worker`` processes; a worker is SIGKILLed mid-run; a client killed
mid-run is rerun and computes only the unfinished blocks; the outputs equal
the same run on local disk. Credentials reach the run as ``storage_options``
(API), ``--storage-options`` JSON and the standard ``AWS_*`` variables (CLI).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")

import zarr
from s3_server import moto_server

import calab
from calab.engine import deconvolve_zarr

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

FS, PARAMS = 30.0, {"tau_rise": 0.05, "tau_decay": 0.4, "lambda_": 0.03, "fs": 30.0}
FLAGS = ["--fs", "30", "--tau-rise", "0.05", "--tau-decay", "0.4", "--lam", "0.03"]
CELLS = 12


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="module")
def recording(s3, tmp_path_factory):
    """The same recording in a bucket and on local disk, and the local run's activity."""
    sim = calab.simulate(num_cells=CELLS, duration_s=120.0, fs=FS, seed=5,
                         tau_rise_s=0.05, tau_decay_s=0.4)
    data = sim.traces.astype(np.float32)
    bucket = s3.create_bucket("calab-recordings")
    url = f"{bucket}/rec.zarr"
    zarr.create_array(url, data=data, chunks=(4, data.shape[1]),
                      storage_options=s3.storage_options)
    local = tmp_path_factory.mktemp("local") / "rec.zarr"
    zarr.create_array(str(local), data=data, chunks=(4, data.shape[1]))
    return url, local


def local_reference(local, tmp_path, chunk_cells):
    out = tmp_path / f"local-{chunk_cells}.zarr"
    deconvolve_zarr(local, out, PARAMS, chunk_cells=chunk_cells, n_workers=1)
    return zarr.open_array(str(out), path="activity", mode="r")[:]


def read_s3(url, s3, name):
    return zarr.open_array(url, path=name, mode="r", storage_options=s3.storage_options)[:]


def test_worker_sigkilled_mid_run_output_equals_local(s3, recording, dask_cluster, tmp_path):
    url, local = recording
    out = "s3://calab-recordings/out-kill.zarr"
    kill_one_worker, killed = dask_cluster.worker_killer(after_blocks=2)
    with dask_cluster.client() as client:
        summary = deconvolve_zarr(url, out, PARAMS, client=client, chunk_cells=1,
                                  progress=kill_one_worker, storage_options=s3.storage_options)
    assert killed, "the run ended before a worker could be killed"
    assert summary["blocks_computed"] == summary["blocks_total"] == CELLS
    assert (read_s3(out, s3, "done") == 1).all()
    np.testing.assert_array_equal(read_s3(out, s3, "activity"),
                                  local_reference(local, tmp_path, 1))
    attrs = zarr.open_group(out, mode="r", storage_options=s3.storage_options).attrs["calab"]
    assert s3.storage_options["secret"] not in json.dumps(attrs)  # credentials not recorded
    dask_cluster.wait_for_workers(2)


def test_cli_killed_then_resumed_computes_only_the_rest(s3, recording, dask_cluster, tmp_path):
    url, local = recording
    out = "s3://calab-recordings/out-resume.zarr"
    base = [sys.executable, "-c", "from calab.cli import main; main()", "deconvolve", url,
            *FLAGS, "-o", out, "--json", "--chunk-cells", "1",
            "--scheduler", dask_cluster.address]
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    first = subprocess.Popen(base, env={**env, **s3.environment},  # credentials from AWS_*
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        finished = dask_cluster.wait_for_done_blocks(
            out, at_least=3, timeout=240, interval=0.05, storage_options=s3.storage_options)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert 3 <= finished < CELLS, "the first run should be killed part-way"
    time.sleep(2.0)  # blocks already running on the workers finish and stay valid
    before = int((read_s3(out, s3, "done") == 1).sum())
    options = json.dumps(s3.storage_options)  # credentials from --storage-options this time
    done = subprocess.run([*base, "--storage-options", options], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["blocks_skipped"] >= before >= 3
    assert summary["blocks_computed"] == CELLS - summary["blocks_skipped"] > 0
    np.testing.assert_array_equal(read_s3(out, s3, "activity"),
                                  local_reference(local, tmp_path, 1))


def test_foreign_data_in_the_bucket_is_refused(s3, recording, tmp_path):
    import s3fs

    url, _ = recording
    fs = s3fs.S3FileSystem(**s3.storage_options)
    fs.pipe("calab-recordings/taken.zarr/notes.txt", b"someone else's")
    with pytest.raises(FileExistsError, match="not a calab output"):
        # refused before any cluster: this scheduler address has nobody listening
        deconvolve_zarr(url, "s3://calab-recordings/taken.zarr", PARAMS,
                        scheduler="tcp://127.0.0.1:9", storage_options=s3.storage_options)
    assert fs.cat("calab-recordings/taken.zarr/notes.txt") == b"someone else's"
    with pytest.raises(ValueError, match=r"storage_options=.* apply to fsspec URLs"):
        deconvolve_zarr(tmp_path / "a.zarr", tmp_path / "b.zarr", PARAMS,
                        storage_options={"anon": True})


def test_cli_tune_opens_a_bucket_recording(s3, recording):
    """``calab tune s3://...`` (a subprocess, credentials from AWS_*) serves the bucket's traces."""
    import re
    import urllib.parse
    import urllib.request

    url, _ = recording
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from calab.cli import main; main()", "tune", url, "--fs", "30",
         "--no-browser", "--timeout", "120", "--max-cells", "5"],
        env={**env, **s3.environment}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "open http" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, proc.stderr.read()
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(
            re.search(r"open (http://\S+)", line).group(1)).query)
        request = urllib.request.Request(f"{query['bridge'][0].rstrip('/')}/api/v1/metadata",
                                         headers={"X-Bridge-Secret": query["bridge_secret"][0]})
        with urllib.request.urlopen(request, timeout=30) as answer:
            meta = json.loads(answer.read())
        assert meta["total_cells"] == CELLS, meta
        assert meta["num_cells"] == 5 and meta["sampling_rate_hz"] == FS
        assert meta["source"].startswith("rec.zarr")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()


def test_each_block_costs_one_get_and_three_puts(s3, recording, tmp_path):
    """Workers reuse the stores they opened: beyond a run's fixed requests, a block reads its
    input chunk (one GET) and writes activity, input checksum and done (one PUT each); no
    metadata read, HEAD or listing per block."""
    import collections
    import re

    from calab.io import array_cache

    url, _ = recording

    def requests_of_run(chunk_cells):
        array_cache.clear()  # this process (the client) starts each run with no open array
        before = len(s3.requests())
        deconvolve_zarr(url, f"s3://calab-recordings/count-{chunk_cells}.zarr", PARAMS,
                        n_workers=1, chunk_cells=chunk_cells, storage_options=s3.storage_options)
        sent = s3.requests()[before:]
        return collections.Counter(
            (method, "input chunk" if re.search(r"/rec\.zarr/c/", path) else
             "output chunk" if re.search(r"/count-\d+\.zarr/\w+/c/", path) else "other")
            for method, path in sent)

    three, twelve = requests_of_run(4), requests_of_run(1)  # 3 blocks, then 12
    extra = {key: twelve[key] - three[key] for key in set(three) | set(twelve)}
    # s3fs lists the bucket once per filesystem instance: the first run's one extra request
    assert abs(extra.pop(("GET", "other"), 0)) <= 1, (three, twelve)
    extra = {key: value for key, value in extra.items() if value}
    assert extra == {("GET", "input chunk"): 9, ("PUT", "output chunk"): 27}, (three, twelve)
