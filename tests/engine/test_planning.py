"""Block planning: cells per block chosen by bytes, aligned, validated."""

from __future__ import annotations

import pytest

from calab.core.fista_state import LANES
from calab.engine.planning import block_bounds, plan_chunk_cells


def test_block_size_follows_bytes_and_lanes():
    cells = plan_chunk_cells(100_000, 18_000, block_bytes=8 * 2**20)
    assert cells % LANES == 0
    assert cells * 18_000 * 8 <= 8 * 2**20 < (cells + LANES) * 18_000 * 8
    # a 4x longer recording gets about 4x fewer cells per block
    longer = plan_chunk_cells(100_000, 72_000, block_bytes=8 * 2**20)
    assert longer < cells and abs(longer * 4 - cells) <= LANES * 4


def test_explicit_and_env_configuration(monkeypatch):
    assert plan_chunk_cells(50, 1000, chunk_cells=7) == 7
    assert plan_chunk_cells(5, 1000, chunk_cells=70) == 5
    monkeypatch.setenv("CALAB_BLOCK_BYTES", str(16 * 1000 * 8))
    assert plan_chunk_cells(10_000, 1000) == 16
    monkeypatch.setenv("CALAB_BLOCK_BYTES", "lots")
    with pytest.raises(ValueError, match="CALAB_BLOCK_BYTES='lots'"):
        plan_chunk_cells(10, 10)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_bad_chunk_cells_is_named(bad):
    with pytest.raises(ValueError, match="chunk_cells"):
        plan_chunk_cells(10, 10, chunk_cells=bad)


def test_alignment_to_input_chunks_and_min_blocks():
    # input chunks of 6 lanes: the block divides the chunk and keeps whole lanes
    cells = plan_chunk_cells(5000, 18_000, input_chunk_cells=6 * LANES)
    assert (6 * LANES) % cells == 0 and cells % LANES == 0
    # no divisor with whole lanes (1000 cells): full lanes win over alignment
    assert plan_chunk_cells(5000, 18_000, input_chunk_cells=1000) % LANES == 0
    # input chunks of 10 cells: the block is a multiple of them
    assert plan_chunk_cells(5000, 18_000, input_chunk_cells=10) % 10 == 0
    # small recordings are still split so that 4 workers get work
    n_cells = 8 * LANES
    assert len(block_bounds(n_cells, plan_chunk_cells(n_cells, 100, min_blocks=8))) == 8


def test_block_bounds_cover_every_cell_once():
    bounds = block_bounds(103, 10)
    assert bounds[0] == (0, 10) and bounds[-1] == (100, 103)
    covered = [c for start, stop in bounds for c in range(start, stop)]
    assert covered == list(range(103))
