"""``calab demo``: simulate a recording, deconvolve it out of core, score it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from calab.cli.options import user_error

DEFAULT_CELLS = 1000
DEFAULT_MINUTES = 10.0


@click.command()
@click.argument("directory", metavar="[DIR]", default="demo-data",
                type=click.Path(file_okay=False))
@click.option("--cells", type=click.IntRange(min=1), default=DEFAULT_CELLS, show_default=True,
              help="Cells to simulate.")
@click.option("--minutes", type=click.FloatRange(min=0.1), default=DEFAULT_MINUTES,
              show_default=True, help="Recording length in minutes.")
@click.option("--fs", type=click.FloatRange(min=1.0), default=30.0, show_default=True,
              help="Frame rate in Hz.")
@click.option("--indicator", default="gcamp6f", show_default=True,
              help="Indicator preset of the simulator (e.g. gcamp6f, gcamp6s, jgcamp8f).")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulation seed.")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes of the "
              "embedded cluster (default: one per core).")
@click.option("--memory-limit", metavar="SIZE", help="Memory limit per worker, e.g. 2GB.")
@click.option("--scheduler", metavar="ADDRESS", help="Run on an existing Dask scheduler "
              "instead of the embedded cluster.")
@click.option("--chunk-cells", type=click.IntRange(min=1), help="Cells per block.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
def demo(directory: str, cells: int, minutes: float, fs: float, indicator: str, seed: int,
         workers: int | None, memory_limit: str | None, scheduler: str | None,
         chunk_cells: int | None, as_json: bool) -> None:
    """Simulate a recording into DIR (default ./demo-data), deconvolve it out of core
    on Dask with a progress bar, and report throughput and accuracy.

    \b
    DIR/recording.zarr    simulated traces (+ ground-truth spikes)
    DIR/params.json       the parameters, as a CaTune export
    DIR/deconvolved.zarr  the deconvolved activity
    """
    from calab.cli.progress import ProgressBar
    from calab.engine import deconvolve_zarr
    from calab.engine.demo import (
        TRACES,
        score_against_truth,
        suggest_for_recording,
        write_simulated_recording,
    )
    from calab.io.export import save_export_params

    folder = Path(directory)
    say = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    try:
        folder.mkdir(parents=True, exist_ok=True)
        say(f"simulating {cells:,} cells x {minutes:g} min at {fs:g} Hz ({indicator}) "
            f"-> {folder / 'recording.zarr'}")
        began = time.perf_counter()
        rec = write_simulated_recording(folder / "recording.zarr", n_cells=cells,
                                        duration_s=minutes * 60.0, fs=fs,
                                        indicator=indicator, seed=seed)
        simulated_s = time.perf_counter() - began
        suggestion = suggest_for_recording(rec.path, rec.fs)
        params = {key: suggestion[key] for key in ("tau_rise", "tau_decay", "lambda_", "fs")}
        say(f"suggested from the data: tau_rise={params['tau_rise']:.3g} s, "
            f"tau_decay={params['tau_decay']:.3g} s, lambda={params['lambda_']:.3g} "
            f"(simulated with tau_rise={rec.tau_rise:g} s, tau_decay={rec.tau_decay:g} s)")
        save_export_params(params, folder / "params.json",
                           metadata={"num_cells": cells, "num_timepoints": rec.n_timepoints})
        where = f"the cluster at {scheduler}" if scheduler else "an embedded Dask cluster"
        say(f"deconvolving out of core on {where} (tau_rise={params['tau_rise']:.3g} s, "
            f"tau_decay={params['tau_decay']:.3g} s, lambda={params['lambda_']:.3g})")
        with ProgressBar(label="deconvolve", cells_total=cells) as bar:
            summary = deconvolve_zarr(
                rec.path, folder / "deconvolved.zarr", params, dataset=TRACES,
                scheduler=scheduler, n_workers=workers, memory_limit=memory_limit,
                chunk_cells=chunk_cells, resume=False, progress=bar)
        scores = score_against_truth(rec.path, folder / "deconvolved.zarr", rec.fs)
    except (ValueError, TypeError, OSError, RuntimeError) as err:
        raise user_error(err) from None
    report = _report(summary, scores, rec, simulated_s)
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(_describe(report))


def _report(summary: dict[str, Any], scores: Any, rec: Any, simulated_s: float) -> dict:
    import numpy as np

    finite = scores[np.isfinite(scores)]
    recorded_s = rec.n_cells * rec.n_timepoints / rec.fs
    return {
        **summary,
        "simulate_s": round(simulated_s, 3),
        "cell_seconds_per_s": round(recorded_s / summary["wall_s"], 1),
        "spike_corr_median": round(float(np.median(finite)), 4) if finite.size else None,
        "spike_corr_p10": round(float(np.percentile(finite, 10)), 4) if finite.size else None,
        "scored_cells": int(finite.size),
        "recording": str(rec.path),
    }


def _describe(report: dict[str, Any]) -> str:
    return "\n".join([
        f"throughput: {report['cells']:,} cells x {report['timepoints']:,} samples in "
        f"{report['wall_s']:.1f} s = {report['cells_per_s']:.1f} cells/s on "
        f"{report['workers']} workers, cluster start-up included "
        f"({report['cell_seconds_per_s']:,.0f} cell-seconds of recording per second)",
        f"accuracy vs ground truth: median spike correlation {report['spike_corr_median']} "
        f"(10th percentile {report['spike_corr_p10']}) over {report['scored_cells']:,} cells",
        f"output: {report['output']}  (zarr group: activity, done; params in its attrs)",
    ])
