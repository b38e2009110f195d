"""Out-of-core throughput: zarr path vs in-memory, and 2 workers vs 1.

Run: ``python benchmarks/engine_throughput.py [--cells 256] [--minutes 10]``

Prints, on the same simulated data and cores:

- in-memory ``deconvolve_matrix`` on the whole array (numba threads = cores);
- ``deconvolve_zarr`` on a warm embedded cluster of one worker per core
  (target: at least 0.85x the in-memory throughput), and the same including
  cluster start-up (what ``calab deconvolve`` costs end to end);
- the warm zarr path with 1 and with 2 workers (target: 2 workers >= 1.7x).

Figures are cells per second. Shared machines are noisy: the load average is
printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

PARAMS_LAMBDA_PER_NOISE = 0.75


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=256)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="calab-bench-"))
    try:
        run(folder, args.cells, args.minutes, args.workers)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path, n_cells: int, minutes: float, n_workers: int) -> None:
    from calab.core.deconvolve import deconvolve_matrix
    from calab.core.options import DeconvolutionOptions
    from calab.engine import deconvolve_zarr
    from calab.engine.demo import TRACES, write_simulated_recording

    rec = write_simulated_recording(folder / "rec.zarr", n_cells=n_cells,
                                    duration_s=minutes * 60, fs=30.0, seed=7)
    params = {"tau_rise": rec.tau_rise, "tau_decay": rec.tau_decay,
              "lambda_": PARAMS_LAMBDA_PER_NOISE * rec.noise_std, "fs": rec.fs}
    import zarr

    data = zarr.open_array(str(rec.path), path=TRACES)[:].astype(np.float64)
    options = DeconvolutionOptions(rec.fs, rec.tau_rise, rec.tau_decay, params["lambda_"])
    deconvolve_matrix(data[:2, :300], options)  # warm the solver in this process
    began, cpu = time.perf_counter(), tree_cpu_s()
    deconvolve_matrix(data, options)
    wall = time.perf_counter() - began
    memory_rate, memory_cores = n_cells / wall, (tree_cpu_s() - cpu) / wall
    del data
    cores: dict[str, float] = {}

    def zarr_rate(workers: int, warm: bool, tag: str) -> float:
        out = folder / f"out-{tag}.zarr"
        kwargs = dict(dataset=TRACES, resume=False)
        if not warm:
            summary = deconvolve_zarr(rec.path, out, params, n_workers=workers, **kwargs)
            return n_cells / summary["wall_s"]
        with warm_client(workers) as client:
            began, cpu = time.perf_counter(), tree_cpu_s()
            deconvolve_zarr(rec.path, out, params, client=client, **kwargs)
            wall = time.perf_counter() - began
            cores[tag] = (tree_cpu_s() - cpu) / wall
            return n_cells / wall

    two = zarr_rate(n_workers, True, "warm")
    cold = zarr_rate(n_workers, False, "cold")
    one = zarr_rate(1, True, "one")
    load = os.getloadavg()
    print(f"data: {n_cells} cells x {minutes:g} min at 30 Hz; cores: {os.cpu_count()}; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (shared machine)")
    print("cells/s, and in brackets the CPU cores the run actually got (CPU s / wall s)")
    print(f"in memory (numba threads = cores):     {memory_rate:8.1f} cells/s "
          f"[{memory_cores:.2f}]")
    print(f"zarr, warm cluster, {n_workers} workers:        {two:8.1f} cells/s "
          f"[{cores['warm']:.2f}] -> {two / memory_rate:.2f}x in memory (target >= 0.85)")
    print(f"zarr, incl. cluster start, {n_workers} workers: {cold:8.1f} cells/s  "
          f"-> {cold / memory_rate:.2f}x in memory")
    print(f"zarr, warm cluster, 1 worker:          {one:8.1f} cells/s "
          f"[{cores['one']:.2f}] -> {n_workers} workers = {two / one:.2f}x one worker "
          "(target >= 1.7)")
    per_core = (two / cores["warm"]) / (one / cores["one"])
    print(f"per CPU-second: {n_workers} workers do {per_core:.2f}x the work of one worker "
          "(1.0 = perfect scaling; separates scaling from CPU taken by other processes)")


def tree_cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process and its live children."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def warm_client(workers: int):
    """An embedded cluster as ``deconvolve_zarr`` builds it, solver already loaded."""
    from contextlib import contextmanager

    from calab.engine.block import warm_up
    from calab.engine.cluster import dask_client

    @contextmanager
    def managed():
        with dask_client(n_workers=workers) as client:
            client.run(warm_up)
            yield client

    return managed()


if __name__ == "__main__":
    main()
