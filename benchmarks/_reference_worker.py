"""Runs inside the reference environment (calab 0.3.0): times deconvolutions on request.

Protocol: one JSON request per stdin line ``{"case": DIR, "mode": "fft"|"banded", "out": PATH}``;
answers one JSON line ``{"seconds": float}`` and, when ``out`` is set, saves the activity there.
Used as a black box by core_vs_reference.py; it never reads the reference's source.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

import calab


def deconvolve(case: Path, mode: str) -> tuple[float, np.ndarray]:
    """The whole job from traces and export, timed as ours is: read the export, filter
    when it says so, deconvolve. (The reference's ``deconvolve_from_export`` has no
    ``conv_mode``, so its steps are spelled out here.)"""
    traces = np.load(case / "traces.npy")
    start = time.perf_counter()
    params = calab.load_export_params(case / "export.json")
    if params["filter_enabled"]:
        traces = np.stack(
            [calab.bandpass_filter(row, params["tau_rise"], params["tau_decay"], params["fs"])
             for row in traces]
        )
    activity = calab.run_deconvolution(
        traces, params["fs"], params["tau_rise"], params["tau_decay"], params["lambda_"],
        conv_mode=mode,
    )
    return time.perf_counter() - start, activity


def main() -> None:
    warm = np.random.default_rng(0).normal(size=(2, 300))
    calab.run_deconvolution(warm, 30.0, 0.1, 0.6, 1.0)
    calab.run_deconvolution(warm, 30.0, 0.1, 0.6, 1.0, conv_mode="banded")
    for line in sys.stdin:
        request = json.loads(line)
        seconds, activity = deconvolve(Path(request["case"]), request["mode"])
        if request.get("out"):
            np.save(request["out"], activity)
        print(json.dumps({"seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
