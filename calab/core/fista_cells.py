"""The per-cell bookkeeping of the batched FISTA solver: its index constants.

The momentum, restart and convergence logic runs in the compiled core
(``src/solver/step.hpp``), which defines every index constant once
(``src/solver/layout.hpp``); this module re-exports them from
:mod:`calab.core._solver`.

Per-cell scalars live in ``floats[g]`` rows: ``T_MOMENTUM`` (FISTA's t),
``OBJECTIVE`` (F of the previous iterate), ``BETA`` (weight that formed z),
``SUM_S`` (sum of the current iterate), ``COUNTDOWN`` (iterations left
once converged; 0 before), ``CONVERGED`` (1 once the test has been met) and
``SETTLED`` (iterations since the momentum last started).
A cell stops (``done``) when its confirming iterations are over or it has
used ``max_iters``.

The solver's constants are the ``settings`` vector, indexed by ``STEP``,
``THRESHOLD`` (step times the penalty), ``LAM_GAIN`` (the penalty), ``UPPER``
(bound of ``s``), ``TOL``, ``CONFIRM`` (iterations run once converged),
``MAX_ITERS`` and ``HANDOVER`` (the float32 phase's objective margin).

A cell has converged once its relative change has fallen below ``tol`` at least
``MIN_ITERATIONS`` after its momentum last started (the start, a restart, the
float64 phase): a restart's momentum-free steps are many times shorter than the
accelerated ones, so their change does not measure the distance to the optimum.
It then runs ``CONFIRM_ITERATIONS`` more, a margin on the objective at a bounded
cost. A rise of the objective smaller than ``RESTART_MARGIN``
(relative) is rounding, not a reason to restart.
"""

from __future__ import annotations

from calab.core import _solver

T_MOMENTUM: int = _solver.T_MOMENTUM
OBJECTIVE: int = _solver.OBJECTIVE
BETA: int = _solver.BETA
SUM_S: int = _solver.SUM_S
COUNTDOWN: int = _solver.COUNTDOWN
CONVERGED: int = _solver.CONVERGED
SETTLED: int = _solver.SETTLED
N_FLOATS: int = _solver.N_FLOATS
STEP: int = _solver.STEP
THRESHOLD: int = _solver.THRESHOLD
LAM_GAIN: int = _solver.LAM_GAIN
UPPER: int = _solver.UPPER
TOL: int = _solver.TOL
CONFIRM: int = _solver.CONFIRM
MAX_ITERS: int = _solver.MAX_ITERS
HANDOVER: int = _solver.HANDOVER
N_SETTINGS: int = _solver.N_SETTINGS
MIN_ITERATIONS: int = _solver.MIN_ITERATIONS
CONFIRM_ITERATIONS: int = _solver.CONFIRM_ITERATIONS
RESTART_MARGIN: float = _solver.RESTART_MARGIN
