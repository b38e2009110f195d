"""How good are the suggested parameters? Suggested vs grid-searched on ground truth vs OASIS.

On the Spikefinder recordings in ../shared/spikefinder/ (real data with ground-truth spikes,
100 Hz; the challenge's metric: Pearson correlation with the true spikes in 40 ms bins, averaged
over cells) and on simulated recordings of every indicator preset at several SNRs, prints the
correlation with true spikes at

- ``suggest``: :func:`calab.suggest_params`'s global suggestion,
- ``per-cell``: its per-cell suggestion (``per_cell=True``),
- ``grid``: one global (tau_rise, tau_decay, lambda) grid-searched on the ground truth
  (coordinate search: taus at a middle lambda, then lambda, then taus again),
- ``oasis``: OASIS's automatic estimate (``deconvolve(y, penalty=1)``: AR(1) and noise estimated
  from the data), run in the reference environment (../shared/tools/reference-env.sh) as a
  subprocess,

and the estimated against the true time constants (simulated recordings). First, unless
``--only`` picks another part, the seconds a suggestion takes for 1,000 cells x 10 min at 30 Hz
in memory and for a 10,000-cell zarr store, beside the machine's load average.

    python benchmarks/suggest_accuracy.py            # everything (several minutes)
    python benchmarks/suggest_accuracy.py --quick    # coarse grids, short simulations
    python benchmarks/suggest_accuracy.py --no-oasis --only spikefinder
    python benchmarks/suggest_accuracy.py --only speed  # seconds per suggestion, with the load
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import calab
from calab.core.metrics import spike_correlation

ROOT = Path(__file__).resolve().parents[1]
SPIKEFINDER = ROOT.parent / "shared" / "spikefinder"
LAM_FACTORS = np.geomspace(0.05, 3.0, 9)
TAU_DECAY_GRID = (0.15, 0.25, 0.4, 0.6, 0.9, 1.3, 2.0)
TAU_RISE_GRID = (0.01, 0.03, 0.06, 0.12)


def binned_correlation(activity: np.ndarray, spikes: np.ndarray, fs: float) -> float:
    """The Spikefinder metric for one cell: Pearson r of the sums in 40 ms bins."""
    width = max(1, round(0.04 * fs))
    n = activity.size // width * width
    a = activity[:n].reshape(-1, width).sum(axis=1)
    s = spikes[:n].reshape(-1, width).sum(axis=1)
    if a.std() == 0 or s.std() == 0:
        return 0.0
    return float(np.corrcoef(a, s)[0, 1])


def load_spikefinder(folder: Path) -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    sets = {}
    for calcium_file in sorted(folder.glob("*.train.calcium.csv")):
        name = calcium_file.name.split(".")[0]
        calcium = np.genfromtxt(calcium_file, delimiter=",", skip_header=1).T
        spikes = np.genfromtxt(folder / f"{name}.train.spikes.csv", delimiter=",",
                               skip_header=1).T
        traces, truths = [], []
        for c_row, s_row in zip(calcium, spikes, strict=True):
            n = int(np.flatnonzero(np.isfinite(c_row))[-1]) + 1
            traces.append(c_row[:n])
            truths.append(np.nan_to_num(s_row[:n]))
        sets[f"spikefinder-{name}"] = (traces, truths)
    return sets


def padded(traces: list[np.ndarray]) -> np.ndarray:
    out = np.full((len(traces), max(t.size for t in traces)), np.nan)
    for i, t in enumerate(traces):
        out[i, : t.size] = t
    return out


def deconvolve_cells(traces, fs, tau_r, tau_d, lam) -> list[np.ndarray]:
    """Each cell with its own (or the shared) parameters."""
    n = len(traces)
    tau_r, tau_d, lam = (np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in
                         (tau_r, tau_d, lam))
    return [calab.run_deconvolution(t, fs, float(r), float(d), float(penalty))
            for t, r, d, penalty in zip(traces, tau_r, tau_d, lam, strict=True)]


def score(traces, truths, fs, metric, tau_r, tau_d, lam) -> float:
    acts = deconvolve_cells(traces, fs, tau_r, tau_d, lam)
    return float(np.mean([metric(a, s, fs) for a, s in zip(acts, truths, strict=True)]))


def grid_search(traces, truths, fs, metric, noise, quick: bool) -> tuple[float, tuple]:
    lam_grid = noise * (LAM_FACTORS[::2] if quick else LAM_FACTORS)
    taus = [(r, d) for d in TAU_DECAY_GRID for r in TAU_RISE_GRID if r < 0.5 * d]
    if quick:
        taus = taus[::2]
    lam = float(noise * 0.5)
    best = (-np.inf, None)
    for _ in range(2):
        for r, d in taus:
            value = score(traces, truths, fs, metric, r, d, lam)
            if value > best[0]:
                best = (value, (r, d, lam))
        r, d = best[1][:2]
        for lam_try in lam_grid:
            value = score(traces, truths, fs, metric, r, d, lam_try)
            if value > best[0]:
                best = (value, (r, d, float(lam_try)))
        lam = best[1][2]
        if quick:
            break
    return best


def oasis_scores(python: str, traces, truths, fs, metric) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, fs=fs, **{f"trace_{i}": t for i, t in enumerate(traces)})
        subprocess.run([python, "-I", str(ROOT / "benchmarks" / "_oasis_worker.py"),
                        str(src), str(dst)], check=True, capture_output=True)
        out = np.load(dst)
        acts = [out[f"activity_{i}"] for i in range(len(traces))]
        g = np.array([out[f"g_{i}"][0] for i in range(len(traces))])
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = float(np.median(-1.0 / (fs * np.log(np.clip(g, 1e-9, 1 - 1e-9)))))
    value = float(np.mean([metric(a, s, fs) for a, s in zip(acts, truths, strict=True)]))
    return value, tau


def reference_python() -> str | None:
    script = ROOT.parent / "shared" / "tools" / "reference-env.sh"
    try:
        out = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip().splitlines()[-1]


def evaluate(name, traces, truths, fs, metric, args, python, truth_taus=None) -> dict:
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        glob = calab.suggest_params(padded(traces), fs)
        cell = calab.suggest_params(padded(traces), fs, per_cell=True)
    took = time.perf_counter() - began
    row = {"name": name, "suggest_s": took / 2,
           "suggest": score(traces, truths, fs, metric, glob["tau_rise"], glob["tau_decay"],
                            glob["lambda_"]),
           "per_cell": score(traces, truths, fs, metric, cell["tau_rise"], cell["tau_decay"],
                             cell["lambda_"]),
           "est": (glob["tau_rise"], glob["tau_decay"], glob["lambda_"]),
           "reliable": glob["details"]["reliable"]}
    noise = float(np.median(glob["details"]["noise"]))
    if truth_taus is None:
        row["grid"], row["grid_at"] = grid_search(traces, truths, fs, metric, noise, args.quick)
    else:  # the best lambda on a grid at the true time constants
        r, d = truth_taus
        lams = noise * LAM_FACTORS
        values = [score(traces, truths, fs, metric, r, d, lam) for lam in lams]
        row["grid"], row["grid_at"] = max(values), (r, d, float(lams[int(np.argmax(values))]))
        row["decay_ok"] = float(np.mean(np.abs(cell["details"]["tau_decay_cell"] / d - 1) <= .25))
        row["rise_ok"] = float(np.mean(np.abs(cell["details"]["tau_rise_cell"] / r - 1) <= .5))
        # the lambda rule alone: the best lambda of the grid at the suggested time constants
        at_est = [score(traces, truths, fs, metric, glob["tau_rise"], glob["tau_decay"], lam)
                  for lam in lams]
        row["lam_best_at_est"] = max(at_est)
        row["active"] = all(a.any() for a in deconvolve_cells(
            traces, fs, glob["tau_rise"], glob["tau_decay"], glob["lambda_"]))
    row["rise_resolved"] = glob["details"]["rise_resolved"]
    if python:
        row["oasis"], row["oasis_tau"] = oasis_scores(python, traces, truths, fs, metric)
    return row


def show(row: dict) -> None:
    r, d, lam = row["est"]
    gr, gd, glam = row["grid_at"]
    simulated = "decay_ok" in row  # its grid is over lambda at the true time constants
    text = (f"{row['name']:<26} suggest {row['suggest']:.3f}  per-cell {row['per_cell']:.3f}  "
            f"grid {row['grid']:.3f}  oasis {row.get('oasis', float('nan')):.3f} | "
            f"est rise {r * 1e3:5.1f} ms{'' if row['rise_resolved'] else ' (unresolved)'} "
            f"decay {d * 1e3:5.0f} ms lam {lam:.3g} | {'true' if simulated else 'grid'} rise "
            f"{gr * 1e3:4.0f} decay {gd * 1e3:5.0f}{'' if simulated else f' lam {glam:.3g}'}")
    if "oasis_tau" in row:
        text += f" | oasis decay {row['oasis_tau'] * 1e3:.0f} ms"
    if simulated:
        text += (f" | cells decay+-25% {row['decay_ok']:.2f} rise+-50% {row['rise_ok']:.2f}"
                 f" | lam grid at est taus {row['lam_best_at_est']:.3f}"
                 f"{'' if row['active'] else ' EMPTY ACTIVITY'}")
    text += f" | {row['suggest_s']:.2f} s{'' if row['reliable'] else ' UNRELIABLE'}"
    print(text, flush=True)


def time_suggestions(directory: Path) -> None:
    """Seconds per suggestion: 1,000 cells x 10 min at 30 Hz in memory; a 10,000-cell zarr store.

    The machine's load average is printed beside each figure (other work shares it).
    """
    import zarr

    fs, seconds = 30.0, 600.0
    block = calab.simulate(num_cells=1000, duration_s=seconds, fs=fs, seed=3).traces
    rng = np.random.default_rng(0)
    store = directory / "big.zarr"
    array = zarr.create_array(store=str(store), shape=(10_000, block.shape[1]),
                              chunks=(250, block.shape[1]), dtype="float32")
    for start in range(0, 10_000, 1000):  # the simulated block, fresh noise per copy
        noisy = block + 0.02 * rng.standard_normal(block.shape, dtype=np.float32)
        array[start:start + 1000] = noisy.astype(np.float32)
    stored = zarr.open_array(str(store), mode="r")
    np.save(directory / "block.npy", block)
    cold = ("import time; began = time.perf_counter(); import warnings, numpy, calab; "
            "warnings.simplefilter('ignore'); "
            f"calab.suggest_params(numpy.load({str(directory / 'block.npy')!r}), {fs}); "
            "print(time.perf_counter() - began)")
    took = float(subprocess.run([sys.executable, "-c", cold], check=True, capture_output=True,
                                text=True).stdout)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"suggest_params {'1,000 cells x 10 min, new process (with import)':<48} "
          f"{took:5.2f} s   (load average {load})", flush=True)
    cases = [("1,000 cells x 10 min, NumPy (first call)", block),
             ("1,000 cells x 10 min, NumPy (again)", block),
             ("10,000 cells x 10 min, zarr store on disk", stored),
             ("10,000 cells x 10 min, zarr, per cell", stored)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, traces in cases:
            began = time.perf_counter()
            calab.suggest_params(traces, fs, per_cell=label.endswith("per cell"))
            took = time.perf_counter() - began
            load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
            print(f"suggest_params {label:<48} {took:5.2f} s   (load average {load})",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarse grids, short simulations")
    parser.add_argument("--no-oasis", action="store_true", help="skip OASIS")
    parser.add_argument("--only", choices=("spikefinder", "simulated", "speed"))
    parser.add_argument("--snrs", default="5,10,20", help="simulated SNRs (default 5,10,20)")
    parser.add_argument("--cells", type=int, default=20, help="simulated cells per recording")
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="simulated recording length (default 300 s)")
    args = parser.parse_args()
    if args.only in (None, "speed"):
        with tempfile.TemporaryDirectory() as directory:
            time_suggestions(Path(directory))
        if args.only == "speed":
            return
    python = None if args.no_oasis else reference_python()
    print("correlation with true spikes (spikefinder: 40 ms bins; simulated: Gaussian 0.1 s)")
    if args.only != "simulated":
        for name, (traces, truths) in load_spikefinder(SPIKEFINDER).items():
            show(evaluate(name, traces, truths, 100.0, binned_correlation, args, python))
    if args.only != "spikefinder":
        seconds = min(args.seconds, 120.0) if args.quick else args.seconds
        cells = min(args.cells, 10) if args.quick else args.cells

        def smooth_corr(a, s, fs):
            return float(spike_correlation(a, s, fs))

        for preset in calab.INDICATOR_PRESETS:
            for snr in (float(v) for v in args.snrs.split(",")):
                sim = calab.simulate(num_cells=cells, duration_s=seconds, fs=30.0,
                                     indicator=preset, snr=snr, seed=7)
                show(evaluate(f"{preset} snr {snr:g}", list(sim.traces), list(sim.spikes),
                              30.0, smooth_corr, args, python, (sim.tau_rise, sim.tau_decay)))


if __name__ == "__main__":
    sys.exit(main())
