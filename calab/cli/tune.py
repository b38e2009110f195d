"""``calab tune`` and ``calab app``: interactive tuning in the browser."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from calab.cli.options import fs_option

DEFAULT_FS = 30.0


def _resolve_input(path: str, fs: float | None) -> tuple[Any, float]:
    """The recording for :func:`calab.tune` and its sampling rate (Hz).

    The file's own rate (tuning sidecar, CaImAn, suite2p, NWB, zarr attributes)
    is used; ``--fs`` must agree with it. Without either, 30 Hz is assumed.
    """
    from calab.errors import CalabError
    from calab.io.opener import open_recording

    try:
        recording = open_recording(path, fs=fs)
    except (CalabError, OSError) as error:
        raise click.BadParameter(str(error), param_hint="INPUT") from None
    if recording.fs is None:
        click.echo(f"calab tune: {path} records no sampling rate and no --fs was given; "
                   f"assuming --fs {DEFAULT_FS:g}", err=True)
        return recording, DEFAULT_FS
    return recording, recording.fs


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
def tune(input_path: str, fs: float | None, port: int | None, no_browser: bool,
         timeout: float | None, max_cells: int) -> None:
    """Tune kernel and sparsity on INPUT in the browser; print the parameters as JSON.

    INPUT is anything calab.open_recording reads: a .npy or .npz file, a
    tuning-data stem (STEM.npy + STEM_metadata.json), a zarr store, an HDF5
    file, or a CaImAn (.hdf5), Minian (folder or C.zarr), suite2p (plane
    folder) or NWB (.nwb) output. The app's URL goes to stderr; the exported
    parameters go to stdout. Exit status 1 when nothing was exported.
    """
    from calab.server.tune import tune as run_tune

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
