"""Results back into the files users' tools read.

- :mod:`calab.io.writers.nwb`: ``save_nwb``, a ``Deconvolved`` ``RoiResponseSeries``.
- :mod:`calab.io.writers.suite2p`: ``spks_calab.npy`` beside suite2p's ``spks.npy``.
- :mod:`calab.io.writers.minian`: an ``S_calab.zarr`` variable store (``unit_id``, ``frame``).
- :mod:`calab.io.writers.caiman`: ``estimates/S_calab`` in CaImAn's HDF5.

Every writer adds under a new name, never over the pipeline's own output, and
lands its file whole (temporary, then rename) or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["save_nwb"]


def __getattr__(name: str) -> Callable[..., Path]:
    if name == "save_nwb":
        from calab.io.writers.nwb import save_nwb

        return save_nwb
    raise AttributeError(f"module 'calab.io.writers' has no attribute {name!r}")
