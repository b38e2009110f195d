"""The parameters the app opens at: :func:`calab.suggest_params` on the data it shows.

The bridge computes the suggestion once, when it gets its data (``calab
tune``/``calab.tune()``, a dropped file, the demo data), and sends it with the
dataset description (``GET /api/v1/metadata``, ``POST /api/v1/dataset``,
``POST /api/v1/demo``) as the ``suggestion`` field. The page starts at it
(unless the browser kept parameters for the same recording), marks it on each
slider and offers "reset to suggestion".
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from calab.core.suggest import SuggestionWarning, suggest_params

__all__ = ["suggestion_document"]

logger = logging.getLogger(__name__)


def suggestion_document(traces: Any, fs: float) -> dict[str, Any] | None:
    """The ``suggestion`` field of the dataset description, or None when there is none.

    Parameters
    ----------
    traces : array-like
        ``(n_cells, n_timepoints)`` lazily indexable recording (the whole one:
        :func:`calab.suggest_params` reads its own representative subsample).
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    dict or None
        ``tau_rise`` and ``tau_decay`` (seconds), ``lambda``, ``filter_enabled``
        and ``fs`` as :func:`calab.suggest_params` returns them, plus
        ``reliable``, ``reasons`` (why it is not, if so), ``cells_read`` and
        ``cells_active`` from its ``details``. None (and a log message) when the
        data admit no suggestion, e.g. constant traces.

    Examples
    --------
    >>> import calab
    >>> sim = calab.simulate(num_cells=8, duration_s=120.0, fs=30.0, seed=1)
    >>> doc = suggestion_document(sim.traces, 30.0)
    >>> sorted(doc)[:4], doc["tau_rise"] < doc["tau_decay"]
    (['cells_active', 'cells_read', 'filter_enabled', 'fs'], True)
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SuggestionWarning)
            suggested = suggest_params(traces, fs)
    except (ArithmeticError, LookupError, TypeError, ValueError) as error:
        logger.warning("no parameter suggestion for these data: %s", error)
        return None
    details = suggested["details"]
    return {
        "tau_rise": float(suggested["tau_rise"]),
        "tau_decay": float(suggested["tau_decay"]),
        "lambda": float(suggested["lambda_"]),
        "filter_enabled": bool(suggested["filter_enabled"]),
        "fs": float(suggested["fs"]),
        "reliable": bool(details.get("reliable", False)),
        "reasons": [str(r) for r in details.get("reasons", [])],
        "cells_read": int(np.size(details.get("cells", []))),
        "cells_active": int(np.size(details.get("active", []))),
    }
