"""The solver's parallel kernel: rounds of FISTA iterations per group, in two precisions.

A thin layer over the compiled core (``src/solver/loop.hpp``). Each group of lanes
(:mod:`calab.core.fista_state`) runs in one thread of a pool of
:func:`calab.core.fista_threads.get_num_threads` threads, with the GIL released. A
group in the float32 phase (``phases[g] == SINGLE``) iterates on float32 copies of
its arrays, which halve the bytes moved and double the vector lanes; when all its
cells have left that phase it switches to float64 on the spot (the float32 values
carry over exactly; the ``K s`` and objective records are recomputed in float64) and
goes on in the same round.

**One iteration**, per group: the residual pass (forward operator with the chunk
fix-up, residual ``K z - y``, fit of the current iterate; for ``"fft"`` the lagged
taps of the truncated kernel); the momentum decision per cell (function-value
restart); the local adjoint recursion; the projected gradient step with the adjoint
fix-up; the local ``K z`` of the new point; the convergence test per cell.
"""

from __future__ import annotations

import numpy as np

from calab.core import _solver
from calab.core.fista_threads import get_num_threads

SINGLE: int = _solver.SINGLE  # values of ``phases``
DOUBLE: int = _solver.DOUBLE


def iterate(
    Y: np.ndarray, S: np.ndarray, Z: np.ndarray, KS: np.ndarray,
    Y32: np.ndarray, S32: np.ndarray, Z32: np.ndarray, KS32: np.ndarray,
    iters: np.ndarray, done: np.ndarray, floats: np.ndarray, phases: np.ndarray,
    padding: np.ndarray, groups: np.ndarray,
    single: tuple[np.ndarray, np.ndarray, np.ndarray],
    double: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_steps: int, valid_rows: np.ndarray, n_threads: int | None = None,
) -> None:
    """Run up to ``n_steps`` iterations of each group in ``groups``, in place.

    ``Y .. KS`` are the float64 packed arrays ``(groups, chunk_len, lanes)``,
    ``Y32 .. KS32`` their float32 copies for the groups in the float32 phase (or
    empty). ``single`` and ``double`` are ``(coef, settings, tables)`` in float32
    and float64: the operator coefficients ``(g1, g2, w, alpha, beta, taps)``
    (``taps = 0`` for the untruncated kernel), the settings vector of
    :mod:`calab.core.fista_cells` and the correction tables of
    :func:`calab.core.fista_sweeps.correction_tables`. ``padding`` marks the lanes
    that hold no cell; ``valid_rows[lane]`` is the number of real samples in the
    lane's chunk (the last chunk of a cell is padded).
    """
    _solver.iterate(
        Y, S, Z, KS, Y32, S32, Z32, KS32, iters, done, floats, phases, padding,
        np.ascontiguousarray(groups, dtype=np.int64), *single, *double, int(n_steps),
        valid_rows, get_num_threads() if n_threads is None else int(n_threads),
    )
