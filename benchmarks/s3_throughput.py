"""Object storage against local disk: ``deconvolve_zarr`` from and to a local S3 server.

Starts moto's standalone S3 server on loopback, writes the same simulated
recording to local disk and to a bucket, and times ``deconvolve_zarr`` local ->
local and s3 -> s3 on one embedded cluster, alternating the two so both see
the same machine. Prints cells/s per run and the paired ratio s3 / local
(target >= 0.7).

    python benchmarks/s3_throughput.py --cells 96 --seconds 600 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import zarr

PARAMS = {"tau_rise": 0.05, "tau_decay": 0.4, "lambda_": 0.03, "fs": 30.0}
KEY, SECRET, REGION = "bench", "bench-secret", "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with open(log, "wb") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                 str(port)], stdout=handle, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                return proc, endpoint
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=96)
    parser.add_argument("--seconds", type=float, default=600.0, help="recording length (s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-cells", type=int, default=8)
    args = parser.parse_args()

    import boto3
    from distributed import Client, LocalCluster

    import calab

    scratch = Path(tempfile.mkdtemp(prefix="calab-s3-bench-"))
    proc, endpoint = start_moto(scratch / "moto.log")
    options = {"key": KEY, "secret": SECRET,
               "client_kwargs": {"endpoint_url": endpoint, "region_name": REGION}}
    try:
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY,
                     aws_secret_access_key=SECRET, region_name=REGION).create_bucket(
            Bucket="bench")
        sim = calab.simulate(num_cells=args.cells, duration_s=args.seconds, fs=30.0, seed=0,
                             tau_rise_s=0.05, tau_decay_s=0.4)
        data = sim.traces.astype(np.float32)
        chunks = (args.chunk_cells, data.shape[1])
        zarr.create_array(str(scratch / "rec.zarr"), data=data, chunks=chunks)
        zarr.create_array("s3://bench/rec.zarr", data=data, chunks=chunks,
                          storage_options=options)
        print(f"recording: {args.cells} cells x {data.shape[1]} samples "
              f"({data.nbytes / 2**20:.1f} MiB float32); {args.workers} workers; moto {endpoint}")
        with LocalCluster(n_workers=args.workers, threads_per_worker=1) as cluster, \
                Client(cluster) as client:
            run = _runner(client, scratch, options, args.chunk_cells)
            run("local", 0)  # warm the workers (solver, imports, s3fs clients) before timing
            run("s3", 0)
            ratios, speeds = [], {"local": [], "s3": []}
            print(f"load average before: {_load()}")
            for repeat in range(1, args.repeats + 1):
                order = ("local", "s3") if repeat % 2 else ("s3", "local")  # alternate the first
                timed = {kind: run(kind, repeat) for kind in order}
                local, s3 = timed["local"], timed["s3"]
                speeds["local"].append(local)
                speeds["s3"].append(s3)
                ratios.append(s3 / local)
                print(f"repeat {repeat} ({order[0]} first): local {local:7.2f} cells/s   "
                      f"s3 {s3:7.2f} cells/s   s3/local {s3 / local:.2f}   load {_load()}   "
                      f"setup before the first block: local {run.setup['local']:.2f} s, "
                      f"s3 {run.setup['s3']:.2f} s")
            print(f"median cells/s: local {statistics.median(speeds['local']):.2f}   "
                  f"s3 {statistics.median(speeds['s3']):.2f}")
            print(f"median s3/local throughput: {statistics.median(ratios):.2f} (target >= 0.7); "
                  f"load average after: {_load()} on {os.cpu_count()} cores")
            _check_equal(scratch, options, args.repeats)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)


def _load() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews both sides)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _runner(client, scratch: Path, options: dict, chunk_cells: int):
    import calab

    def run(kind: str, repeat: int) -> float:
        if kind == "local":
            source, out, storage = scratch / "rec.zarr", scratch / f"out-{repeat}.zarr", None
        else:
            source, out, storage = "s3://bench/rec.zarr", f"s3://bench/out-{repeat}.zarr", options
        before = _requests(scratch)
        began = time.perf_counter()
        marks: list[float] = []
        summary = calab.deconvolve_zarr(
            source, out, PARAMS, client=client, chunk_cells=chunk_cells, storage_options=storage,
            progress=lambda done, total: marks.append(time.perf_counter() - began))
        run.setup[kind] = marks[0]  # the first call comes just before the blocks are submitted
        speed = summary["cells"] / (time.perf_counter() - began)
        if kind == "s3" and repeat == 1:  # the request count is the same every run
            sent = _requests(scratch) - before
            print(f"s3 requests per run: {sent} for {summary['blocks_total']} blocks "
                  "(moto's log; run-level and per-block requests together)")
        return speed

    run.setup = {}  # type: ignore[attr-defined]
    return run


def _requests(scratch: Path) -> int:
    """S3 requests moto has logged so far."""
    return (scratch / "moto.log").read_text(errors="replace").count('HTTP/1.1"')


def _check_equal(scratch: Path, options: dict, repeat: int) -> None:
    local = zarr.open_array(str(scratch / f"out-{repeat}.zarr"), path="activity", mode="r")[:]
    remote = zarr.open_array(f"s3://bench/out-{repeat}.zarr", path="activity", mode="r",
                             storage_options=options)[:]
    same = np.array_equal(local, remote)
    print(f"s3 output equals local output: {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
