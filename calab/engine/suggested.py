"""``params="auto"`` in an out-of-core run: parameters suggested from the recording.

The suggestion (:func:`calab.core.suggest.suggest_params`) reads a
representative subsample of the opened recording (cells spread over it, a
centred window), so a large store is read only there. It is made once per
output: a resumed run reuses the suggestion its output records, so every block
of one output is deconvolved with the same parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from calab.core.checks import sampling_rate
from calab.core.suggest import SuggestionWarning, suggest_params, suggestion_record
from calab.errors import InvalidParameterError, ParameterTypeError

AUTO = "auto"
#: Keys an ``{"auto": true, ...}`` request may hold.
AUTO_KEYS = ("auto", "fs", "filter_enabled")


def auto_request(params: Any) -> dict[str, Any] | None:
    """``{"fs", "filter_enabled"}`` of an ``"auto"`` request, or None for explicit parameters.

    ``params`` is ``"auto"`` or ``{"auto": true, "fs": HZ, "filter_enabled": bool}``
    (``fs`` optional when the recording records its rate).

    Raises
    ------
    calab.errors.InvalidParameterError
        An unknown key beside ``auto``, ``auto`` other than true, ``fs`` outside the
        plausible sampling rates (:func:`calab.core.checks.sampling_rate`).
    calab.errors.ParameterTypeError
        A non-numeric ``fs`` or non-boolean ``filter_enabled``.

    Examples
    --------
    >>> auto_request("auto"), auto_request({"auto": True, "fs": 30})
    ({'fs': None, 'filter_enabled': False}, {'fs': 30.0, 'filter_enabled': False})
    >>> auto_request({"tau_rise": 0.1}) is None
    True
    """
    if isinstance(params, str) and params == AUTO:
        return {"fs": None, "filter_enabled": False}
    if not isinstance(params, Mapping) or "auto" not in params:
        return None
    unknown = sorted(set(params) - set(AUTO_KEYS))
    if unknown:
        raise InvalidParameterError(f"{unknown[0]}: with auto, only fs and filter_enabled may "
                                    "be given (the rest is suggested)", argument=unknown[0])
    if params["auto"] is not True:
        raise InvalidParameterError(f"auto={params['auto']!r} must be true", argument="auto")
    filter_enabled = params.get("filter_enabled", False)
    if not isinstance(filter_enabled, bool):
        raise ParameterTypeError(f"filter_enabled={filter_enabled!r} must be true or false",
                                 argument="filter_enabled")
    return {"fs": _positive_fs(params.get("fs")), "filter_enabled": filter_enabled}


def _positive_fs(value: Any) -> float | None:
    return None if value is None else sampling_rate("fs", value)


def suggest_for_run(recording: Any, request: Mapping[str, Any],
                    recorded: Mapping[str, Any] | None = None
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Flat parameters for the run and the record the output keeps.

    Parameters
    ----------
    recording : calab.io.recording.Recording
        The opened input (read lazily: only the subsample).
    request : dict
        From :func:`auto_request`.
    recorded : dict, optional
        The ``"calab"`` attributes of an existing output of this run: when they
        hold a suggestion, it is reused (a resumed run keeps its parameters).

    Returns
    -------
    tuple of dict
        ``(params, record)``: flat ``{tau_rise, tau_decay, lambda_, fs,
        filter_enabled}`` and :func:`calab.core.suggest.suggestion_record`.
    """
    fs = request["fs"] if request["fs"] is not None else recording.fs
    if fs is None:
        missing = getattr(recording, "missing_fs", lambda: "records no sampling rate")()
        raise InvalidParameterError(f"fs: auto parameters need the sampling rate; the input "
                                    f"{missing}, so give fs (Hz)", argument="fs")
    previous = (recorded or {}).get("suggested")
    if isinstance(previous, dict) and previous.get("fs") == float(fs):
        record = dict(previous)
    else:
        with warnings.catch_warnings():  # unreliable: said in the record's reasons
            warnings.simplefilter("ignore", SuggestionWarning)
            record = suggestion_record(suggest_params(recording.traces, float(fs)))
    params = {key: record[key] for key in ("tau_rise", "tau_decay", "lambda_", "fs")}
    params["filter_enabled"] = bool(request["filter_enabled"])
    return params, record
