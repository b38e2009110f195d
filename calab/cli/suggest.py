"""``calab suggest INPUT``: rise, decay and sparsity suggested from the recording itself."""

from __future__ import annotations

import json
import warnings
from typing import Any

import click


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option("--fs", type=float, help="Sampling rate in Hz (required when the file has none).")
@click.option("--dataset", help="What to read inside the file (HDF5 key, Minian variable, "
              "NWB series).")
@click.option("--per-cell", is_flag=True, help="Also suggest one value per cell.")
@click.option("--max-cells", type=click.IntRange(min=1), default=200, show_default=True,
              help="Most cells read.")
@click.option("--max-seconds", type=click.FloatRange(min=1.0), default=600.0,
              show_default=True, help="Longest time window read (centred).")
@click.option("--export", "export_path", type=click.Path(dir_okay=False),
              help="Also write the suggestion as a CaTune export JSON (per-cell values in "
                   "its extra field calab_per_cell).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def suggest(input_path: str, fs: float | None, dataset: str | None, per_cell: bool,
            max_cells: int, max_seconds: float, export_path: str | None,
            as_json: bool) -> None:
    """Suggest tau_rise, tau_decay and lambda for INPUT from its own traces.

    Reads a subsample (cells spread over the recording, a centred time window)
    lazily, so large stores take seconds. The result is ready for
    `calab deconvolve` (`--json` prints it as one object; `details` says how
    reliable it is and which cells it rests on).
    """
    from calab.cli.options import USER_ERRORS, user_error
    from calab.core.suggest import SuggestionWarning, suggest_params
    from calab.io.opener import open_recording

    try:
        recording = open_recording(input_path, fs=fs, dataset=dataset)
        if recording.fs is None:
            raise click.UsageError(f"{input_path} {recording.missing_fs()}; pass --fs HZ")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SuggestionWarning)
            result = suggest_params(recording.traces, recording.fs, per_cell=per_cell,
                                    max_cells=max_cells, max_seconds=max_seconds)
    except USER_ERRORS as err:
        raise user_error(err) from None
    if export_path:
        _write_export(result, export_path, input_path)
    for warning in caught:
        if issubclass(warning.category, SuggestionWarning):
            click.echo(f"warning: {warning.message}", err=True)
    if as_json:
        from calab.io import to_json_value

        click.echo(json.dumps(result, default=to_json_value))
    else:
        click.echo(describe(result))


def _write_export(result: dict[str, Any], path: str, source: str) -> None:
    import numpy as np

    from calab.cli.options import user_error
    from calab.io.export import save_export_params
    from calab.io.paths import check_output_file

    if not path.endswith(".json"):
        raise click.UsageError(f"--export {path}: a CaTune export is a .json file; "
                               "choose a name ending in .json")
    try:
        check_output_file(path, source, argument="export")
    except ValueError as err:
        raise user_error(err) from None

    keys = ("tau_rise", "tau_decay", "lambda_")
    arrays = {k: result[k] for k in keys if np.ndim(result[k])}
    scalars = {k: float(np.median(result[k])) for k in keys}
    params = {**scalars, "fs": result["fs"], "filter_enabled": result["filter_enabled"]}
    try:
        save_export_params(params, path, per_cell=arrays or None,
                           metadata={"suggested": True,
                                     "reliable": bool(result["details"]["reliable"])})
    except (ValueError, TypeError, OSError) as err:
        raise user_error(err) from None


def describe(result: dict[str, Any]) -> str:
    """Human-readable summary of a suggestion."""
    import numpy as np

    details = result["details"]

    def first(value: Any) -> float:
        return float(np.median(value)) if np.ndim(value) else float(value)

    lines = [
        f"tau_rise  {first(result['tau_rise']) * 1e3:8.1f} ms",
        f"tau_decay {first(result['tau_decay']) * 1e3:8.1f} ms",
        f"lambda    {first(result['lambda_']):10.4g}",
        f"fs        {result['fs']:8.4g} Hz",
        f"based on {len(details['active'])} active of {len(details['cells'])} cells read "
        f"(samples {details['window'][0]}..{details['window'][1]}); median noise "
        f"{float(np.median(details['noise'])):.4g}",
        "reliable" if details["reliable"] else "UNRELIABLE: " + "; ".join(details["reasons"]),
        *(f"note: {note}" for note in details.get("notes", ())),
    ]
    if np.ndim(result["tau_decay"]):
        decay = np.asarray(result["tau_decay"]) * 1e3
        lines.insert(4, f"per cell: tau_decay {decay.min():.0f}..{decay.max():.0f} ms "
                        f"(median above)")
    return "\n".join(lines)
