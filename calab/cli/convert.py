"""``calab convert``: pipeline output (CaImAn, Minian, suite2p, NWB) to tuning data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from calab.cli.options import user_error

ALL_FORMATS = ("caiman", "minian", "suite2p", "nwb", "npy", "npz", "tuning", "zarr", "hdf5")
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
@click.option("--fs", type=float, default=None,
              help="Sampling rate in Hz (needed when the file records none; must agree "
                   "with the file's otherwise).")
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
    """Convert INPUT (CaImAn .hdf5, Minian folder, suite2p plane, NWB, or anything else
    calab.open_recording reads) to tuning data.

    The traces are written as STEM.npy, (n_cells, n_timepoints) float64, with
    STEM_metadata.json holding the sampling rate and where the data came from,
    ready for `calab tune`, `calab deconvolve` or the CaTune web app.

    Example: calab convert suite2p/plane0 --format suite2p -o plane0 --fs 30
    """
    from calab.errors import CalabError

    overwrite = options.pop("overwrite")
    try:
        recording = _open(str(input_path), fmt, fs, options)
    except (CalabError, OSError, ValueError, TypeError) as error:
        raise user_error(error) from None
    rate = recording.fs
    if rate is None:
        raise click.UsageError(f"{input_path} stores no sampling rate; pass --fs HZ")
    written = _write(recording, rate, output, overwrite)
    click.echo(
        f"wrote {written[0]} ({recording.n_cells} cells x {recording.n_timepoints} samples "
        f"at {rate:g} Hz) and {written[1]} from {recording.format} input {input_path}"
    )


def _check_option_formats(fmt: str, options: dict[str, Any]) -> None:
    for name, owner in FORMAT_OPTIONS.items():
        if options[name] not in (None, False) and owner != fmt:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} applies to --format {owner} only, not {fmt}")


def _open(path: str, fmt: str | None, fs: float | None, options: dict[str, Any]) -> Any:
    """The recording, through the one opener (with the CaImAn/suite2p options)."""
    from calab.io.loaders.caiman import open_caiman
    from calab.io.loaders.suite2p import open_suite2p
    from calab.io.opener import detect_format, open_recording
    from calab.io.paths import locate

    fmt = fmt or detect_format(path)
    _check_option_formats(fmt, options)
    dataset = options["dataset"]
    if fmt == "caiman":
        flags = {k: options[k] for k in ("add_residuals", "only_accepted")}
        return open_caiman(locate(path), path, dataset, **flags).with_fs(fs)
    if fmt == "suite2p":
        coefficient = options["neuropil_coefficient"]
        recording = open_suite2p(
            locate(path), path, dataset, only_cells=not options["all_rois"],
            neuropil_coefficient=0.7 if coefficient is None else coefficient)
        return recording.with_fs(fs)
    return open_recording(path, fs=fs, dataset=dataset, format=fmt)


def _write(recording: Any, fs: float, output: Path, overwrite: bool) -> tuple[Path, Path]:
    from calab.io.tuning import save_for_tuning, tuning_paths

    npy_path, json_path = tuning_paths(output)
    existing = [str(p) for p in (npy_path, json_path) if p.exists()]
    if existing and not overwrite:
        raise click.UsageError(
            f"{', '.join(existing)} already exist; pass --overwrite or another -o STEM"
        )
    meta = recording.meta()
    extras = {k: v for k, v in meta.items() if k not in BUILTIN_KEYS}
    metadata = {"source_file": meta["source"], "source_format": meta["format"], **extras}
    try:
        save_for_tuning(recording.read(), fs, output, metadata=metadata)
    except (ValueError, TypeError) as error:
        raise user_error(error, f"cannot write {output}") from None
    return npy_path, json_path
