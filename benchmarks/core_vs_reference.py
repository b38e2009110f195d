"""Speed and objective of calab's core beside the published reference (calab 0.3.0).

For every case in ../shared/reference (or --cases DIR...), both packages deconvolve the
same traces with the case's CaTune export, warm, interleaved run by run so that machine
noise hits both alike. Both timings cover the same job: read the export, bandpass when
it enables the filter, deconvolve (baseline removal and FISTA). Prints per case and mode
the median wall times, the speed ratio (reference / ours) and the objective gap of our
activity against the reference's (relative, per cell: median and worst; <= 0 means ours
is at least as good).

With ``--settled`` each timed call directly follows an untimed call of the same package.
By default the packages alternate call by call, so each timed call starts right after the
other package's: on a 2-core machine our short parallel call then starts on cores that
idled during the single-threaded reference (on the development VM it took 45-58 ms
instead of 38 ms back to back, the cores clocking up), while the reference's half-second
call hardly notices. The default is the stricter figure; ``--settled`` shows what the
clocks cost.

Usage::

    python benchmarks/core_vs_reference.py [--repeats 5] [--settled] [--reference-python PATH]

The reference environment is built by ../shared/tools/reference-env.sh when not given.
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

import numpy as np

import calab
from calab.core.metrics import objective

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"fft": 4.0, "banded": 12.0}


def reference_python(given: str | None) -> str:
    if given:
        return given
    script = ROOT.parent / "shared" / "tools" / "reference-env.sh"
    out = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


class ReferenceWorker:
    """A long-lived reference interpreter answering timing requests."""

    def __init__(self, python: str) -> None:
        worker = Path(__file__).with_name("_reference_worker.py")
        self.proc = subprocess.Popen(
            [python, "-I", str(worker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            cwd=tempfile.gettempdir(),
        )

    def run(self, case: Path, mode: str, out: Path | None = None) -> float:
        request = {"case": str(case), "mode": mode, "out": str(out) if out else None}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["seconds"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def ours(case: Path, mode: str) -> tuple[float, np.ndarray]:
    traces = np.load(case / "traces.npy")
    start = time.perf_counter()
    activity = calab.deconvolve_from_export(traces, case / "export.json", conv_mode=mode)
    return time.perf_counter() - start, activity


def objective_gap(case: Path, activity: np.ndarray, reference: np.ndarray) -> np.ndarray:
    params = calab.load_export_params(case / "export.json")
    y = np.load(case / "anchor_preprocessed.npy").astype(np.float64)
    args = (y, params["tau_rise"], params["tau_decay"], params["fs"], params["lambda_"])
    f_ours, f_ref = objective(activity, *args), objective(reference, *args)
    return (f_ours - f_ref) / np.abs(f_ref)


def bench_case(
    worker: ReferenceWorker, case: Path, repeats: int, settled: bool = False
) -> list[dict]:
    rows = []
    warm = np.load(case / "traces.npy")[:2, :400]
    for mode in ("fft", "banded"):
        calab.run_deconvolution(warm, 30.0, 0.1, 0.6, 1.0, conv_mode=mode)
        with tempfile.TemporaryDirectory() as tmp:
            ref_out = Path(tmp) / "ref.npy"
            ref_times, our_times = [worker.run(case, mode, ref_out)], []
            _, activity = ours(case, mode)
            for _ in range(repeats):
                if settled:
                    worker.run(case, mode)
                ref_times.append(worker.run(case, mode))
                if settled:
                    ours(case, mode)
                our_times.append(ours(case, mode)[0])
            gap = objective_gap(case, activity, np.load(ref_out))
        ref_s, our_s = statistics.median(ref_times[1:]), statistics.median(our_times)
        rows.append({
            "case": case.name, "mode": mode, "reference_s": ref_s, "ours_s": our_s,
            "speedup": ref_s / our_s, "target": TARGETS[mode],
            "gap_median": float(np.median(gap)), "gap_worst": float(gap.max()),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference-python")
    parser.add_argument("--cases", nargs="*", type=Path)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--settled", action="store_true",
                        help="time each call right after an untimed call of the same package")
    args = parser.parse_args()
    reference_dir = ROOT.parent / "shared" / "reference"
    cases = args.cases or sorted(p.parent for p in reference_dir.glob("*/case.json"))
    worker = ReferenceWorker(reference_python(args.reference_python))
    try:
        rows = [row for case in cases
                for row in bench_case(worker, case, args.repeats, args.settled)]
    finally:
        worker.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'case':<24}{'mode':<8}{'reference':>11}{'calab':>9}{'speed-up':>10}{'target':>8}"
          f"{'F gap med':>12}{'F gap worst':>13}")
    for r in rows:
        ok = "ok" if r["speedup"] >= r["target"] else "MISS"
        print(f"{r['case']:<24}{r['mode']:<8}{r['reference_s']:>10.3f}s{r['ours_s']:>8.3f}s"
              f"{r['speedup']:>9.1f}x{r['target']:>6.0f}x {ok:<4}{r['gap_median']:>+11.1e}"
              f"{r['gap_worst']:>+13.1e}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
