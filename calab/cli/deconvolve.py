"""``calab deconvolve``: a zarr recording out of core, or an ``.npy`` in memory."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from calab.cli.options import parameter_options, params_from_flags, solver_options
from calab.core.options import DeconvolutionOptions


@click.command()
@click.argument("input_path", metavar="INPUT", type=str)
@parameter_options
@click.option("-o", "--output", type=str, metavar="PATH",
              help="OUTPUT.zarr for zarr input (required); OUTPUT.npy for .npy input "
                   "(default activity.npy).")
@click.option("--dataset", help="Array inside a zarr group or .npz; the HDF5 key (CaImAn, "
              "HDF5), variable (Minian) or series (NWB) of a pipeline output.")
@click.option("--full", is_flag=True, help="Also write baseline, reconvolution, iterations, "
              "converged.")
@solver_options
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler to run on (default: "
              "$DASK_SCHEDULER_ADDRESS, else an embedded cluster).")
@click.option("--workers", type=click.IntRange(min=1), help="Embedded cluster: worker "
              "processes (default: one per core).")
@click.option("--memory-limit", metavar="SIZE", help="Embedded cluster: memory limit per "
              "worker, e.g. 2GB.")
@click.option("--chunk-cells", type=click.IntRange(min=1), help="Cells per block "
              "(default: chosen by bytes).")
@click.option("--no-resume", is_flag=True, help="Overwrite an existing output instead of "
              "finishing it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
def deconvolve(input_path: str, params_path: Path | None, fs: float | None,
               tau_rise: float | None, tau_decay: float | None, lam: float | None,
               filter_enabled: bool | None, output: str | None, dataset: str | None,
               full: bool, conv_mode: str, max_iters: int, constraint: str, tol: float,
               nan_policy: str, scheduler: str | None, workers: int | None,
               memory_limit: str | None, chunk_cells: int | None, no_resume: bool,
               as_json: bool) -> None:
    """Deconvolve INPUT: a zarr store (out of core, on Dask), or in memory an .npy,
    .npz, tuning data, HDF5 or a CaImAn (.hdf5), Minian (folder), suite2p (plane folder)
    or NWB output.

    \b
    Examples:
      calab deconvolve rec.zarr --params export.json -o rec_deconv.zarr
      calab deconvolve rec.zarr --fs 30 --tau-rise 0.1 --tau-decay 0.6 --lam 0.5 \\
          --filter -o out.zarr --scheduler tcp://10.0.0.5:8786 --json
      calab deconvolve traces.npy --params export.json -o activity.npy --full
    """
    from calab.io.opener import open_recording

    flags = (params_path, fs, tau_rise, tau_decay, lam, filter_enabled)
    solver: dict[str, Any] = {"conv_mode": conv_mode, "max_iters": max_iters,
                              "constraint": constraint, "tol": tol, "nan_policy": nan_policy}
    try:
        recording = open_recording(input_path, fs=fs, dataset=dataset)
        options = DeconvolutionOptions.from_params(
            params_from_flags(*flags, fs_fallback=recording.fs), **solver)
        recording.with_fs(options.fs)  # an export's fs must agree with the file's too
        if _out_of_core(recording, output):
            summary = _run_zarr(input_path, str(output), options.to_params(), recording.n_cells,
                                dataset=recording.dataset, full=full, scheduler=scheduler,
                                workers=workers, memory_limit=memory_limit,
                                chunk_cells=chunk_cells, resume=not no_resume, **solver)
        else:
            summary = _run_in_memory(recording, output, options, full=full)
    except KeyboardInterrupt:
        click.echo("\ninterrupted; finished blocks are kept, rerun the same command to "
                   "resume", err=True)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(_human_summary(summary), err=True)


def _out_of_core(recording: Any, output: str | None) -> bool:
    """A zarr-backed recording (zarr, Minian) runs out of core into a zarr output group."""
    if recording.format not in ("zarr", "minian"):
        return False
    if not output:
        raise click.UsageError("zarr input needs -o OUTPUT.zarr")
    if output.endswith(".npy"):
        raise click.UsageError(f"-o {output}: zarr input is written to a zarr group; "
                               "use an OUTPUT.zarr path")
    return True


def _run_zarr(input_path: str, output: str, params: dict, n_cells: int, *,
              workers: int | None, **options: Any) -> dict[str, Any]:
    from calab.cli.progress import ProgressBar
    from calab.engine import deconvolve_zarr

    with ProgressBar(label="deconvolve", cells_total=n_cells) as bar:
        return deconvolve_zarr(input_path, output, params, n_workers=workers, progress=bar,
                               **options)


def _run_in_memory(recording: Any, output: str | None, options: DeconvolutionOptions, *,
                   full: bool) -> dict[str, Any]:
    import numpy as np

    from calab.api import deconvolve_with_options  # the solver loads only when used

    out = Path(output or "activity.npy")
    if out.suffix != ".npy":
        raise click.UsageError(f"-o {output}: .npy input is written to an .npy file "
                               "(use OUTPUT.npy, or a zarr input for zarr output)")
    traces = recording.read()
    began = time.perf_counter()
    result = deconvolve_with_options(traces, options)
    wall = time.perf_counter() - began
    np.save(out, result.activity)
    if full:
        _save_diagnostics(out, result)
    cells = 1 if traces.ndim == 1 else traces.shape[0]
    return {"blocks_total": 1, "blocks_skipped": 0, "blocks_computed": 1, "cells": cells,
            "timepoints": int(traces.shape[-1]), "wall_s": round(wall, 3),
            "cells_per_s": round(cells / wall, 2) if wall else 0.0, "output": str(out)}


def _save_diagnostics(out: Path, result: Any) -> None:
    import numpy as np

    stem = out.with_suffix("")
    np.save(f"{stem}_reconvolution.npy", result.reconvolution)
    info = {key: np.atleast_1d(getattr(result, key)).tolist()
            for key in ("baseline", "iterations", "converged")}
    Path(f"{stem}_info.json").write_text(json.dumps(info, indent=2))


def _human_summary(summary: dict[str, Any]) -> str:
    skipped = summary["blocks_skipped"]
    resumed = f", {skipped} already done" if skipped else ""
    return (f"deconvolved {summary['cells']} cells x {summary['timepoints']} timepoints: "
            f"{summary['blocks_computed']} of {summary['blocks_total']} blocks computed"
            f"{resumed} in {summary['wall_s']:.1f} s ({summary['cells_per_s']:.1f} cells/s)"
            f" -> {summary['output']}")
