"""The result type of a full deconvolution."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class DeconvolutionResult(NamedTuple):
    """Full result of a FISTA deconvolution.

    Attributes
    ----------
    activity : numpy.ndarray
        Non-negative deconvolved activity, same shape as the input traces.
        It is scaled neural activity in the kernel's units (the kernel peaks
        at 1), not spike counts.
    baseline : float or numpy.ndarray
        Scalar baseline per trace in the input's units: the mean of what
        preprocessing removed (rolling baseline, and the out-of-band part when
        the filter is on) plus the mean residual of the fit. ``(n_cells,)``
        for 2-D input, a float for 1-D input.
    reconvolution : numpy.ndarray
        The fit in the input's own units (kernel * activity plus everything
        preprocessing removed), so ``traces - reconvolution`` is the residual
        of the objective.
    iterations : int or numpy.ndarray
        FISTA iterations run per trace.
    converged : bool or numpy.ndarray
        Whether each trace met the convergence tolerance within ``max_iters``.
    """

    activity: np.ndarray
    baseline: float | np.ndarray
    reconvolution: np.ndarray
    iterations: int | np.ndarray
    converged: bool | np.ndarray

    def squeeze(self) -> DeconvolutionResult:
        """The single-trace form: 1-D arrays and scalars from a one-row result."""
        return DeconvolutionResult(
            activity=self.activity[0],
            baseline=float(np.asarray(self.baseline)[0]),
            reconvolution=self.reconvolution[0],
            iterations=int(np.asarray(self.iterations)[0]),
            converged=bool(np.asarray(self.converged)[0]),
        )
