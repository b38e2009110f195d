"""``calab deconvolve``: a zarr recording out of core, or an ``.npy`` in memory."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from calab.cli.options import (
    auto_from_flags,
    parameter_options,
    params_from_flags,
    solver_options,
)
from calab.core.options import DeconvolutionOptions
from calab.io.paths import check_output_file


@click.command()
@click.argument("input_path", metavar="INPUT", type=str)
@parameter_options
@click.option("-o", "--output", type=str, metavar="PATH",
              help="OUTPUT.zarr for zarr input (required); OUTPUT.npy for .npy input "
                   "(default activity.npy; an earlier result there is replaced, the input "
                   "or another tuning recording never).")
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
@click.option("--to", "to", type=click.Choice(["npy", "nwb", "suite2p", "minian", "caiman"]),
              help="Destination layout for in-memory input (default: nwb for -o *.nwb or "
              "--append, else npy); suite2p/minian/caiman write into the input under a new name.")
@click.option("--append", is_flag=True, help="NWB input: add the Deconvolved series to the "
              "input file itself (through a temporary copy) instead of -o OUT.nwb.")
@click.option("--name", "out_name", metavar="NAME", help="Name of the new NWB series, suite2p "
              "file stem, Minian variable or CaImAn dataset (defaults: Deconvolved, spks_calab, "
              "S_calab, S_calab).")
@click.option("--storage-options", "storage_options", metavar="JSON",
              help="fsspec options for URL input/output (s3://, gs://), e.g. "
              "'{\"client_kwargs\": {\"endpoint_url\": \"http://minio:9000\"}}'; "
              "AWS_* environment variables fill the rest.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
def deconvolve(input_path: str, params_path: Path | None, fs: float | None,
               tau_rise: float | None, tau_decay: float | None, lam: float | None,
               filter_enabled: bool | None, output: str | None, dataset: str | None,
               full: bool, conv_mode: str, max_iters: int, constraint: str, tol: float,
               nan_policy: str, scheduler: str | None, workers: int | None,
               memory_limit: str | None, chunk_cells: int | None, no_resume: bool,
               to: str | None, append: bool, out_name: str | None,
               storage_options: str | None, as_json: bool) -> None:
    """Deconvolve INPUT: a zarr store (out of core, on Dask), or in memory an .npy,
    .npz, tuning data, HDF5 or a CaImAn (.hdf5), Minian (folder), suite2p (plane folder)
    or NWB output.

    \b
    Examples:
      calab deconvolve rec.zarr --params export.json -o rec_deconv.zarr
      calab deconvolve rec.zarr --fs 30 --tau-rise 0.1 --tau-decay 0.6 --lam 0.5 \\
          --filter -o out.zarr --scheduler tcp://10.0.0.5:8786 --json
      calab deconvolve traces.npy --params export.json -o activity.npy --full
      calab deconvolve traces.npy --fs 30 --params auto -o activity.npy
      calab deconvolve session.nwb --params export.json -o session_deconvolved.nwb
      calab deconvolve suite2p/plane0 --params export.json --to suite2p

    `--params auto` suggests the parameters from the recording itself
    (see `calab suggest`) and reports them in the summary ("suggested").
    """
    from calab.io.opener import open_recording

    flags = (params_path, fs, tau_rise, tau_decay, lam, filter_enabled)
    solver: dict[str, Any] = {"conv_mode": conv_mode, "max_iters": max_iters,
                              "constraint": constraint, "tol": tol, "nan_policy": nan_policy}
    try:
        from calab.cli.destinations import choose_destination
        from calab.io.storage import parse_storage_options, resolve_storage_options

        destination = {"to": choose_destination(to, output, append), "name": out_name}
        stores = parse_storage_options(storage_options)
        recording = open_recording(input_path, fs=fs, dataset=dataset,
                                   storage_options=resolve_storage_options(input_path, stores))
        auto = auto_from_flags(*flags) is not None
        if auto and recording.fs is None:
            raise click.UsageError("--params auto needs the sampling rate: pass --fs HZ")
        out_of_core = destination["to"] == "npy" and not (to or append or out_name) and \
            _out_of_core(recording, output)
        if out_of_core:  # the engine suggests (and records it in the output's attributes)
            params = {"auto": True, "fs": recording.fs,
                      "filter_enabled": bool(filter_enabled)} if auto else \
                DeconvolutionOptions.from_params(
                    params_from_flags(*flags, fs_fallback=recording.fs), **solver).to_params()
            summary = _run_zarr(input_path, str(output), params, recording.n_cells,
                                dataset=recording.dataset, full=full, scheduler=scheduler,
                                workers=workers, memory_limit=memory_limit,
                                chunk_cells=chunk_cells, resume=not no_resume,
                                storage_options=stores, **solver)
        else:
            params, suggested = _suggest(recording, filter_enabled) if auto else (
                params_from_flags(*flags, fs_fallback=recording.fs), None)
            options = DeconvolutionOptions.from_params(params, **solver)
            recording.with_fs(options.fs)  # an export's fs must agree with the file's too
            summary = _run_in_memory(recording, output, options, full=full,
                                     destination=destination, suggested=suggested)
        if auto:
            _report_suggestion(summary["suggested"])
    except KeyboardInterrupt:
        click.echo("\ninterrupted; finished blocks are kept, rerun the same command to "
                   "resume", err=True)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(_human_summary(summary), err=True)


def _suggest(recording: Any, filter_enabled: bool | None
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """In memory: flat parameters suggested from the recording, and their record."""
    from calab.engine.suggested import suggest_for_run

    return suggest_for_run(recording, {"fs": recording.fs,
                                       "filter_enabled": bool(filter_enabled)})


def _report_suggestion(record: dict[str, Any]) -> None:
    if not record["reliable"]:
        click.echo("warning: the suggestion is unreliable: " + "; ".join(record["reasons"]),
                   err=True)
    click.echo(f"suggested from the data: tau_rise={record['tau_rise']:.4g} s, "
               f"tau_decay={record['tau_decay']:.4g} s, lambda={record['lambda_']:.4g}",
               err=True)


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
                   full: bool, destination: dict[str, Any],
                   suggested: dict[str, Any] | None = None) -> dict[str, Any]:
    import numpy as np

    from calab.api import deconvolve_with_options  # the solver loads only when used

    out = Path(output or "activity.npy")
    if destination["to"] == "npy" and out.suffix != ".npy":
        raise click.UsageError(f"-o {output}: .npy input is written to an .npy file "
                               "(use OUTPUT.npy, or a zarr input for zarr output)")
    if destination["to"] == "npy":  # never over the recording: checked before solving
        for written in (out, *(_diagnostic_paths(out) if full else ())):
            check_output_file(written, recording.source)
    traces = recording.read()
    began = time.perf_counter()
    result = deconvolve_with_options(traces, options)
    wall = time.perf_counter() - began
    extra = {} if suggested is None else {"suggested": suggested}
    if destination["to"] == "npy":
        np.save(out, result.activity)
        if full:
            _save_diagnostics(out, result, extra)
        written = str(out)
    else:
        from calab.cli.destinations import write_destination

        # the writers' provenance records the parameters, and how they were chosen
        written = write_destination(destination["to"], result, recording,
                                    {**options.to_params(), **extra}, output=output,
                                    full=full, name=destination["name"])
    cells = 1 if traces.ndim == 1 else traces.shape[0]
    return {"blocks_total": 1, "blocks_skipped": 0, "blocks_computed": 1, "cells": cells,
            "timepoints": int(traces.shape[-1]), "wall_s": round(wall, 3),
            "cells_per_s": round(cells / wall, 2) if wall else 0.0, "output": written, **extra}


def _diagnostic_paths(out: Path) -> tuple[Path, Path]:
    """Where ``--full`` writes the reconvolution and the per-cell info beside ``out``."""
    stem = out.with_suffix("")
    return Path(f"{stem}_reconvolution.npy"), Path(f"{stem}_info.json")


def _save_diagnostics(out: Path, result: Any, extra: dict[str, Any]) -> None:
    import numpy as np

    reconvolution, info_path = _diagnostic_paths(out)
    np.save(reconvolution, result.reconvolution)
    info = {key: np.atleast_1d(getattr(result, key)).tolist()
            for key in ("baseline", "iterations", "converged")}
    info_path.write_text(json.dumps({**info, **extra}, indent=2))


def _human_summary(summary: dict[str, Any]) -> str:
    skipped = summary["blocks_skipped"]
    resumed = f", {skipped} already done" if skipped else ""
    return (f"deconvolved {summary['cells']} cells x {summary['timepoints']} timepoints: "
            f"{summary['blocks_computed']} of {summary['blocks_total']} blocks computed"
            f"{resumed} in {summary['wall_s']:.1f} s ({summary['cells_per_s']:.1f} cells/s)"
            f" -> {summary['output']}")
