"""Runs inside the reference environment: OASIS's automatic estimate on each trace.

Usage: python -I _oasis_worker.py IN.npz OUT.npz
IN holds ``fs`` and ``trace_<i>`` arrays (1-D, finite); OUT gets ``activity_<i>`` (the
deconvolved spikes), ``g_<i>`` (the AR coefficients OASIS estimated) and ``sn_<i>``.
OASIS is called as a black box: ``deconvolve(y, penalty=1)`` with its defaults (an AR(1)
model whose coefficient and noise level it estimates from the data). Never reads its source.
"""

import sys

import numpy as np
from oasis.functions import deconvolve


def main() -> None:
    data = np.load(sys.argv[1])
    out = {}
    count = sum(1 for key in data.files if key.startswith("trace_"))
    for i in range(count):
        y = np.asarray(data[f"trace_{i}"], dtype=np.float64)
        _, s, _, g, _ = deconvolve(y, penalty=1)
        out[f"activity_{i}"] = np.asarray(s, dtype=np.float64)
        out[f"g_{i}"] = np.atleast_1d(np.asarray(g, dtype=np.float64))
    np.savez(sys.argv[2], **out)


if __name__ == "__main__":
    main()
