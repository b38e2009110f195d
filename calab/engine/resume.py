"""Resume checks: the input of every finished block must be what it was.

A block's completion record holds a checksum of the input values the block
read. Before a resume computes the rest, each finished block's input is read
again on the cluster (no solving) and its checksum compared, so a recording
edited in place is never "resumed" with stale results.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from calab.engine.inputs import block_checksum
from calab.engine.outputs import read_checksums
from calab.errors import ResumeMismatchError

MAX_LISTED = 5


def input_checksum(job: Any, index: int) -> int:
    """Task body: the checksum of the input values block ``index`` reads."""
    start, stop = job.bounds(index)
    return block_checksum(job.source[start:stop, :])


def verify_done_blocks(dask: Any, job: Any, output: str, done: np.ndarray) -> None:
    """Refuse to resume when the input of a finished block changed.

    Raises
    ------
    calab.errors.ResumeMismatchError
        A finished block has no recorded checksum, or its input now reads
        differently; the message names the blocks and what to do.
    """
    finished = [int(i) for i in np.flatnonzero(done)]
    recorded = read_checksums(output, done.size)
    if recorded is None or not recorded[finished].all():
        raise ResumeMismatchError(
            f"output={output!r} records no input checksum for its finished blocks (written "
            "by an older calab?), so a resume cannot check that the input is unchanged. "
            "Use resume=False (--no-resume) to recompute it", argument="output")
    futures = dask.map(input_checksum, [job] * len(finished), finished, pure=False)
    current = dask.gather(futures)
    changed = [i for i, value in zip(finished, current, strict=True)
               if np.uint64(value) != recorded[i]]
    if changed:
        cells = [job.bounds(i) for i in changed[:MAX_LISTED]]
        shown = ", ".join(f"block {i} (cells {a}-{b - 1})" for i, (a, b) in
                          zip(changed, cells, strict=False))
        more = f" and {len(changed) - MAX_LISTED} more" if len(changed) > MAX_LISTED else ""
        raise ResumeMismatchError(
            f"the input changed since output={output!r} was started: {shown}{more} read "
            "different values now. Its finished blocks would be stale; use resume=False "
            "(--no-resume) to recompute everything, or another output path",
            argument="input")
