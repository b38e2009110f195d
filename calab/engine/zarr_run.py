"""``deconvolve_zarr``: a zarr recording in, a zarr result out, block by block.

The client only plans and watches: each block is one task that reads its
cells from the input store, solves them with the core, writes its regions of
the output and then marks itself done. No trace data passes through the
client or the scheduler, so memory stays flat however large the store is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calab.core.options import (
    DEFAULT_CONSTRAINT,
    DEFAULT_CONV_MODE,
    DEFAULT_MAX_ITERS,
    DEFAULT_NAN_POLICY,
    DEFAULT_TOL,
    DeconvolutionOptions,
    flag,
)
from calab.engine.block import check_finite_block, solve_block
from calab.engine.block_stores import open_output_arrays
from calab.engine.cluster import dask_client, describe_cluster
from calab.engine.inputs import block_checksum, describe_input
from calab.engine.outputs import (
    check_output_location,
    check_output_usable,
    prepare_output,
    read_run_attrs,
    run_attrs,
    write_block,
)
from calab.engine.planning import BLOCKS_PER_THREAD, block_bounds, plan_chunk_cells
from calab.engine.resume import verify_done_blocks
from calab.engine.scheduling import run_blocks
from calab.engine.suggested import auto_request, suggest_for_run
from calab.errors import ParameterTypeError
from calab.io.arrays import TraceArray
from calab.io.confined import confine_traces
from calab.io.storage import is_url, resolve_run_storage


@dataclass(frozen=True)
class BlockJob:
    """What a worker needs to process any block of one run (small, picklable)."""

    source: TraceArray
    output: str
    options: DeconvolutionOptions
    chunk_cells: int
    n_cells: int
    full: bool
    confine_to: str | None = None  # every read and write re-checks it stays under this dir
    storage_options: dict | None = None  # fsspec options of the URL output (not recorded)
    run_id: str = ""  # one per run: workers reuse the stores they opened for it

    def bounds(self, index: int) -> tuple[int, int]:
        start = index * self.chunk_cells
        return start, min(start + self.chunk_cells, self.n_cells)


def run_block(job: BlockJob, index: int) -> dict[str, Any]:
    """Task body: read, solve, write, mark done. Returns small statistics."""
    import numpy as np

    began = time.perf_counter()
    start, stop = job.bounds(index)
    values = job.source[start:stop, :]
    checksum = block_checksum(values)
    block = np.asarray(values, dtype=np.float64)
    if job.options.nan_policy == "raise":
        check_finite_block(block, start)
    try:
        result = solve_block(block, job.options.for_cells(slice(start, stop)))
    except ValueError as err:
        raise ValueError(f"cells {start}-{stop - 1} (numbered from {start} below): {err}") from None
    if not np.isfinite(result.activity).all():  # never mark a block done with NaN results
        bad = np.flatnonzero(~np.isfinite(result.activity).all(axis=1)) + start
        raise FloatingPointError(
            f"the solver returned NaN/inf activity for cells {bad[:5].tolist()}"
            f"{' and more' if bad.size > 5 else ''}; the block is not marked done")
    write_block(job.output, index, start, stop, result, job.full, checksum,
                arrays=open_output_arrays(job))
    return {"index": index, "cells": stop - start, "seconds": time.perf_counter() - began,
            "converged": int(np.count_nonzero(result.converged))}


def deconvolve_zarr(
    input: str | Path,
    output: str | Path,
    params: dict | str | Path,
    *,
    dataset: str | None = None,
    scheduler: str | None = None,
    client: Any = None,
    chunk_cells: int | None = None,
    full: bool = False,
    resume: bool = True,
    conv_mode: str = DEFAULT_CONV_MODE,
    max_iters: int = DEFAULT_MAX_ITERS,
    constraint: str = DEFAULT_CONSTRAINT,
    tol: float = DEFAULT_TOL,
    n_workers: int | None = None,
    memory_limit: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    nan_policy: str = DEFAULT_NAN_POLICY,
    confine_to: str | Path | None = None,
    storage_options: dict | None = None,
) -> dict[str, Any]:
    """Deconvolve a zarr recording out of core into a zarr output group.

    Parameters
    ----------
    input : str or pathlib.Path
        Any recording :func:`calab.open_recording` reads: typically a zarr array
        (v3 or v2) of shape ``(n_cells, n_timepoints)`` or a group holding it
        (see ``dataset``), local or an fsspec URL (``s3://``, ``gs://``); also
        ``.npy``, HDF5, CaImAn, Minian, suite2p or NWB files, read block by block.
    output : str or pathlib.Path
        Output group (local path or fsspec URL): ``activity`` float32
        ``(n_cells, n_timepoints)``; with ``full=True`` also ``baseline``,
        ``reconvolution``, ``iterations``, ``converged``; ``done`` records
        finished blocks; ``"calab"`` attributes record parameters, version, input.
    params : dict, str or pathlib.Path
        Flat ``{tau_rise, tau_decay, lambda_, fs, filter_enabled}`` (seconds,
        Hz; ``tau_rise``, ``tau_decay`` and ``lambda_`` may be lists of one
        value per cell), a parsed CaTune export, or the path of an export JSON.
        ``"auto"`` or ``{"auto": True, "fs": HZ, "filter_enabled": bool}``
        suggests them from a subsample of the input
        (:func:`calab.suggest_params`; ``fs`` defaults to the input's own), and
        the output's ``"calab"`` attributes record the suggestion under
        ``"suggested"``; a resumed run reuses it.
    dataset : str, optional
        Array name inside a zarr group (the key, variable or series of others).
    scheduler : str, optional
        Dask scheduler address; default ``DASK_SCHEDULER_ADDRESS``, else an
        embedded ``LocalCluster`` (one single-threaded process per core).
    client : distributed.Client, optional
        Reuse an existing client (wins over ``scheduler``); it is not closed.
    chunk_cells : int, optional
        Cells per block; by default chosen by bytes (about 8 MiB of float64).
    full : bool
        Also write the diagnostics.
    resume : bool
        Continue an existing output of the same run, computing only blocks not
        marked done; a different run (parameters, input, settings) or an input
        changed since (done blocks' input checksums are re-read on the
        workers) is refused. ``False`` overwrites an existing calab output.
    conv_mode, max_iters, constraint, tol, nan_policy
        Solver options of :func:`calab.run_deconvolution_full`.
    n_workers, memory_limit : optional
        Embedded cluster only: worker processes (default: cores) and memory
        limit per worker (e.g. ``"2GB"``).
    storage_options : dict, optional
        fsspec options of URL input/output; ``AWS_*`` fill the rest (:mod:`calab.io.storage`).
    progress : callable, optional
        ``progress(blocks_done, blocks_total)``; done includes skipped blocks.
    should_stop : callable, optional
        Polled about every 0.5 s; returning True starts no further block, lets
        the running ones finish and raises :class:`calab.engine.Cancelled`
        (finished blocks stay valid; the output no longer changes).
    confine_to : str or Path, optional
        A directory no worker may read or write outside of, re-checked at every
        access (a symbolic link swapped in mid-run fails the blocks that meet it).
        It applies to local paths; URLs are confined by their caller.

    Returns
    -------
    dict
        ``blocks_total``, ``blocks_skipped`` (done before this run),
        ``blocks_computed``, ``cells``, ``timepoints``, ``chunk_cells``,
        ``wall_s``, ``cells_per_s`` (cells computed by this run per second),
        ``output``, ``scheduler``, ``workers``; with ``"auto"`` also
        ``suggested`` (:func:`calab.core.suggest.suggestion_record`).

    Raises
    ------
    FileNotFoundError, ValueError, TypeError
        Missing input, unknown dataset, not 2-D, bad parameters, ``fs`` against
        the input's own rate, output inside the input, non-bool ``resume``.
    calab.errors.ResumeMismatchError
        ``output`` holds a different run, or its input changed, and ``resume``.
    calab.engine.BlocksFailedError
        Some blocks raised (e.g. NaN in the input); the others are kept.

    Examples
    --------
    >>> import calab, numpy as np, zarr
    >>> sim = calab.simulate(num_cells=16, duration_s=30.0, fs=30.0, seed=1)
    >>> _ = zarr.create_array("rec.zarr", data=sim.traces.astype("float32"), overwrite=True)
    >>> summary = calab.deconvolve_zarr(  # starts a local cluster: # doctest: +SKIP
    ...     "rec.zarr", "out.zarr", {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.5,
    ...     "fs": 30.0}, n_workers=1, chunk_cells=16)
    >>> summary["blocks_computed"], zarr.open_array("out.zarr/activity").shape  # doctest: +SKIP
    (1, (16, 900))
    """
    began = time.perf_counter()
    solver = {"max_iters": max_iters, "conv_mode": conv_mode, "constraint": constraint,
              "tol": tol, "nan_policy": nan_policy}
    auto = auto_request(params) or {}
    options = None if auto else _resolve_options(params, **solver)
    full, resume = flag("full", full), flag("resume", resume)
    stores = resolve_run_storage(input, output, storage_options)
    recording, info = describe_input(input, dataset,
                                     fs=auto.get("fs") if options is None else options.fs,
                                     storage_options=stores["input"])
    resolved = stores["output"] or stores["input"]  # one set serves workers' reads and writes
    out = check_output_location(output, info.store)
    check_output_usable(out, resolved)  # a foreign output (URLs too) is refused before any cluster
    suggested = None
    if options is None:  # "auto": suggested from a subsample of the input, once per output
        recorded = read_run_attrs(out, resolved) if resume else None
        flat, suggested = suggest_for_run(recording, auto, recorded)
        options = _resolve_options(flat, **solver)
    options.check_recording(*info.shape)
    with _LazyConnection(client=client, scheduler=scheduler, n_workers=n_workers,
                         memory_limit=memory_limit) as connection:
        local_in, local_out = not is_url(input), not is_url(out)  # confine_to: local ones only
        traces = recording.traces if confine_to is None or not local_in else confine_traces(
            recording.traces, str(confine_to))
        summary = _run(traces, info, out, options, chunk_cells, full, resume,
                       connection, progress, should_stop, began, resolved,
                       None if confine_to is None or not local_out else str(confine_to),
                       suggested)
    if suggested is not None:
        summary["suggested"] = suggested
    return summary


def _run(source: TraceArray, info: Any, out: str, options: DeconvolutionOptions,
         chunk_cells: int | None,
         full: bool, resume: bool, connection: _LazyConnection,
         progress: Callable[[int, int], None] | None, should_stop: Callable[[], bool] | None,
         began: float, storage_options: dict | None = None,
         confine_to: str | None = None, suggested: dict | None = None) -> dict[str, Any]:
    n_cells, n_time = info.shape
    cells = _block_cells(n_cells, n_time, chunk_cells, out, info.chunks[0], connection,
                         storage_options)
    bounds = block_bounds(n_cells, cells)
    solver = {"max_iters": options.max_iters, "conv_mode": options.conv_mode,
              "constraint": options.constraint, "tol": options.tol,
              "nan_policy": options.nan_policy}
    attrs = run_attrs(options.to_params(), solver, info.as_attrs(), full, cells, len(bounds),
                      suggested)
    done = prepare_output(out, attrs, info.shape, resume, storage_options)
    job = BlockJob(source, out, options, cells, n_cells, full, confine_to, storage_options,
                   uuid.uuid4().hex)
    if resume and done.any():
        verify_done_blocks(connection, job, out, done)
    todo = [i for i in range(len(bounds)) if not done[i]]
    skipped = len(bounds) - len(todo)
    if progress is not None:
        progress(skipped, len(bounds))
    cluster_info: dict[str, Any] = {"scheduler": None, "workers": 0}
    if todo:
        dask = connection.get()
        cluster_info = describe_cluster(dask)
        run_blocks(dask, run_block, job, todo, skipped, len(bounds), progress, should_stop)
    wall = time.perf_counter() - began
    computed_cells = sum(bounds[i][1] - bounds[i][0] for i in todo)
    return {
        "blocks_total": len(bounds), "blocks_skipped": skipped, "blocks_computed": len(todo),
        "cells": n_cells, "timepoints": n_time, "chunk_cells": cells,
        "wall_s": round(wall, 3), "cells_per_s": round(computed_cells / wall, 2) if wall else 0.0,
        "output": out, "scheduler": cluster_info["scheduler"], "workers": cluster_info["workers"],
    }


def _resolve_options(params: dict | str | Path, **solver_options: Any) -> DeconvolutionOptions:
    from calab.io.export import load_export_params, params_to_options

    if isinstance(params, (str, Path)):
        return DeconvolutionOptions.from_params(load_export_params(params), **solver_options)
    if isinstance(params, dict):
        return params_to_options(params, source="params", per_cell=True, **solver_options)
    raise ParameterTypeError(
        f"params must be a dict {{tau_rise, tau_decay, lambda_, fs}} or the path of a CaTune "
        f"export JSON; got {type(params).__name__}", argument="params",
    )


def _block_cells(n_cells: int, n_time: int, chunk_cells: int | None, output: str,
                 input_chunk_cells: int, connection: _LazyConnection,
                 storage_options: dict | None = None) -> int:
    if chunk_cells is not None:
        return plan_chunk_cells(n_cells, n_time, chunk_cells=chunk_cells)
    existing = read_run_attrs(output, storage_options)
    if existing and isinstance(existing.get("chunk_cells"), int):
        return min(existing["chunk_cells"], n_cells)  # resume with the blocks of the first run
    threads = max(1, describe_cluster(connection.get())["threads"])
    return plan_chunk_cells(n_cells, n_time, input_chunk_cells=input_chunk_cells,
                            min_blocks=BLOCKS_PER_THREAD * threads)


class _LazyConnection:
    """Connects to (or starts) the cluster only when first needed; closes on exit."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.stack = ExitStack()
        self.client: Any = None

    def __enter__(self) -> _LazyConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stack.close()

    def get(self) -> Any:
        if self.client is None:
            self.client = self.stack.enter_context(dask_client(**self.options))
        return self.client
