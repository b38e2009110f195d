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

Usage::

    python benchmarks/cold_start.py [--runs 5] [--reference-python PATH]

Run it right after ``pip install .`` in a fresh environment for the first-ever
figure (nothing compiles at run time, so the first process is like the next).
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per package")
    parser.add_argument("--steady", type=int, default=7, help="warm calls per process")
    parser.add_argument("--python", default=sys.executable, help="our interpreter")
    parser.add_argument("--reference-python")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
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
