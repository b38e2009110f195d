"""The FISTA sweeps over the samples, parallel over cells *and* time.

The sweeps are compiled C++ (``src/solver/operators.hpp`` and ``step.hpp``, built
ahead of time into :mod:`calab.core._solver`); this module holds the correction
tables they read and small entry points to the operators for tests.

A recursion over ``T`` samples of a handful of cells is too narrow to fill the
vector units: each time step depends on the previous one. So every trace is
cut into ``n_chunks`` chunks of ``chunk_len`` samples, and a *lane* is one
chunk of one cell (lane ``cell * n_chunks + chunk``). Arrays of a group are
``(chunk_len, lanes)``, lanes contiguous per time step, and every sweep is a
loop over lanes that the compiler vectorises. Passes with per-cell quantities
(the fit, the proximal step's change record) read per-lane copies of the
per-cell weights (a group of one cell: its scalar weights); a stopped cell's
lanes keep their iterate, extrapolated point and ``K s`` record.

**Operators.** Both modes start from the untruncated kernel ``c = K_full z``,
the AR(2) recursion ``c[t] = g1*c[t-1] + g2*c[t-2] + w*z[t-1]``. ``"banded"``
uses it as is. ``"fft"`` needs the kernel truncated to ``K`` taps; its tail
``sum_{i>=K} h[i] z[t-i]`` is ``(d**K E_d[t-K] - r**K E_r[t-K]) / peak``
with ``E`` the two exponential running sums, and those are recovered exactly
from two consecutive samples of ``c``, so::

    K_trunc z = c[t] - alpha*c[t-K+1] + beta*c[t-K]
    alpha = (d**K - r**K)/(d - r),   beta = (r*d**K - d*r**K)/(d - r)

and ``K_trunc^T r = K_full^T u`` with ``u[t] = r[t] - alpha*r[t+K-1] + beta*r[t+K]``.

**Exact despite the cut.** A linear recursion run over a chunk from zero
state differs from the true one by a solution of the homogeneous recursion,
fixed by the two states carried in from the neighbouring chunk::

    c[t0 + tau] = local[tau] + A[tau] * k1 + A[tau - 1] * k2

with ``A`` the homogeneous solution from ``A[-1] = 1, A[-2] = 0``. The
carries are found by a short pass over the chunks of each cell (the
"fix-up"), then one vectorised pass adds the correction.

**Two sweeps per iteration.** For ``"banded"`` an iteration reads the group's
arrays twice: a backward sweep forms the residual from the corrected ``K z`` row
by row from the chunk's end and feeds it straight into the adjoint recursion,
written over the row it came from (``src/solver/sweeps.hpp``); a forward sweep
takes the proximal step and runs the local forward recursion of the new ``z``
over the adjoint rows it has just read (``step.hpp``). The row loop sits inside
each sweep's function, so its constants are set up once per sweep.

**Two rows per loop.** The main passes take two time steps per loop over the lanes:
the per-lane carries and partial sums are read and written once for both
rows, and a recursion keeps the newer row in a register instead of reading
it back. The partial sums keep the one-row order of additions.

The passes run in the dtype of the arrays they get (float32 or float64,
:mod:`calab.core.fista_kernel` chains them into iterations): every constant
and accumulator of an inner loop takes that dtype, per-cell sums are added up
lane by lane in a fixed order in float64, and the carries of the fix-up are
computed in float64. No contraction into FMA and no reassociation: the
vector width (baseline, AVX2 or AVX-512, chosen at run time) changes no bit.

The work array has ``GUARD`` zero rows on both sides of the chunk so that the
recursions need no special first or last steps.
"""

from __future__ import annotations

import numpy as np

from calab.core import _solver

GUARD: int = _solver.GUARD
# Indices of the operator coefficients (calab.core.convolution.operator_coefficients).
G1: int = _solver.G1
G2: int = _solver.G2
W: int = _solver.W
ALPHA: int = _solver.ALPHA
BETA_TAIL: int = _solver.BETA_TAIL
TAPS: int = _solver.TAPS


def correction_tables(g1: float, g2: float, chunk_len: int) -> np.ndarray:
    """Homogeneous solutions indexed as the passes need them, ``(4, chunk_len)``.

    With ``L = chunk_len``, row by row at ``tau``: ``A[tau]`` and ``A[tau - 1]``
    (forward correction of sample ``tau``), then ``A[L - 2 - tau]`` and
    ``A[L - 3 - tau]`` (correction of the gradient at ``tau``, which is the
    adjoint state one sample later, counted from the chunk's end).
    """
    extended = np.empty(chunk_len + 2)  # A[k] at index k + 2, from k = -2
    extended[0], extended[1] = 0.0, 1.0
    for k in range(2, chunk_len + 2):
        extended[k] = g1 * extended[k - 1] + g2 * extended[k - 2]
    tau = np.arange(chunk_len)
    return np.stack([
        extended[tau + 2], extended[tau + 1],
        extended[chunk_len - tau], extended[chunk_len - 1 - tau],
    ])


def apply_operator(x: np.ndarray, coef: np.ndarray, n_chunks: int) -> np.ndarray:
    """``K x`` for packed lanes ``x`` ``(chunk_len, lanes)`` (cells of ``n_chunks`` lanes),
    the operator of ``coef``, in the dtype of ``x`` (float32 or float64)."""
    x, coef, tables = _typed(x, coef)
    return np.asarray(_solver.forward(x, coef, tables, int(n_chunks)))


def apply_adjoint(r: np.ndarray, coef: np.ndarray, n_chunks: int) -> np.ndarray:
    """``K^T r`` for packed lanes, as the solver's gradient reads it."""
    r, coef, tables = _typed(r, coef)
    return np.asarray(_solver.forward(r, coef, tables, int(n_chunks), adjoint=True))


def fit_and_gradient(
    z: np.ndarray, y: np.ndarray, coef: np.ndarray, valid_rows: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell ``0.5*||K z - y||**2`` (real samples only) and ``K^T (K z - y)``, through
    the residual pass and adjoint of one solver iteration (packed lanes, ``width`` cells)."""
    z, coef, tables = _typed(z, coef)
    y = np.ascontiguousarray(y, dtype=z.dtype)
    rows = np.ascontiguousarray(valid_rows, dtype=np.int64)
    fit, gradient = _solver.fit_gradient(z, y, rows, coef, tables, int(width))
    return np.asarray(fit), np.asarray(gradient)


def _typed(
    lanes: np.ndarray, coef: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dtype = np.float32 if lanes.dtype == np.float32 else np.float64
    tables = correction_tables(coef[G1], coef[G2], lanes.shape[0])
    return (np.ascontiguousarray(lanes, dtype=dtype), np.ascontiguousarray(coef, dtype=dtype),
            np.ascontiguousarray(tables, dtype=dtype))
