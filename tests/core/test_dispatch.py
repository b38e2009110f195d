"""The compiled core: every instruction-set level this CPU runs gives the same bits.

The hot loops are built for baseline x86-64, AVX2 and AVX-512 and chosen at run time
(``CALAB_ISA`` forces a level). Contraction into FMA is off and no sum is reordered, so
the vector width changes no result: float32 phase, float64 phase, chunked and whole
traces, both operators.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from calab.core import _solver

PROBE = """
import hashlib, numpy as np, calab
from calab.core import _solver
sim = calab.simulate(num_cells=6, duration_s=120, fs=30.0, seed=7, tau_rise_s=0.05,
                     tau_decay_s=0.4)
digest = hashlib.sha256()
for n_time in (150, 3600):
    for mode in ("fft", "banded"):
        r = calab.run_deconvolution_full(sim.traces[:, :n_time], 30.0, 0.05, 0.4, 0.03,
                                         conv_mode=mode)
        digest.update(r.activity.tobytes()); digest.update(r.iterations.tobytes())
print(_solver.isa(), digest.hexdigest())
"""


def run_at(level: str) -> tuple[str, str]:
    env = {**os.environ, "CALAB_ISA": level}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True,
                         capture_output=True, text=True, timeout=300)
    isa, digest = out.stdout.split()
    return isa, digest


def test_the_widest_level_runs_by_default():
    assert _solver.isa() == _solver.available_isas()[-1]
    assert _solver.available_isas()[0] == "baseline"


@pytest.mark.skipif(len(_solver.available_isas()) < 2, reason="one instruction-set level")
def test_every_level_gives_the_same_bits():
    results = {level: run_at(level) for level in _solver.available_isas()}
    assert all(isa == level for level, (isa, _) in results.items())
    assert len({digest for _, digest in results.values()}) == 1, results
