"""The output arrays a worker opens for a run's blocks, opened once per run and worker.

Opening a zarr array reads its metadata; on object storage that is several
requests (and format probing) per open. A worker processing many blocks of
one run reuses the output arrays it opened for the first one. Entries are
keyed by the run's id (a new id per ``deconvolve_zarr`` call, so a rerun that
recreates the output opens it afresh) and only the last few runs are kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from calab.engine.outputs import OutputArrays

MAX_RUNS = 4
_OPEN: OrderedDict[str, OutputArrays] = OrderedDict()
_LOCK = threading.Lock()


def open_output_arrays(job: Any) -> OutputArrays:
    """The :class:`OutputArrays` of ``job``'s run (``job.output``, ``job.run_id``)."""
    # a confined job opens its store per block: the root is re-checked at every open
    key = "" if getattr(job, "confine_to", None) else getattr(job, "run_id", "")
    with _LOCK:
        if key and key in _OPEN:
            _OPEN.move_to_end(key)
            return _OPEN[key]
    opened = OutputArrays(job.output, job.storage_options,
                          confine_to=getattr(job, "confine_to", None))
    if key:
        with _LOCK:
            _OPEN[key] = opened
            while len(_OPEN) > MAX_RUNS:
                _OPEN.popitem(last=False)
    return opened
