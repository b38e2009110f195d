"""The output group: arrays, provenance attributes and the completion record.

Layout (plain zarr v3, readable without calab)::

    OUTPUT.zarr/
      activity        float32 (n_cells, n_timepoints), chunks (chunk_cells, n_timepoints)
      baseline        float64 (n_cells,)        } only with full=True
      reconvolution   float32 (n_cells, n_timepoints)
      iterations      int32   (n_cells,)
      converged       bool    (n_cells,)
      input_checksum  uint64  (n_blocks,), one chunk per block: checksum of the input it read
      done            uint8   (n_blocks,), one chunk per block: 1 once the block is written

Zarr does not store chunks equal to the fill value, so chunk existence cannot
say whether a block finished; ``done`` is written only after all of a block's
regions (and its ``input_checksum``) are, and a rerun trusts nothing else.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from calab._version import __version__
from calab.engine.inputs import store_location
from calab.errors import InvalidParameterError, ResumeMismatchError
from calab.io.storage import is_url, url_holds_data, zarr_open_kwargs

ATTRS_KEY = "calab"
DONE = "done"
CHECKSUM = "input_checksum"
FULL_ARRAYS = ("baseline", "reconvolution", "iterations", "converged")
# What must match for a rerun to continue an existing output.
RESUME_KEYS = ("params", "solver", "input", "full", "chunk_cells")


def run_attrs(params: dict, solver: dict, input_attrs: dict, full: bool, chunk_cells: int,
              n_blocks: int, suggested: dict | None = None) -> dict[str, Any]:
    """The provenance attributes written on the output group.

    ``suggested`` (when the parameters were suggested from the data) is
    recorded under ``"suggested"``.
    """
    extra = {} if suggested is None else {"suggested": suggested}
    return json.loads(json.dumps({
        "format": "calab-deconvolution",
        "version": __version__,
        "params": params,
        "solver": solver,
        "input": input_attrs,
        "full": full,
        "chunk_cells": chunk_cells,
        "n_blocks": n_blocks,
        **extra,
    }))


def read_run_attrs(output: str, storage_options: dict | None = None) -> dict[str, Any] | None:
    """The calab attributes of an existing output group, or None."""
    import zarr

    try:
        # calab writes format 3 only: no probing for format-2 or consolidated metadata
        group = zarr.open_group(store=output, mode="r", zarr_format=3, use_consolidated=False,
                                **zarr_open_kwargs(output, storage_options))
    except Exception:
        return None
    attrs = dict(group.attrs).get(ATTRS_KEY)
    return attrs if isinstance(attrs, dict) else None


def prepare_output(output: str, attrs: dict[str, Any], shape: tuple[int, int],
                   resume: bool, storage_options: dict | None = None) -> np.ndarray:
    """Create (or reopen, when resuming) the output group; return the done mask.

    Raises
    ------
    ResumeMismatchError
        The existing output was written with other parameters, input or settings.
    FileExistsError
        ``output`` exists and is not a calab output (it is never overwritten).
    OSError
        ``output`` cannot be written.
    """
    existing = read_run_attrs(output, storage_options)
    if existing is None:
        _refuse_foreign(output, storage_options)
    elif resume:
        _check_same_run(output, existing, attrs)
        done = read_done(output, attrs["n_blocks"], storage_options)
        if done is not None:
            return done
    try:
        _create(output, attrs, shape, storage_options)
    except OSError as err:
        raise OSError(
            err.errno, f"cannot write output={output!r}: {err.strerror or err}; "
            "choose a writable location"
        ) from None
    return np.zeros(attrs["n_blocks"], dtype=bool)


def check_output_location(output: str | Path, input_store: str) -> str:
    """The output's location; refused when it is, holds or lies inside the input."""
    out = store_location(output)
    inside = out.startswith(input_store.rstrip("/") + "/")
    if out == input_store or inside or input_store.startswith(out.rstrip("/") + "/"):
        where = "inside" if inside else ("the same as" if out == input_store else "around")
        raise InvalidParameterError(
            f"output={str(output)!r} is {where} the input; it would overwrite or change the "
            "recording it reads. Choose an output path outside the input",
            argument="output")
    return out


def check_output_usable(output: str, storage_options: dict | None = None) -> None:
    """Fail fast, before any cluster starts, on an output that cannot be used.

    Refuses an existing non-calab path (never overwritten) and an output whose
    nearest existing ancestor is not a writable directory. A URL is checked for
    foreign data with ``storage_options`` (a few requests).
    """
    if is_url(output):
        if read_run_attrs(output, storage_options) is None:
            _refuse_foreign(output, storage_options)
        return
    if read_run_attrs(output) is None:
        _refuse_foreign(output)
    ancestor = Path(output)
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    target = Path(output) if Path(output).is_dir() else ancestor
    if not target.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, f"cannot write output={output!r}: {target} is a file, not a "
            "directory; choose a writable location")
    if not os.access(target, os.W_OK | os.X_OK):
        raise PermissionError(
            errno.EACCES, f"cannot write output={output!r}: no write permission in {target}; "
            "choose a writable location")


