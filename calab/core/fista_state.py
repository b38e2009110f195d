"""The solver's cells packed in lane groups, and how the packing changes between rounds.

A *group* is one unit of parallel work: ``(chunk_len, lanes)`` arrays with lanes
contiguous per time step (:mod:`calab.core.fista_sweeps`). Traces of
``2 * CHUNK_SAMPLES`` samples or more are cut into chunks, one lane each;
shorter traces are packed several cells per group, one lane each.

:class:`PackedState` holds the running cells in groups, records them as they
stop, and repacks the ones still running when that saves groups. Repacking
keeps every cell's full state (iterate, extrapolated point, momentum,
objective record), so it does not disturb the iteration. Each group also has
its precision phase (:mod:`calab.core.fista_kernel`).
"""

from __future__ import annotations

import numpy as np

from calab.core.fista_cells import CONVERGED, N_FLOATS, OBJECTIVE, SUM_S, T_MOMENTUM
from calab.core.fista_kernel import ALIGNMENT, DOUBLE, SINGLE
from calab.core.fista_threads import get_num_threads

# Traces too short to cut into chunks are packed up to this many cells per group (the
# cells are then the vector lanes), and no fewer than MIN_LANES where threads allow.
LANES = 16
MIN_LANES = 4
# Traces are cut into chunks of about this many samples, solved as vector lanes ...
CHUNK_SAMPLES = 96
# ... in a number of chunks that is a multiple of this: whole unrolled float32 vector loops.
CHUNK_MULTIPLE = 32
# Lanes a chunked group aims for: enough independent recursions to fill the vector units.
LANE_TARGET = 32


