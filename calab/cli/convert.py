"""``calab convert``: pipeline output (CaImAn, Minian, suite2p, NWB) to tuning data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from calab.cli.options import user_error

LOADER_FORMATS = ("caiman", "minian", "suite2p", "nwb")
ALL_FORMATS = (*LOADER_FORMATS, "npy", "tuning")
BUILTIN_KEYS = ("sampling_rate_hz", "num_cells", "num_timepoints", "source", "format")
# option name -> the one format it applies to
FORMAT_OPTIONS = {
    "add_residuals": "caiman",
    "only_accepted": "caiman",
    "neuropil_coefficient": "suite2p",
    "all_rois": "suite2p",
}


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(ALL_FORMATS),
    default=None,
    help="Format of INPUT; detected from the path when left out.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output stem: writes STEM.npy and STEM_metadata.json.",
)
@click.option("--fs", type=float, default=None, help="Sampling rate in Hz (overrides the file's).")
@click.option(
    "--dataset",
    default=None,
    help="CaImAn HDF5 key (estimates/C), Minian variable (C) or NWB series name.",
)
@click.option("--add-residuals", is_flag=True, help="CaImAn: write C + YrA instead of C.")
@click.option("--only-accepted", is_flag=True, help="CaImAn: keep estimates/idx_components only.")
@click.option(
    "--neuropil-coefficient",
    type=float,
    default=None,
    help="suite2p: F - coefficient * Fneu (default 0.7).",
)
@click.option("--all-rois", is_flag=True, help="suite2p: keep every ROI, not only iscell ones.")
@click.option("--overwrite", is_flag=True, help="Replace existing STEM.npy / STEM_metadata.json.")
def convert(input_path: Path, fmt: str | None, output: Path, fs: float | None, **options) -> None:
    """Convert INPUT (CaImAn .hdf5, Minian folder, suite2p plane, NWB) to tuning data.

    The traces are written as STEM.npy, (n_cells, n_timepoints) float64, with
    STEM_metadata.json holding the sampling rate and where the data came from,
    ready for `calab tune`, `calab deconvolve` or the CaTune web app.

    Example: calab convert suite2p/plane0 --format suite2p -o plane0 --fs 30
    """
    from calab.io.inputs import detect_format

    overwrite = options.pop("overwrite")
    try:
        fmt = fmt or detect_format(_existing(input_path))
        _check_option_formats(fmt, options)
        traces, meta = _load(input_path, fmt, fs, options)
    except (FileNotFoundError, KeyError, ValueError, TypeError, ImportError) as error:
        raise user_error(error) from None
    rate = meta["sampling_rate_hz"]
    if rate is None:
        raise click.UsageError(f"{input_path} stores no sampling rate; pass --fs HZ")
    written = _write(traces, rate, output, meta, overwrite)
    click.echo(
        f"wrote {written[0]} ({meta['num_cells']} cells x {meta['num_timepoints']} samples "
        f"at {rate:g} Hz) and {written[1]} from {fmt} input {input_path}"
    )


def _existing(path: Path) -> Path:
    if not path.exists() and not path.with_name(path.name + ".npy").exists():
        raise FileNotFoundError(f"INPUT not found: {str(path)!r}")
    return path if path.exists() else path.with_name(path.name + ".npy")


def _check_option_formats(fmt: str, options: dict[str, Any]) -> None:
    for name, owner in FORMAT_OPTIONS.items():
        if options[name] not in (None, False) and owner != fmt:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} applies to --format {owner} only, not {fmt}")


def _load(path: Path, fmt: str, fs: float | None, options: dict[str, Any]):
    from calab.io import loaders
    from calab.io.inputs import read_traces

    dataset = options["dataset"]
    key = {} if dataset is None else {"trace_key": dataset}
    if fmt == "caiman":
        flags = {k: options[k] for k in ("add_residuals", "only_accepted")}
        return loaders.load_caiman(path, fs=fs, **key, **flags)
    if fmt == "suite2p":
        if dataset is not None:
            raise ValueError(f"--dataset={dataset!r} is not used for suite2p input")
        coefficient = options["neuropil_coefficient"]
        return loaders.load_suite2p(
            path, 0.7 if coefficient is None else coefficient, not options["all_rois"], fs=fs
        )
    return read_traces(path, fs=fs, dataset=dataset, fmt=fmt)


def _write(traces: Any, fs: float, output: Path, meta: dict[str, Any], overwrite: bool):
    from calab.io.tuning import save_for_tuning, tuning_paths

    npy_path, json_path = tuning_paths(output)
    existing = [str(p) for p in (npy_path, json_path) if p.exists()]
    if existing and not overwrite:
        raise click.UsageError(
            f"{', '.join(existing)} already exist; pass --overwrite or another -o STEM"
        )
    extras = {k: v for k, v in meta.items() if k not in BUILTIN_KEYS}
    metadata = {"source_file": meta["source"], "source_format": meta["format"], **extras}
    try:
        save_for_tuning(traces, fs, output, metadata=metadata)
    except (ValueError, TypeError) as error:
        raise user_error(error, f"cannot write {output}") from None
    return npy_path, json_path
