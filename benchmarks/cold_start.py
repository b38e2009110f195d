"""Cold start and steady state of calab beside the published reference (calab 0.3.0).

Cold start is what a new user, a new Dask worker or a new job-service process pays
before its first result: a fresh Python process that imports calab and returns

    calab.run_deconvolution(np.random.default_rng(0).normal(size=(4, 3000)),
                            30.0, 0.05, 0.4, 0.03)

timed from the process's start (wall time of the whole process, interpreter start
included) and from inside it (import + first call). Steady state is the same call
repeated in that process once warm (median). Both packages run in their own
interpreters, alternated run by run so that machine noise hits both alike (the
machine is shared: compare the two columns, not the figures across runs).

With ``--demo`` it also times ``calab demo`` (the README's first command, the
console script beside ``--python``) twice in a row, each in a new folder: run
right after ``pip install .`` into a fresh environment, the first run is the
fresh install's and the second the warm one's (target: first <= 1.5x second).

With ``--dask-worker`` it starts ``dask scheduler``, then a fresh ``dask worker``
process (both from ``--python``'s environment), submits one block of cells
(``calab.engine.block.solve_block``) and times the worker's start and its first
block, beside the same block solved in this process on one thread (target: the
first block within the solve time plus 1 s).

Usage::

    python benchmarks/cold_start.py [--runs 5] [--reference-python PATH]
                                    [--demo] [--dask-worker]

Run it right after ``pip install .`` in a fresh environment for the first-ever
figure (nothing compiles at run time, so the first process is like the next).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import time
start = time.perf_counter()
import numpy as np
import calab
imported = time.perf_counter()
y = np.random.default_rng(0).normal(size=(4, 3000))
calab.run_deconvolution(y, 30.0, 0.05, 0.4, 0.03)
first = time.perf_counter()
steady = []
for _ in range(STEADY):
    t0 = time.perf_counter()
    calab.run_deconvolution(y, 30.0, 0.05, 0.4, 0.03)
    steady.append(time.perf_counter() - t0)
steady.sort()
print({"import": imported - start, "first": first - start,
       "steady": steady[len(steady) // 2] if steady else float("nan")})
"""


def reference_python(given: str | None) -> str:
    if given:
        return given
    script = ROOT.parent / "shared" / "tools" / "reference-env.sh"
    out = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def one_process(python: str, steady: int) -> dict[str, float]:
    """Run the probe in a new isolated process (from a temporary directory, so no
    checkout shadows the installed package); its wall time and inner figures."""
    code = PROBE.replace("STEADY", str(steady))
    start = time.perf_counter()
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True,
                         cwd=tempfile.gettempdir())
    wall = time.perf_counter() - start
    figures = eval(out.stdout.strip().splitlines()[-1], {"nan": float("nan")})  # our own dict
    return {"process": wall, **figures}


def demo_runs(python: str, cells: int, minutes: float) -> list[float]:
    """Wall times of two ``calab demo`` runs in a row, each in a new folder."""
    calab_script = Path(python).with_name("calab")
    times = []
    for _ in range(2):
        with tempfile.TemporaryDirectory(prefix="calab-demo-") as folder:
            start = time.perf_counter()
            subprocess.run([str(calab_script), "demo", str(Path(folder) / "demo-data"),
                            "--cells", str(cells), "--minutes", str(minutes), "--json"],
                           check=True, capture_output=True, text=True, cwd=folder)
            times.append(time.perf_counter() - start)
    return times


WORKER_PROBE = """
import sys, time
import numpy as np
from distributed import Client
from calab.core.options import DeconvolutionOptions
from calab.engine.block import solve_block

address, spawn_at = sys.argv[1], float(sys.argv[2])
block = np.random.default_rng(1).normal(size=(CELLS, SAMPLES))
options = DeconvolutionOptions(fs=30.0, tau_r=0.05, tau_d=0.4, lam=0.03)
with Client(address) as client:
    client.wait_for_workers(1, timeout=120)
    joined = time.time()
    start = time.perf_counter()
    client.submit(solve_block, block, options, pure=False).result()
    first = time.perf_counter() - start
    start = time.perf_counter()
    client.submit(solve_block, block, options, pure=False).result()
    second = time.perf_counter() - start
start = time.perf_counter()
solve_block(block, options)
local = time.perf_counter() - start
print({"join": joined - spawn_at, "first": first, "second": second, "local": local})
"""


