"""Batched FISTA for the non-negative (or box-constrained) L1 deconvolution.

For each cell the solver minimises::

    F(s) = 0.5 * ||y - K s||**2 + lam * G * sum(s),   s >= 0  (or 0 <= s <= 1)

where ``K`` is causal convolution with the peak-normalised kernel and ``G`` its
gain. Both operators are evaluated in O(T) by the kernel's AR(2) recursion,
never by an explicit convolution (:mod:`calab.core.fista_sweeps`):

- ``"fft"`` (CaTune's default operator): the *truncated* kernel of
  ``KernelSpec.length`` taps, exactly: the untruncated recursion minus its
  tail, which is two lagged taps of the same recursion. Step ``1/G**2``.
- ``"banded"``: the untruncated kernel, step from its exact DC gain.

The iteration is FISTA (Beck & Teboulle 2009) with the function-value adaptive
restart of O'Donoghue & Candès (2015): the momentum is reset whenever the
objective of the iterate rises. The objective is tracked for free from the
operator applied to the extrapolated point, since ``K z`` is linear in the two
last iterates. A cell has converged when the relative change of ``s`` between
two iterations falls below ``tol`` at least ``MIN_ITERATIONS`` after its
momentum last started (start, restart, float64 phase): right after a restart
the step has no momentum and is many times shorter than the accelerated ones,
so its change does not measure the distance to the optimum. It then runs
``CONFIRM_ITERATIONS`` more (a margin on the objective) and stops.

**Two precisions.** Each group of cells first iterates in float32, which
moves half the bytes and fills twice the vector lanes, and continues in
float64 from the exact state float32 left (iterate, extrapolated point,
momentum) once all its cells have left the float32 phase: at the
convergence test with ``max(tol, SWITCH_TOL)``, at an objective rise too
small to tell from float32 rounding (``FLOAT32_HANDOVER``), or after
``FLOAT32_MAX_ITERS``. Only float64 decides restarts near the optimum and
convergence, so the result has float64 accuracy (the trajectory matches the
float64-only one closely), while most iterations run at float32 speed.
``max_iters`` cuts either phase. Kernels whose float32 recursion would be
too coarse (``tau_d * fs`` above ``FLOAT32_MAX_DECAY_SAMPLES``) run in
float64 throughout.

The hot loops are compiled C++ (``src/solver/``, the extension
:mod:`calab.core._solver`); this module and its ``fista_*`` siblings are the thin
Python layer: settings, packing, rounds. Traces are packed in groups of vector
lanes (:mod:`calab.core.fista_state`); groups run in parallel threads (GIL
released; :mod:`calab.core.fista_threads`), a group stops costing time when its cells have
converged, and cells are repacked between rounds of ``ROUND_ITERATIONS`` when that saves
groups. Groups of one cell cannot be repacked: they run to the end in one call, every
thread taking whole groups in turn, with no barrier between rounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calab.core.convolution import operator_coefficients
from calab.core.fista_cells import (
    CONFIRM,
    CONFIRM_ITERATIONS,
    HANDOVER,
    MAX_ITERS,
    N_SETTINGS,
    TOL,
    UPPER,
)
from calab.core.fista_kernel import iterate
from calab.core.fista_state import PackedState, chunk_layout
from calab.core.fista_sweeps import correction_tables
from calab.core.kernel import KernelSpec

# Iterations per round when cells may be repacked between rounds (groups of several cells).
ROUND_ITERATIONS = 64
# The float32 phase stops a cell at this relative change (or at tol if larger) ...
SWITCH_TOL = 1e-4
# ... or when its objective rises by less than this (relative), too little to tell
# from float32 rounding: float64 then decides whether to restart ...
FLOAT32_HANDOVER = 1e-6
# ... and after this many iterations at the latest.
FLOAT32_MAX_ITERS = 1500
# Slower kernels (decay in samples) run float64 only: the float32 recursion's
# rounding grows with the kernel's memory.
FLOAT32_MAX_DECAY_SAMPLES = 500.0


@dataclass(frozen=True)
class SolverOutput:
    """Activity and per-cell convergence record of one batched solve."""

    activity: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray


def solve(
    y: np.ndarray,
    spec: KernelSpec,
    lam: float,
    *,
    max_iters: int,
    tol: float,
    conv_mode: str,
    constraint: str,
    init: np.ndarray | None = None,
) -> SolverOutput:
    """Run FISTA on every row of ``y`` (``(n_cells, n_timepoints)``).

    ``init`` (same shape, optional) warm-starts the solver, e.g. from the
    solution for nearby parameters.
    """
    coefficients = operator_coefficients(spec, conv_mode, y.shape[1])
    settings = solver_settings(spec, lam, conv_mode, constraint, tol, max_iters)
    layout = chunk_layout(y.shape[1])
    single = _single_phase_settings(settings, tol, max_iters)
    state = PackedState(y, init, layout, max_iters, start_single=_float32_is_enough(spec))
    constants = [_typed(coefficients, phase, layout[1], dtype)
                 for phase, dtype in ((single, np.float32), (settings, np.float64))]
    while state.running_groups.size:
        iterate(state.arrays(), constants[0], constants[1], _round_length(state, max_iters),
                state.valid_rows, n_threads=state.n_threads)
        state.collect()
    return SolverOutput(state.finish(), state.iterations, state.converged)


def _round_length(state: PackedState, max_iters: int) -> int:
    """Iterations of the next round: the whole solve when no repacking can save groups
    (groups of one cell), so every thread takes whole groups to the end with no
    barrier between rounds; else ``ROUND_ITERATIONS``, after which cells are repacked."""
    return max(1, max_iters) if state.lane_iters.shape[1] == 1 else ROUND_ITERATIONS


def solver_settings(
    spec: KernelSpec, lam: float, conv_mode: str, constraint: str, tol: float, max_iters: int
) -> np.ndarray:
    """The ``settings`` vector of the sweeps (indices in :mod:`calab.core.fista_cells`)."""
    gain = spec.ar2_gain if conv_mode == "banded" else spec.gain
    step = 1.0 / (gain * gain)
    settings = np.zeros(N_SETTINGS)
    settings[:UPPER] = step, step * lam * gain, lam * gain
    settings[UPPER] = 1.0 if constraint == "box01" else np.inf
    settings[TOL], settings[CONFIRM] = tol, CONFIRM_ITERATIONS
    settings[MAX_ITERS] = max_iters
    return settings


def _float32_is_enough(spec: KernelSpec) -> bool:
    """Whether the kernel's recursion is accurate enough in float32 for the first phase."""
    decay_samples = -1.0 / np.log(spec.decay_root)  # tau_d * fs
    return decay_samples <= FLOAT32_MAX_DECAY_SAMPLES


def _single_phase_settings(settings: np.ndarray, tol: float, max_iters: int) -> np.ndarray:
    """The float32 phase's settings: a cell leaves it at the switch tolerance (no
    confirming iterations), when the objective's change is too small to tell in
    float32, or after its budget."""
    single = settings.copy()
    single[TOL], single[CONFIRM] = max(tol, SWITCH_TOL), 0.0
    single[MAX_ITERS] = min(max_iters, FLOAT32_MAX_ITERS)
    single[HANDOVER] = FLOAT32_HANDOVER
    return single


def _typed(
    coefficients: np.ndarray, settings: np.ndarray, chunk_len: int, dtype: type
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coef, settings, tables)`` of one phase, in its dtype."""
    tables = correction_tables(coefficients[0], coefficients[1], chunk_len)
    def typed(values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=dtype)

    return typed(coefficients), typed(settings), typed(tables)
