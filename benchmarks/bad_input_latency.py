"""How fast bad inputs are refused, beside the solve they spare (the tests assert no times).

Run: ``python benchmarks/bad_input_latency.py [--cells 64] [--samples 120000]``

For each bad input of issue 14 the time to the error is printed beside the
time of one real solve of the same recording (``max_iters=50``), and their
ratio: a refusal must cost a small fraction of any work. The kernel cases
(``tau_d=1e5`` on a short trace: 36 s then a ``MemoryError`` before the
options object) are refused before any allocation. Shared machines are
noisy: the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import calab

FS, TAU_R, TAU_D, LAM = 30.0, 0.1, 0.6, 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=64)
    parser.add_argument("--samples", type=int, default=120_000)
    args = parser.parse_args()
    big = np.random.default_rng(0).standard_normal((args.cells, args.samples))
    short = big[:4, :300]
    calab.run_deconvolution(short, FS, TAU_R, TAU_D, LAM, 5)  # load the solver
    began = time.perf_counter()
    calab.run_deconvolution(big, FS, TAU_R, TAU_D, LAM, 50)
    solve_s = time.perf_counter() - began
    nan = big.copy()
    nan[40 % args.cells, 1000:1010] = np.nan
    export = Path(tempfile.mkdtemp(prefix="calab-bench-")) / "deep.json"
    export.write_text("[" * 100_000)
    cases = {
        "NaN in one cell": lambda: calab.run_deconvolution(nan, FS, TAU_R, TAU_D, LAM),
        "fs=10**400": lambda: calab.run_deconvolution(big, 10**400, TAU_R, TAU_D, LAM),
        "max_iters=10**400": lambda: calab.run_deconvolution(big, FS, TAU_R, TAU_D, LAM, 10**400),
        "tau_d=1e300": lambda: calab.run_deconvolution(big, FS, TAU_R, 1e300, LAM),
        "tau_d=1e5, short trace": lambda: calab.run_deconvolution(short, FS, TAU_R, 1e5, LAM),
        "tau_d=100, 300 samples": lambda: calab.run_deconvolution(short, FS, TAU_R, 100.0, LAM),
        "tau_r > tau_d": lambda: calab.run_deconvolution(big, FS, 0.9, TAU_D, LAM),
        "max_iters=0": lambda: calab.run_deconvolution(big, FS, TAU_R, TAU_D, LAM, 0),
        "export nested 100,000 deep": lambda: calab.load_export_params(export),
    }
    load = os.getloadavg()[0]
    print(f"one solve of {args.cells} x {args.samples} (max_iters=50): {solve_s:.2f} s "
          f"(load average {load:.1f})")
    rows = []
    for name, call in cases.items():
        began = time.perf_counter()
        try:
            call()
            error = "no error!"
        except (ValueError, TypeError) as exc:
            error = type(exc).__name__
        elapsed = time.perf_counter() - began
        rows.append({"case": name, "error": error, "ms": round(1000 * elapsed, 2),
                     "of_solve": elapsed / solve_s})
        print(f"  {name:<28} {error:<24} {1000 * elapsed:8.2f} ms  "
              f"{elapsed / solve_s:8.4f} x the solve")
    worst = max(row["of_solve"] for row in rows)
    print(json.dumps({"solve_s": round(solve_s, 3), "worst_ratio": round(worst, 4),
                      "all_refused": all(r["error"] != "no error!" for r in rows),
                      "load": load, "finite": math.isfinite(worst)}))


if __name__ == "__main__":
    main()
