"""Iterations of a warm-started solve against a cold one, on the tuning app's typical case.

The tuning app (``calab tune``) solves a window of a few cells (here 6 cells x 70 s at
30 Hz, 2100 samples, the view plus its margins) as the sliders move: drafts at
``DRAFT_TOL`` while dragging, each warm-started from the last result, then a full solve
(``tol=1e-4``) warm-started from the last draft. Prints per case the iterations per cell
(median and sum), the wall time and the median objective of: a cold full solve; a draft;
the full solve warm-started from that draft (same parameters); and full solves
warm-started from the solution for a nearby penalty or decay.

Usage::

    python benchmarks/warm_start.py [--cells 6] [--seconds 70] [--indicator gcamp6f]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import calab
from calab.core.deconvolve import deconvolve_matrix, preprocess
from calab.core.metrics import objective
from calab.core.options import DeconvolutionOptions
from calab.server.bridge_solve import DRAFT_TOL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=70.0)
    parser.add_argument("--indicator", default="gcamp6f")
    parser.add_argument("--mode", default="fft")
    args = parser.parse_args()
    fs = 30.0
    sim = calab.simulate(num_cells=args.cells, duration_s=args.seconds, fs=fs,
                         indicator=args.indicator, seed=3)
    tau_r, tau_d = calab.INDICATOR_PRESETS[args.indicator][:2]
    lam = 0.75 * float(np.median(np.std(np.diff(sim.traces, axis=1), axis=1))) / np.sqrt(2)

    def solve(lam_: float, tau_d_: float, tol: float = 1e-4,
              warm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float, float]:
        options = DeconvolutionOptions(fs=fs, tau_r=tau_r, tau_d=tau_d_, lam=lam_, tol=tol,
                                       conv_mode=args.mode)
        start = time.perf_counter()
        result = deconvolve_matrix(sim.traces, options, warm_start=warm)
        wall = time.perf_counter() - start
        y = preprocess(sim.traces, tau_r, tau_d_, fs, False)
        f = objective(result.activity, y, tau_r, tau_d_, fs, lam_)
        return result.activity, np.asarray(result.iterations), wall, float(np.median(f))

    solve(lam, tau_d)  # load everything once
    print(f"{args.cells} cells x {sim.traces.shape[1]} samples, {args.indicator}, "
          f"lam={lam:.4g}, {args.mode}; iterations per cell: median (sum), wall time")
    cold = solve(lam, tau_d)
    draft = solve(lam, tau_d, tol=DRAFT_TOL)
    rows = [("cold, full", cold), (f"draft (tol {DRAFT_TOL:g}), cold", draft),
            ("full, warm from the draft", solve(lam, tau_d, warm=draft[0]))]
    for label, lam_, tau_d_ in (("lam x 1.2", lam * 1.2, tau_d), ("tau_d x 1.1", lam, tau_d * 1.1)):
        rows.append((f"{label}: cold", solve(lam_, tau_d_)))
        rows.append((f"{label}: warm from the first", solve(lam_, tau_d_, warm=cold[0])))
    print(f"  {'':<34}{'median':>7} {'(sum)':>7} {'wall':>11}   median objective F")
    for label, (_, iterations, wall, f) in rows:
        print(f"  {label:<34}{statistics.median(iterations.tolist()):7.0f} "
              f"({int(iterations.sum()):5d}) {wall * 1e3:8.1f} ms   {f:.8g}")
    print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
