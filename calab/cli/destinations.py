"""Where ``calab deconvolve`` puts an in-memory result: ``--to`` and its inference.

=========  ============================================================  ==========
``--to``   writes                                                        input
=========  ============================================================  ==========
npy        ``-o OUT.npy`` (default ``activity.npy``)                     any
nwb        ``-o OUT.nwb``: a copy of the input with ``Deconvolved``;     NWB
           ``--append``: into the input itself
suite2p    ``spks_calab.npy`` (+ ``.json``) in the plane folder          suite2p
minian     ``S_calab.zarr`` in Minian's output folder                    Minian
caiman     ``estimates/S_calab`` in the CaImAn HDF5 file                 CaImAn
=========  ============================================================  ==========

Without ``--to``: ``-o *.nwb`` or ``--append`` means nwb, anything else npy.
``--name`` renames the new series, file, store or dataset.
"""

from __future__ import annotations

from typing import Any

import click

DESTINATIONS = ("npy", "nwb", "suite2p", "minian", "caiman")


def choose_destination(to: str | None, output: str | None, append: bool) -> str:
    """The destination asked for, given or inferred from ``-o`` and ``--append``."""
    if to is None:
        to = "nwb" if append or (output or "").lower().endswith(".nwb") else "npy"
    if append and to != "nwb":
        raise click.UsageError(f"--append writes into an NWB input; it does not apply to --to {to}")
    if to == "nwb" and output is None and not append:
        raise click.UsageError("--to nwb needs -o OUTPUT.nwb (a copy of the input) or --append "
                               "(into the input itself)")
    if to in ("suite2p", "minian", "caiman") and output is not None:
        raise click.UsageError(f"--to {to} writes into the input's own folder or file; drop "
                               f"-o {output} (use --name to choose the new name)")
    return to


def write_destination(to: str, result: Any, recording: Any, params: dict[str, Any], *,
                      output: str | None, full: bool, name: str | None) -> str:
    """Write ``result`` to destination ``to``; returns what was written (path or key).

    ``recording`` is the input as :func:`calab.open_recording` opened it: its
    ``format``, ``source``, ``dataset`` (the NWB series) and ``cell_ids``
    (suite2p's kept ROI rows, Minian's ``unit_id``, CaImAn's kept components).
    """
    fmt, source = recording.format, recording.source
    if fmt != to:
        raise click.UsageError(f"--to {to} needs {to} input; {source!r} was read as {fmt}")
    names = {} if name is None else {"name": name}
    if to == "nwb":
        from calab.io.writers.nwb import save_nwb

        written = save_nwb(result if full else result.activity, source, output,
                           series=recording.dataset, params=params, full=full, **names)
        return str(written)
    if to == "suite2p":
        from calab.io.writers.suite2p import save_suite2p

        return str(save_suite2p(result.activity, source, roi_indices=recording.cell_ids,
                                params=params, **names))
    if to == "minian":
        from calab.io.writers.minian import save_minian

        return str(save_minian(result.activity, source, unit_ids=recording.cell_ids,
                               params=params, **names))
    from calab.io.writers.caiman import save_caiman

    key = save_caiman(result.activity, source, component_indices=recording.cell_ids,
                      params=params, **names)
    return f"{source}:{key}"
