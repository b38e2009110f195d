"""``calab tune`` and ``calab app``: interactive tuning in the browser."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from calab.cli.options import fs_option


def _resolve_input(path: str, fs: float | None) -> tuple[Any, float]:
    """The traces source for :func:`calab.tune` and its sampling rate (Hz)."""
    source = Path(path)
    pipeline = _pipeline_input(source, fs)
    if pipeline is not None:
        return pipeline
    stem = source.with_suffix("") if source.suffix.lower() in (".npy", ".json") else source
    if Path(f"{stem}_metadata.json").is_file() and Path(f"{stem}.npy").is_file():
        from calab.io.tuning import load_tuning_data

        traces, metadata = load_tuning_data(stem)
        return traces, fs if fs is not None else float(metadata["sampling_rate_hz"])
    if not source.exists():
        raise click.BadParameter(
            f"{path!r} does not exist (expected .npy, a tuning-data stem, a zarr store or .h5)",
            param_hint="INPUT",
        )
    if source.suffix.lower() not in (".npy", ".h5", ".hdf5") and not source.is_dir():
        raise click.BadParameter(
            f"{path!r}: unsupported input; use .npy, a tuning-data stem, a zarr store or .h5",
            param_hint="INPUT",
        )
    if fs is None:
        fs = _stored_fs(source)
    if fs is None:
        click.echo("calab tune: no sampling rate given or stored; assuming --fs 30", err=True)
        fs = 30.0
    return str(source), fs


def _url_input(url: str, fs: float | None, dataset: str | None,
               storage_options: str | None) -> tuple[Any, float]:
    """A zarr recording on object storage as a lazy array, and its sampling rate."""
    from calab.engine.inputs import open_input_array
    from calab.engine.sources import dask_from_zarr
    from calab.io.storage import parse_storage_options, resolve_storage_options

    options = resolve_storage_options(url, parse_storage_options(storage_options))
    array = open_input_array(url, dataset, options)
    if fs is None:
        stored = array.attrs.get("sampling_rate_hz") or array.attrs.get("fs")
        fs = float(stored) if isinstance(stored, (int, float)) else None
    if fs is None:
        click.echo("calab tune: no sampling rate given or stored; assuming --fs 30", err=True)
        fs = 30.0
    return dask_from_zarr(array), fs


def _pipeline_input(source: Path, fs: float | None) -> tuple[Any, float] | None:
    """A CaImAn, Minian, suite2p or NWB output, read lazily; None for other inputs."""
    from calab.io.inputs import detect_format, read_traces

    if not source.exists() or (source.is_dir() and not _is_pipeline_folder(source)):
        return None
    try:
        fmt = detect_format(source)
    except ValueError:
        return None
    if fmt not in ("caiman", "minian", "suite2p", "nwb"):
        return None
    try:
        traces, meta = read_traces(source, fs=fs, fmt=fmt, lazy=True)
    except KeyError as error:
        if fmt == "caiman":  # an HDF5 file without CaImAn's layout: the generic reader
            return None
        raise click.BadParameter(str(error), param_hint="INPUT") from error
    except (ValueError, ImportError) as error:
        raise click.BadParameter(str(error), param_hint="INPUT") from error
    rate = meta.get("sampling_rate_hz")
    if rate is None:
        raise click.BadParameter(
            f"{str(source)!r} records no sampling rate; pass --fs HZ", param_hint="INPUT"
        )
    return traces, float(rate)


def _is_pipeline_folder(source: Path) -> bool:
    """A suite2p plane folder or a Minian output folder (not a bare zarr store)."""
    return (source / "F.npy").is_file() or any(source.glob("plane*")) or any(
        source.glob("*.zarr")
    )


def _stored_fs(source: Path) -> float | None:
    """A sampling rate recorded in a zarr store's attributes, if any."""
    if not source.is_dir():
        return None
    for name in ("zarr.json", ".zattrs"):
        meta = source / name
        if meta.is_file():
            try:
                document = json.loads(meta.read_text())
            except ValueError:
                return None
            attrs = document.get("attributes", document)
            for key in ("sampling_rate_hz", "fs"):
                if isinstance(attrs.get(key), (int, float)):
                    return float(attrs[key])
    return None


def _emit(params: dict[str, Any] | None) -> None:
    if params is None:
        sys.exit(1)
    click.echo(json.dumps(params))


@click.command()
@click.argument("input_path", metavar="INPUT")
@fs_option
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@click.option("--timeout", type=float, default=None, help="Give up after S seconds.")
@click.option("--cells", "max_cells", type=int, default=64, show_default=True,
              help="Most cells shown (chosen across the SNR range).")
@click.option("--dataset", help="Array inside a zarr group given as a URL.")
@click.option("--storage-options", "storage_options", metavar="JSON",
              help="fsspec options for a zarr store given as a URL (s3://, gs://); AWS_* "
              "environment variables fill the rest.")
def tune(input_path: str, fs: float | None, port: int | None, no_browser: bool,
         timeout: float | None, max_cells: int, dataset: str | None,
         storage_options: str | None) -> None:
    """Tune kernel and sparsity on INPUT in the browser; print the parameters as JSON.

    INPUT is a .npy file, a tuning-data stem (STEM.npy + STEM_metadata.json),
    a zarr store, an .h5 file, or a CaImAn (.hdf5), Minian (folder), suite2p
    (plane folder) or NWB (.nwb) output. The app's URL goes to stderr; the exported
    parameters go to stdout. Exit status 1 when nothing was exported.
    """
    from calab.server.tune import tune as run_tune

    if "://" in input_path:
        source, fs = _url_input(input_path, fs, dataset, storage_options)
    else:
        source, fs = _resolve_input(input_path, fs)
    params = run_tune(source, fs=fs, timeout=timeout, port=port,
                      open_browser=not no_browser, max_cells=max_cells)
    _emit(params)


@click.command()
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@click.option("--timeout", type=float, default=None, help="Give up after S seconds.")
def app(port: int | None, no_browser: bool, timeout: float | None) -> None:
    """Open the tuning app without data: drop a .npy/.npz file onto it.

    Blocks until "Export to Python" (the parameters are printed as JSON),
    Ctrl-C, the timeout, or the page closing.
    """
    import webbrowser

    from calab.server.tune import TuningRun, announce

    try:
        run = TuningRun(None, port=port).start()
    except OSError as error:
        raise click.ClickException(str(error)) from None
    try:
        announce(run.url)
        if not no_browser:
            webbrowser.open(run.url)
        params = run.wait(timeout)
    except KeyboardInterrupt:
        params = run.give_up("interrupted", "interrupted")
    finally:
        run.close()
    _emit(params)