def _refuse_foreign(output: str, storage_options: dict | None = None) -> None:
    if is_url(output):
        if url_holds_data(output, storage_options):
            raise FileExistsError(
                f"output={output!r} holds data that is not a calab output; it is left "
                "untouched. Choose another URL or remove it first")
        return
    path = Path(output)
    if path.is_file() or (path.is_dir() and any(path.iterdir())):
        raise FileExistsError(
            f"output={output!r} exists and is not a calab output; it is left untouched. "
            "Choose another path or remove it first"
        )


def _check_same_run(output: str, existing: dict, attrs: dict) -> None:
    differences = [key for key in RESUME_KEYS if existing.get(key) != attrs.get(key)]
    if differences:
        detail = "; ".join(
            f"{key}: existing {existing.get(key)!r} vs now {attrs.get(key)!r}"
            for key in differences
        )
        raise ResumeMismatchError(
            f"output={output!r} holds a run with different {', '.join(differences)} ({detail}). "
            "Use another output path, or resume=False (--no-resume) to overwrite it"
        )


def read_done(output: str, n_blocks: int,
              storage_options: dict | None = None) -> np.ndarray | None:
    """The done record as booleans, or None when the output has none of this size."""
    import zarr

    try:
        done = zarr.open_array(store=output, path=DONE, mode="r",
                               **zarr_open_kwargs(output, storage_options))
    except Exception:
        return None
    if done.shape != (n_blocks,):
        return None
    return np.asarray(done[:]) == 1


def _create(output: str, attrs: dict[str, Any], shape: tuple[int, int],
            storage_options: dict | None = None) -> None:
    import zarr

    if not is_url(output) and Path(output).is_dir():
        shutil.rmtree(output)  # only ever a calab output or an empty directory here
    group = zarr.open_group(store=output, mode="w", attributes={ATTRS_KEY: attrs},
                            **zarr_open_kwargs(output, storage_options))
    n_cells, n_time = shape
    rows = attrs["chunk_cells"]
    group.create_array("activity", shape=shape, chunks=(rows, n_time), dtype="float32",
                       fill_value=0.0, dimension_names=("cell", "time"))
    if attrs["full"]:
        group.create_array("reconvolution", shape=shape, chunks=(rows, n_time),
                           dtype="float32", fill_value=0.0, dimension_names=("cell", "time"))
        for name, dtype in (("baseline", "float64"), ("iterations", "int32"),
                            ("converged", "bool")):
            group.create_array(name, shape=(n_cells,), chunks=(rows,), dtype=dtype,
                               fill_value=0, dimension_names=("cell",))
    group.create_array(CHECKSUM, shape=(attrs["n_blocks"],), chunks=(1,), dtype="uint64",
                       fill_value=0, dimension_names=("block",))
    group.create_array(DONE, shape=(attrs["n_blocks"],), chunks=(1,), dtype="uint8",
                       fill_value=0, dimension_names=("block",))


class OutputArrays:
    """The output group's arrays, each opened once (on object storage every open is requests).

    With ``confine_to`` (the job service's data root), the store re-checks at
    every access that the output still lies under that directory (see
    :mod:`calab.io.confined`).
    """

    def __init__(self, output: str, storage_options: dict | None = None, *,
                 confine_to: str | None = None) -> None:
        import zarr

        store: Any = output
        kwargs = zarr_open_kwargs(output, storage_options)
        if confine_to is not None:
            from calab.io.confined import confined_store

            store, kwargs = confined_store(confine_to, output, read_only=False), {}
        self.group = zarr.open_group(store=store, mode="r+", zarr_format=3,
                                     use_consolidated=False, **kwargs)
        self.arrays: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.arrays:
            self.arrays[name] = self.group[name]
        return self.arrays[name]


def write_block(output: str, index: int, start: int, stop: int, result: Any, full: bool,
                checksum: int, storage_options: dict | None = None,
                arrays: OutputArrays | None = None, *, confine_to: str | None = None) -> None:
    """Write one block's regions and input checksum, then mark it done (in that order).

    A block is whole chunks of every array, so on object storage each region
    is one object written whole (a PUT) before the done chunk's PUT.
    ``arrays`` reuses an :class:`OutputArrays` already open on ``output``.
    """
    group = arrays if arrays is not None else OutputArrays(output, storage_options,
                                                           confine_to=confine_to)
    group["activity"][start:stop, :] = np.asarray(result.activity, dtype=np.float32)
    if full:
        group["reconvolution"][start:stop, :] = np.asarray(result.reconvolution, np.float32)
        group["baseline"][start:stop] = np.asarray(result.baseline, dtype=np.float64)
        group["iterations"][start:stop] = np.asarray(result.iterations, dtype=np.int32)
        group["converged"][start:stop] = np.asarray(result.converged, dtype=bool)
    group[CHECKSUM][index] = np.uint64(checksum)
    group[DONE][index] = 1


def read_checksums(output: str, n_blocks: int,
                   storage_options: dict | None = None) -> np.ndarray | None:
    """The recorded input checksum of every block (0: none), or None when absent."""
    import zarr

    try:
        checksums = zarr.open_array(store=output, path=CHECKSUM, mode="r",
                                    **zarr_open_kwargs(output, storage_options))
    except Exception:
        return None
    if checksums.shape != (n_blocks,):
        return None
    return np.asarray(checksums[:], dtype=np.uint64)
