"""The solver's parallel kernel: rounds of FISTA iterations per group, in two precisions.

A thin layer over the compiled core (``src/solver/loop.hpp``). Each group of lanes
(:mod:`calab.core.fista_state`) runs in one thread of a pool of
:func:`calab.core.fista_threads.get_num_threads` threads, with the GIL released. A
group in the float32 phase (``phases[g] == SINGLE``) iterates on float32 copies of
its arrays, which halve the bytes moved and double the vector lanes; when all its
cells have left that phase it switches to float64 on the spot (the float32 values
carry over exactly; the ``K s`` and objective records are recomputed in float64) and
goes on in the same round.

**One iteration**, per group: the backward sweep (the forward chunk fix-up, then
from the chunk's end the residual ``K z - y``, the fit of the current iterate and the
local adjoint recursion, in one pass for ``"banded"``; for ``"fft"`` the lagged taps
of the truncated kernel make the residual a pass of its own); the momentum decision
per cell (function-value restart); the forward sweep (the adjoint fix-up, then the
projected gradient step and the local ``K z`` of the new point in one pass); the
convergence test per cell.

A call runs each listed group for up to ``n_steps`` iterations; groups of one cell
(traces of 3072 samples or more) are run to the end in one call, each thread taking
whole groups with no barrier between rounds (:func:`calab.core.fista.solve`).
"""

from __future__ import annotations

import numpy as np

from calab.core import _solver
from calab.core.fista_threads import get_num_threads, native_gate

SINGLE: int = _solver.SINGLE  # values of ``phases``
DOUBLE: int = _solver.DOUBLE
#: Bytes to which the packed arrays are aligned (a cache line: no split vector loads).
ALIGNMENT: int = _solver.ALIGNMENT


def iterate(
    arrays: tuple[np.ndarray, ...],
    single: tuple[np.ndarray, np.ndarray, np.ndarray],
    double: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_steps: int, valid_rows: np.ndarray, n_threads: int | None = None,
) -> None:
    """Run up to ``n_steps`` iterations of each group in ``groups``, in place.

    ``arrays`` (:meth:`calab.core.fista_state.PackedState.arrays`): ``Y, S, Z, KS``,
    the float64 packed arrays ``(groups, chunk_len, lanes)``; ``Y32, S32, Z32, KS32``,
    their float32 copies for the groups in the float32 phase (or empty); then per
    cell ``iters, done, floats``, per group ``phases``, per cell ``padding``, and the
    ``groups`` to run. ``single`` and ``double`` are ``(coef, settings, tables)`` in float32
    and float64: the operator coefficients ``(g1, g2, w, alpha, beta, taps)``
    (``taps = 0`` for the untruncated kernel), the settings vector of
    :mod:`calab.core.fista_cells` and the correction tables of
    :func:`calab.core.fista_sweeps.correction_tables`. ``padding`` marks the lanes
    that hold no cell; ``valid_rows[lane]`` is the number of real samples in the
    lane's chunk (the last chunk of a cell is padded).
    """
    y, s, z, ks, y32, s32, z32, ks32, iters, done, floats, phases, padding, groups = arrays
    with native_gate.call():
        _solver.iterate(
            y, s, z, ks, y32, s32, z32, ks32, iters, done, floats, phases, padding,
            np.ascontiguousarray(groups, dtype=np.int64), *single, *double, int(n_steps),
            valid_rows, get_num_threads() if n_threads is None else int(n_threads),
        )
