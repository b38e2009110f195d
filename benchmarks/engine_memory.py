"""Peak memory of an out-of-core run stays flat as the recording grows.

Run: ``python benchmarks/engine_memory.py [--minutes 10] [--workers 2]``

Deconvolves zarr recordings of growing size on the embedded cluster and samples
the resident memory (RSS) of this process (client and scheduler) plus every
worker and nanny process every 0.1 s. Then it deconvolves a recording at least
4x larger than the largest peak seen and prints its figures too. The solver runs
few iterations (``--max-iters``, default 5): memory does not depend on them
and the benchmark stays short.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

MB = 2**20


class PeakRSS:
    """Samples the summed RSS of this process and its descendants in a thread."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(self.interval_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-iters", type=int, default=5)
    parser.add_argument("--factor", type=float, default=4.5,
                        help="last store size as a multiple of the largest peak RSS seen")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000],
                        help="cells of the growing recordings")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: tmp)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="calab-mem-", dir=args.dir))
    try:
        run(folder, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path, args: argparse.Namespace) -> None:
    n_time = round(args.minutes * 60 * 30.0)
    print(f"recordings of {args.minutes:g} min at 30 Hz (float32), {args.workers} workers, "
          f"max_iters={args.max_iters}; load average {os.getloadavg()[0]:.1f} (shared machine)")
    print(f"{'cells':>8} {'store GB':>9} {'on disk GB':>10} {'peak RSS MB':>12} "
          f"{'store/peak':>10} {'wall s':>7}")
    peaks = []
    for n_cells in args.sizes:
        peaks.append(measure(folder, n_cells, n_time, args)[0])
    largest = math.ceil(args.factor * max(peaks) / (4 * n_time))
    peak, store_bytes = measure(folder, largest, n_time, args)
    verdict = "yes" if store_bytes >= 4 * peak else "NO"
    print(f"store >= 4x peak RSS: {verdict}; peak RSS spread over all sizes: "
          f"{min([*peaks, peak]) / MB:.0f}-{max([*peaks, peak]) / MB:.0f} MB")


def measure(folder: Path, n_cells: int, n_time: int, args) -> tuple[int, int]:
    from calab.engine import deconvolve_zarr
    from calab.engine.demo import TRACES, write_simulated_recording

    store = folder / f"rec-{n_cells}.zarr"
    rec = write_simulated_recording(store, n_cells=n_cells, duration_s=n_time / 30.0, fs=30.0,
                                    seed=n_cells)
    params = {"tau_rise": rec.tau_rise, "tau_decay": rec.tau_decay,
              "lambda_": 0.75 * rec.noise_std, "fs": 30.0}
    with PeakRSS() as sampler:
        summary = deconvolve_zarr(store, folder / f"out-{n_cells}.zarr", params, dataset=TRACES,
                                  n_workers=args.workers, max_iters=args.max_iters)
    store_bytes = n_cells * n_time * 4
    on_disk = sum(f.stat().st_size for f in (store / TRACES).rglob("*") if f.is_file())
    print(f"{n_cells:>8} {store_bytes / 1e9:>9.2f} {on_disk / 1e9:>10.2f} "
          f"{sampler.peak / MB:>12.0f} {store_bytes / sampler.peak:>10.1f} "
          f"{summary['wall_s']:>7.1f}", flush=True)
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(folder / f"out-{n_cells}.zarr", ignore_errors=True)
    return sampler.peak, store_bytes


if __name__ == "__main__":
    main()
