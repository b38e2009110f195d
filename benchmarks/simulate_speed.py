"""Simulator speed: 2000 cells x 10 minutes at 30 Hz, beside a NumPy pass over the same array.

Run: ``python benchmarks/simulate_speed.py``

The simulation (about 2.5 s on an idle core) is printed beside the time of
one ``np.cumsum`` over a float64 array of the same shape, so the ratio means
something on a loaded machine; the load average is printed too.
"""

from __future__ import annotations

import os
import time

import numpy as np

from calab.core.simulate import simulate


def main() -> None:
    simulate(num_cells=4, duration_s=10.0, fs=30.0, seed=0)  # warm up
    began = time.perf_counter()
    sim = simulate(num_cells=2000, duration_s=600.0, fs=30.0, seed=0)
    simulate_s = time.perf_counter() - began
    began = time.perf_counter()
    np.cumsum(sim.traces, axis=1)
    pass_s = time.perf_counter() - began
    print(f"simulate 2000 x 18000: {simulate_s:.2f} s; one cumsum pass: {pass_s:.3f} s; "
          f"ratio {simulate_s / pass_s:.0f}x (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