def chunk_layout(n_time: int) -> tuple[int, int]:
    """``(n_chunks, chunk_len)`` of every trace of ``n_time`` samples.

    Chunks of about ``CHUNK_SAMPLES``; their number a multiple of
    ``CHUNK_MULTIPLE`` (of 8 for traces too short for that), so that the lanes
    of a cell fill whole unrolled vector loops in both precisions, and whole
    groups of the eight partial sums of the per-cell sums. The last
    chunks may be partly or wholly padding. Depends on ``n_time`` alone, so a
    cell's result does not depend on which other cells share its batch.
    """
    if n_time < 2 * CHUNK_SAMPLES:
        return 1, n_time
    multiple = CHUNK_MULTIPLE if n_time >= CHUNK_MULTIPLE * CHUNK_SAMPLES else 8
    n_chunks = multiple * max(1, round(n_time / (multiple * CHUNK_SAMPLES)))
    return n_chunks, -(-n_time // n_chunks)


def group_width(n_cells: int, n_threads: int = 2, n_chunks: int = 1) -> int:
    """Cells per group: as wide as possible while every thread gets a group.

    Chunked traces bring ``n_chunks`` lanes per cell, so fewer cells fill a group.
    """
    if n_chunks > 1:
        return max(1, min(-(-LANE_TARGET // n_chunks), -(-n_cells // n_threads)))
    width = LANES
    while width > MIN_LANES and -(-n_cells // width) < n_threads:
        width //= 2
    return width


class PackedState:
    """Solver state of every cell; the cells still running packed in groups.

    ``activity``, ``iterations`` and ``converged`` are per cell, up to date
    after :meth:`finish`. Cells stop when they have converged (and confirmed)
    or used ``max_iters``. Groups start in the float32 phase when
    ``start_single``, else in float64; cells are repacked only once every
    group is in float64. The float32 phase works on its own float32 copies
    of the packed arrays (``single``); a group's float64 arrays take over
    when it switches.
    """

    def __init__(
        self, y: np.ndarray, init: np.ndarray | None, layout: tuple[int, int], max_iters: int,
        *, start_single: bool = False,
    ) -> None:
        n_cells, self.n_time = y.shape
        self.n_threads = get_num_threads()
        self.n_chunks, self.chunk_len = layout
        self.max_iters = max_iters
        self.activity = np.zeros((n_cells, self.n_time)) if init is None else init.astype(float)
        self.iterations = np.zeros(n_cells, dtype=np.int64)
        self.converged = np.zeros(n_cells, dtype=np.bool_)
        self.active = np.arange(n_cells)
        width = group_width(n_cells, self.n_threads, self.n_chunks)
        self.packed_y = self._to_groups(y, width)
        self.warm_start = init is not None
        floats = _fresh_floats(n_cells)
        shape = self.packed_y.shape
        if init is None:  # fresh zeros (untouched pages: a group's float64 arrays cost
            # nothing until it reaches the float64 phase)
            self.packed_s, self.packed_z = aligned_zeros(shape), aligned_zeros(shape)
        else:
            self.packed_s = self._to_groups(self.activity, width)
            self.packed_z = aligned_copy(self.packed_s)
            floats[:, SUM_S] = self.activity.sum(axis=1)
        self.packed_ks = aligned_zeros(shape)
        self._set_lanes(self.iterations, floats, width)
        self.phases[:] = SINGLE if start_single else DOUBLE
        self.single = self._single_copies(start_single)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arguments of :func:`calab.core.fista_kernel.iterate` that hold state."""
        return (
            self.packed_y, self.packed_s, self.packed_z, self.packed_ks, *self.single,
            self.lane_iters, self.lane_done, self.lane_floats, self.phases, self.lane_padding,
            self.running_groups,
        )

    def collect(self) -> None:
        """After a round: list the groups still running, repacking when that saves groups."""
        width = self.lane_iters.shape[1]
        running = ~self.lane_done
        self.running_groups = np.flatnonzero(running.any(axis=1))
        if width == 1 or not self.running_groups.size or (self.phases != DOUBLE).any():
            return
        n_running = int(running.sum())
        fewer = -(-n_running // group_width(n_running, self.n_threads, self.n_chunks))
        if fewer < self.running_groups.size:
            self._repack(np.flatnonzero(running.reshape(-1)[: self.active.size]))

    def _single_copies(self, needed: bool) -> tuple[np.ndarray, ...]:
        """Float32 copies of the packed arrays for the float32 phase (empty when not needed)."""
        arrays = (self.packed_y, self.packed_s, self.packed_z, self.packed_ks)
        if needed and self.warm_start:
            return tuple(aligned_copy(a, np.float32) for a in arrays)
        if needed:  # s, z and the K s record start at zero
            shape = self.packed_y.shape
            zeros = tuple(aligned_zeros(shape, np.float32) for _ in range(3))
            return (aligned_copy(self.packed_y, np.float32), *zeros)
        return tuple(np.zeros((0, *a.shape[1:]), np.float32) for a in arrays)

    def finish(self) -> np.ndarray:
        """The activity of every cell, the packed cells unpacked; ``iterations`` and
        ``converged`` up to date."""
        n_active = self.active.size
        self.activity[self.active] = self._from_groups(self.packed_s, n_active)
        self.iterations[self.active] = _lanes_to_cells(self.lane_iters, n_active)
        floats = _lanes_to_cells(self.lane_floats, n_active)
        self.converged[self.active] = floats[:, CONVERGED] > 0
        return self.activity

    def _repack(self, keep: np.ndarray) -> None:
        """Pack only the cells ``keep`` (indices into the active cells), keeping their state."""
        n_active = self.active.size
        self.finish()
        self.active = self.active[keep]
        width = group_width(keep.size, self.n_threads, self.n_chunks)
        for name in ("packed_y", "packed_s", "packed_z", "packed_ks"):
            rows = self._from_groups(getattr(self, name), n_active)[keep]
            setattr(self, name, self._to_groups(rows, width))
        iterations = _lanes_to_cells(self.lane_iters, n_active)[keep]
        self._set_lanes(iterations, _lanes_to_cells(self.lane_floats, n_active)[keep], width)
        self.single = self._single_copies(False)

    def _set_lanes(self, iterations: np.ndarray, floats: np.ndarray, width: int) -> None:
        """Per-cell counters and floats of the packed cells, in lanes of ``width`` cells.

        Padding lanes and cells out of budget start (and stay) done.
        """
        self.lane_iters = _cells_to_lanes(iterations, width, 0)
        self.lane_floats = _cells_to_lanes(floats, width, _fresh_floats(1)[0])
        n_groups = self.lane_iters.shape[0]
        self.lane_padding = _padding_lanes(iterations.shape[0], n_groups, width)
        self.lane_done = self.lane_padding | (self.lane_iters >= self.max_iters)
        self.phases = np.full(n_groups, DOUBLE, dtype=np.int64)
        self.valid_rows = _valid_rows(self.n_time, self.n_chunks, self.chunk_len, width)
        self.running_groups = np.flatnonzero(~self.lane_done.all(axis=1))

    def _to_groups(self, rows: np.ndarray, width: int) -> np.ndarray:
        """(n, T) rows -> (groups, chunk_len, width * n_chunks), zero padded.

        Lane ``cell * n_chunks + chunk`` of a group holds that chunk of that cell.
        """
        n_rows, n_time = rows.shape
        n_groups = -(-n_rows // width)
        padded_time = self.n_chunks * self.chunk_len
        packed = np.zeros((n_groups * width, padded_time))
        packed[:n_rows, :n_time] = rows
        lanes = packed.reshape(n_groups, width * self.n_chunks, self.chunk_len)
        return aligned_copy(lanes.transpose(0, 2, 1))

    def _from_groups(self, packed: np.ndarray, n_rows: int) -> np.ndarray:
        """The first ``n_rows`` cells as ``(n_rows, T)`` (a view of a fresh copy)."""
        padded_time = self.n_chunks * self.chunk_len
        rows = packed.transpose(0, 2, 1).reshape(-1, padded_time)
        return rows[:n_rows, : self.n_time]


def aligned_zeros(shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """Zeros (pages untouched until written) starting on an ``ALIGNMENT``-byte boundary,
    so that a group's rows of lanes never split a wide vector load across cache lines."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(size + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + size].view(dtype).reshape(shape)


def aligned_copy(values: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """``values`` as a C-contiguous array of ``dtype`` on an ``ALIGNMENT``-byte boundary."""
    out = aligned_zeros(values.shape, dtype)
    out[...] = values
    return out


def _fresh_floats(n_cells: int) -> np.ndarray:
    """Per-cell floats of cells that have not started: t = 1, F = inf, no momentum."""
    floats = np.zeros((n_cells, N_FLOATS))
    floats[:, T_MOMENTUM] = 1.0
    floats[:, OBJECTIVE] = np.inf
    return floats


def _valid_rows(n_time: int, n_chunks: int, chunk_len: int, width: int) -> np.ndarray:
    """Real samples in each lane's chunk: full chunks, then the trace's end, then padding."""
    per_cell = np.clip(n_time - chunk_len * np.arange(n_chunks), 0, chunk_len)
    return np.tile(per_cell.astype(np.int64), width)


def _cells_to_lanes(per_cell: np.ndarray, width: int, fill) -> np.ndarray:
    """Per-cell values ``(n, ...)`` as lanes ``(groups, ..., width)``, padding lanes ``fill``."""
    middle = per_cell.shape[1:]
    n_groups = -(-per_cell.shape[0] // width)
    out = np.empty((n_groups * width, *middle), dtype=per_cell.dtype)
    out[:] = fill
    out[: per_cell.shape[0]] = per_cell
    return np.ascontiguousarray(np.moveaxis(out.reshape(n_groups, width, *middle), 1, -1))


def _lanes_to_cells(lanes: np.ndarray, n_cells: int) -> np.ndarray:
    """The first ``n_cells`` cells of lanes ``(groups, ..., width)`` as ``(n_cells, ...)``."""
    middle = lanes.shape[1:-1]
    return np.moveaxis(lanes, -1, 1).reshape(-1, *middle)[:n_cells]


def _padding_lanes(n_cells: int, n_groups: int, width: int) -> np.ndarray:
    """Lanes that hold no cell: those after the first ``n_cells``."""
    padding = np.ones(n_groups * width, dtype=np.bool_)
    padding[:n_cells] = False
    return padding.reshape(n_groups, width)
