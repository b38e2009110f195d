"""The recording a zarr run reads: opened by :func:`calab.open_recording`, described here.

The description (:class:`InputInfo`) is recorded in the output's attributes; a
resume compares it, and each block's completion record carries a checksum of
the input values the block read (see :mod:`calab.engine.zarr_run`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from calab.io.opener import open_recording
from calab.io.recording import Recording
from calab.io.storage import is_url

#: Samples per row read for the whole-array fingerprint.
FINGERPRINT_SAMPLES = 4096
#: Rows read for the fingerprint (spread from the first to the last).
FINGERPRINT_ROWS = 3


@dataclass(frozen=True)
class InputInfo:
    """Where a recording lives and what it looks like (recorded in output attrs)."""

    store: str
    dataset: str | None
    format: str
    shape: tuple[int, int]
    dtype: str
    chunks: tuple[int, int]
    fingerprint: str

    def as_attrs(self) -> dict[str, Any]:
        """JSON-ready form for the output group's attributes."""
        attrs = asdict(self)
        attrs["shape"], attrs["chunks"] = list(self.shape), list(self.chunks)
        return attrs


def store_location(path: str | Path) -> str:
    """A canonical string for a store: the resolved local path, or the URL as given."""
    text = str(path)
    return text if is_url(text) else str(Path(text).expanduser().resolve())


def describe_input(path: str | Path, dataset: str | None, *, fs: float | None = None,
                   storage_options: dict[str, Any] | None = None
                   ) -> tuple[Recording, InputInfo]:
    """Open the recording and describe it for planning and resume checks.

    Raises the opener's errors (missing input, unknown dataset, not 2-D real
    numbers, ``fs`` contradicting the file's rate), naming the path as given.
    """
    recording = open_recording(path, fs=fs, dataset=dataset, storage_options=storage_options)
    n_cells, n_time = recording.shape
    chunks = recording.traces.chunks or (n_cells, n_time)
    info = InputInfo(
        store=store_location(path),
        dataset=recording.dataset,
        format=recording.format,
        shape=(int(n_cells), int(n_time)),
        dtype=str(recording.dtype),
        chunks=(int(chunks[0]), int(chunks[1])),
        fingerprint=fingerprint(recording),
    )
    return recording, info


def fingerprint(recording: Recording) -> str:
    """A digest of shape, dtype and a few rows spread over the whole recording."""
    n_cells, n_time = recording.shape
    rows = np.unique(np.linspace(0, n_cells - 1, FINGERPRINT_ROWS).round().astype(np.int64))
    width = min(FINGERPRINT_SAMPLES, n_time)
    columns = np.unique(np.linspace(0, n_time - 1, width).round().astype(np.int64))
    digest = hashlib.sha256(repr((recording.shape, str(recording.dtype))).encode())
    for row in rows:
        digest.update(np.ascontiguousarray(recording[int(row)][columns]).tobytes())
    return digest.hexdigest()[:16]


def block_checksum(values: np.ndarray) -> int:
    """A 63-bit checksum of the values one block read (recorded when the block is done)."""
    digest = hashlib.blake2b(np.ascontiguousarray(values).tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1 or 1  # never 0: 0 means "not recorded"