def fresh_worker(python: str, cells: int, samples: int) -> dict[str, float]:
    """Scheduler, then a fresh worker process; its join time and first block."""
    dask = [python, "-m", "distributed.cli.dask_scheduler"]
    with tempfile.TemporaryDirectory(prefix="calab-worker-") as folder:
        address = f"tcp://127.0.0.1:{free_port()}"
        scheduler = subprocess.Popen([*dask, "--host", "127.0.0.1", "--port",
                                      address.rsplit(":", 1)[1], "--no-dashboard"],
                                     cwd=folder, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        worker = None
        try:
            time.sleep(2.0)  # the scheduler listens before the worker starts
            spawn_at = time.time()
            worker = subprocess.Popen([python, "-m", "distributed.cli.dask_worker", address,
                                       "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                                      cwd=folder, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            code = WORKER_PROBE.replace("CELLS", str(cells)).replace("SAMPLES", str(samples))
            out = subprocess.run([python, "-c", code, address, repr(spawn_at)], check=True,
                                 capture_output=True, text=True, cwd=folder, timeout=300)
            return eval(out.stdout.strip().splitlines()[-1])  # our own dict
        finally:
            for proc in (worker, scheduler):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=30)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per package")
    parser.add_argument("--steady", type=int, default=7, help="warm calls per process")
    parser.add_argument("--python", default=sys.executable, help="our interpreter")
    parser.add_argument("--reference-python")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--demo", action="store_true", help="also time `calab demo` twice")
    parser.add_argument("--demo-cells", type=int, default=1000)
    parser.add_argument("--demo-minutes", type=float, default=10.0)
    parser.add_argument("--dask-worker", action="store_true",
                        help="also time a fresh dask worker's first block")
    parser.add_argument("--block", default="64x18000", help="cells x samples of that block")
    args = parser.parse_args()
    if args.demo:
        first, second = demo_runs(args.python, args.demo_cells, args.demo_minutes)
        print(f"calab demo ({args.demo_cells} cells x {args.demo_minutes:g} min): first run "
              f"{first:.1f} s, second {second:.1f} s -> {first / second:.2f}x (target <= 1.5)")
    if args.dask_worker:
        cells, samples = (int(v) for v in args.block.split("x"))
        w = fresh_worker(args.python, cells, samples)
        print(f"fresh dask worker, block of {cells} x {samples}: joined {w['join']:.2f} s after "
              f"its start; first block {w['first']:.2f} s, second {w['second']:.2f} s, in "
              f"process {w['local']:.2f} s -> first block = solve + "
              f"{w['first'] - w['local']:.2f} s (target < 1 s)")
    if args.demo or args.dask_worker:
        print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    pythons = {"calab": args.python, "reference": reference_python(args.reference_python)}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in pythons}
    for _ in range(args.runs):
        for name, python in pythons.items():
            runs[name].append(one_process(python, args.steady))
    table = {name: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
             for name, rows in runs.items()}
    firsts = {name: runs[name][0] for name in pythons}
    if args.json:
        print(json.dumps({"median": table, "first_process": firsts}, indent=2))
        return
    print(f"{'':<34}{'calab':>10}{'reference':>12}")
    rows = [("first process: whole process", firsts, "process"),
            ("first process: import + 1st call", firsts, "first"),
            ("median process: whole process", table, "process"),
            ("median process: import", table, "import"),
            ("median process: import + 1st call", table, "first"),
            ("steady state: one call (warm)", table, "steady")]
    for label, source, key in rows:
        print(f"{label:<34}{source['calab'][key]:>9.3f}s{source['reference'][key]:>11.3f}s")


if __name__ == "__main__":
    main()
