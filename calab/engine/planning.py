"""How many cells go into one block.

A block holds whole cells with the full time axis, so each solve sees complete
traces. Its size is chosen by bytes: large enough that per-task overhead is
negligible, small enough that a worker holds a few blocks and their solver
state (about eight times the input block) comfortably in memory.
"""

from __future__ import annotations

import math
import os

from calab.core.fista_state import LANES

DEFAULT_BLOCK_BYTES = 8 * 2**20
# Small recordings are split into at least this many blocks per worker thread, so that
# the last blocks finish together (few big blocks leave a worker idle at the end).
BLOCKS_PER_THREAD = 4
BLOCK_BYTES_ENV = "CALAB_BLOCK_BYTES"


def plan_chunk_cells(
    n_cells: int, n_timepoints: int, *, chunk_cells: int | None = None,
    block_bytes: int | None = None, input_chunk_cells: int | None = None,
    min_blocks: int = 1,
) -> int:
    """Cells per block for an ``(n_cells, n_timepoints)`` recording.

    Parameters
    ----------
    n_cells, n_timepoints : int
        Shape of the recording.
    chunk_cells : int, optional
        Explicit choice; validated and capped at ``n_cells``.
    block_bytes : int, optional
        Target float64 bytes per block (default 8 MiB, or the environment
        variable ``CALAB_BLOCK_BYTES``). The result is rounded down to a
        multiple of the solver's SIMD lane count when possible.
    input_chunk_cells : int, optional
        Cells per chunk of the input store: the block is aligned to it (a
        multiple of it, or a divisor that keeps whole SIMD lanes) so that
        input chunks are not decompressed by several blocks.
    min_blocks : int
        Split small recordings into at least this many blocks so that every
        worker gets work.

    Returns
    -------
    int
        Cells per block, between 1 and ``n_cells``.

    Examples
    --------
    >>> plan_chunk_cells(2000, 18000) % LANES, plan_chunk_cells(2000, 18000) * 18000 * 8 <= 2**23
    (0, True)
    >>> plan_chunk_cells(10, 100, chunk_cells=4)
    4
    """
    if chunk_cells is not None:
        if isinstance(chunk_cells, bool) or not isinstance(chunk_cells, int) or chunk_cells < 1:
            raise ValueError(f"chunk_cells={chunk_cells!r} must be an integer >= 1")
        return min(chunk_cells, max(n_cells, 1))
    target = block_bytes if block_bytes is not None else _env_block_bytes()
    cells = max(1, target // (8 * max(n_timepoints, 1)))
    cells = min(cells, max(1, math.ceil(n_cells / max(min_blocks, 1))))
    if cells >= LANES:
        cells -= cells % LANES
    if input_chunk_cells:
        cells = _align(cells, input_chunk_cells)
    return int(min(cells, max(n_cells, 1)))


def _align(cells: int, chunk: int) -> int:
    """A block size near ``cells`` (never above) that tiles the input's chunks.

    Full SIMD lanes matter more than chunk alignment (a solve costs far more
    than decompressing a chunk twice), so a divisor is taken only if it keeps
    whole lanes.
    """
    if chunk <= cells:
        multiples = range(cells - cells % chunk, 0, -chunk)
        return next((m for m in multiples if m % LANES == 0), cells - cells % chunk)
    lanes_ok = cells % LANES == 0
    divisors = [d for d in range(cells, max(cells // 2, 1) - 1, -1)
                if chunk % d == 0 and (d % LANES == 0 or not lanes_ok)]
    return divisors[0] if divisors else cells


def block_bounds(n_cells: int, chunk_cells: int) -> list[tuple[int, int]]:
    """``(start, stop)`` cell ranges of consecutive blocks covering ``n_cells``."""
    n_blocks = math.ceil(n_cells / chunk_cells)
    return [(i * chunk_cells, min((i + 1) * chunk_cells, n_cells)) for i in range(n_blocks)]


def _env_block_bytes() -> int:
    raw = os.environ.get(BLOCK_BYTES_ENV)
    if raw is None:
        return DEFAULT_BLOCK_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{BLOCK_BYTES_ENV}={raw!r} must be a positive integer (bytes)")
    return value
