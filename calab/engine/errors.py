"""Exceptions raised by the out-of-core engine.

``Cancelled`` and ``ResumeMismatchError`` are the ones of :mod:`calab.errors`,
re-exported here where engine users look for them.
"""

from __future__ import annotations

from calab.errors import Cancelled, ResumeMismatchError

__all__ = ["BlocksFailedError", "Cancelled", "ResumeMismatchError"]


class BlocksFailedError(RuntimeError):
    """Some blocks raised; the others completed and are marked done.

    Attributes
    ----------
    failures : list of tuple
        ``(block_index, first_cell, stop_cell, message)`` per failed block.
    """

    def __init__(self, failures: list[tuple[int, int, int, str]], n_blocks: int) -> None:
        self.failures = failures
        shown = "; ".join(
            f"block {index} (cells {start}-{stop - 1}): {_shorten(message)}"
            for index, start, stop, message in failures[:3]
        )
        more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
        super().__init__(
            f"{len(failures)} of {n_blocks} blocks failed and are not marked done: "
            f"{shown}{more}. Blocks that finished are kept; fix the cause and rerun "
            "the same command to compute only the rest."
        )


def _shorten(message: str, limit: int = 400) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
