"""Readers for the files extraction pipelines write: CaImAn, Minian, suite2p, NWB.

Every loader returns ``(traces, meta)``: float traces of shape
``(n_cells, n_timepoints)`` and a dict with at least ``source``, ``format``,
``sampling_rate_hz`` (Hz, or None when the file has none), ``num_cells`` and
``num_timepoints``, plus the format's extras. ``fs=`` overrides the file's
rate; ``lazy=True`` returns a dask array for the out-of-core engine.

Heavy readers are optional: h5py (``pip install 'calab[loaders]'``) for CaImAn
and pynwb (``pip install 'calab[nwb]'``) for NWB, imported only when used.
"""

from calab.io.loaders.caiman import load_caiman
from calab.io.loaders.minian import load_minian
from calab.io.loaders.nwb import load_nwb
from calab.io.loaders.suite2p import load_suite2p

__all__ = ["load_caiman", "load_minian", "load_nwb", "load_suite2p"]
