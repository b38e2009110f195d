"""CaTune export JSON: the parameters the web app and the CLI share.

An export (schema 1.0.0 to 1.2.0) looks like::

    {
      "schema_version": "1.2.0",
      "catune_version": "0.9.0",
      "export_date": "2026-11-24T10:00:00Z",
      "parameters": {"tau_rise_s": 0.1, "tau_decay_s": 0.6, "lambda": 1.0,
                     "sampling_rate_hz": 30.0, "filter_enabled": false,
                     "t_peak_s": 0.215, "fwhm_s": 0.694},
      "ar2_coefficients": {"g1": ..., "g2": ..., "decayRoot": ..., "riseRoot": ..., "dt": ...},
      "formulation": {"model": "FISTA with double-exponential kernel"},
      "metadata": {...}
    }

Inside calab the same parameters travel as a flat dict
``{tau_rise, tau_decay, lambda_, fs, filter_enabled}`` (seconds, Hz).
:func:`normalize_params` turns either form into that validated flat dict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from calab._version import __version__
from calab.core.kernel import kernel_peak_fwhm, tau_to_ar2
from calab.core.options import (
    DeconvolutionOptions,
    flag,
    non_negative_number,
    positive_number,
)
from calab.errors import CalabError, InvalidParameterError, MissingFieldError, ParameterTypeError
from calab.io import json_bytes, read_json_object, write_atomically

EXPORT_SCHEMA_VERSION = "1.2.0"
SUPPORTED_MAJOR = "1"
MODEL_NAME = "FISTA with double-exponential kernel"
PARAM_KEYS = ("tau_rise", "tau_decay", "lambda_", "fs", "filter_enabled")

# flat key -> key inside the export's "parameters" object
EXPORT_FIELDS = {
    "tau_rise": "tau_rise_s",
    "tau_decay": "tau_decay_s",
    "lambda_": "lambda",
    "fs": "sampling_rate_hz",
    "filter_enabled": "filter_enabled",
}


__all__ = ["MissingFieldError", "export_document", "load_export_params", "normalize_params",
           "params_to_options", "save_export_params"]


def normalize_params(obj: Mapping[str, Any], *, source: str | None = None) -> dict[str, Any]:
    """Validate deconvolution parameters given as a CaTune export or a flat dict.

    Parameters
    ----------
    obj : mapping
        Either a parsed CaTune export (with ``schema_version`` 1.x and a
        ``parameters`` object holding ``tau_rise_s``, ``tau_decay_s``,
        ``lambda``, ``sampling_rate_hz`` and optionally ``filter_enabled``), or
        a flat dict ``{tau_rise, tau_decay, lambda_ (or "lambda"), fs,
        filter_enabled}``. ``filter_enabled`` defaults to False.
    source : str, optional
        Keyword-only. Prefix for error messages (a file name, "request body").

    Returns
    -------
    dict
        ``{"tau_rise": s, "tau_decay": s, "lambda_": float, "fs": Hz,
        "filter_enabled": bool}``.

    Raises
    ------
    MissingFieldError
        (a ``KeyError`` and ``ValueError``) naming the missing field path,
        e.g. ``parameters.tau_decay_s``.
    TypeError
        A field of the wrong type (a string where a number belongs).
    ValueError
        Out-of-range values (``tau_rise >= tau_decay``, ``lambda < 0``,
        ``fs <= 0``, non-finite) or an unsupported schema major version.

    Examples
    --------
    >>> normalize_params({"tau_rise": 0.1, "tau_decay": 0.6, "lambda": 1, "fs": 30})
    {'tau_rise': 0.1, 'tau_decay': 0.6, 'lambda_': 1.0, 'fs': 30.0, 'filter_enabled': False}
    """
    return params_to_options(obj, source=source).to_params()


def params_to_options(
    obj: Mapping[str, Any], *, source: str | None = None, per_cell: bool = False,
    **solver_options: Any,
) -> DeconvolutionOptions:
    """The validated :class:`DeconvolutionOptions` of an export or flat parameter dict.

    Parameters
    ----------
    obj : mapping
        As :func:`normalize_params`.
    source : str, optional
        Keyword-only. Prefix for error messages.
    per_cell : bool, optional
        Keyword-only. Accept lists of one value per cell for ``tau_rise``,
        ``tau_decay`` and ``lambda_`` (a CaTune export holds scalars).
    **solver_options
        The other fields of :class:`DeconvolutionOptions` (``max_iters``, ...).

    Examples
    --------
    >>> flat = {"tau_rise": 0.1, "tau_decay": [0.5, 0.6], "lambda_": 1, "fs": 30}
    >>> params_to_options(flat, per_cell=True, max_iters=100).n_cells
    2
    """
    prefix = f"{source}: " if source else ""
    if not isinstance(obj, Mapping):
        raise ParameterTypeError(
            f"{prefix}parameters must be a JSON object/dict; got {type(obj).__name__}",
            argument="params",
        )
    if "parameters" in obj or "schema_version" in obj:
        fields = _export_fields(obj, prefix)
    else:
        fields = _flat_fields(obj, prefix)
    flat = _validated(fields, prefix, per_cell)
    try:
        return DeconvolutionOptions.from_params(flat, **solver_options)
    except CalabError as err:
        raise type(err)(f"{prefix}{err}", argument=err.argument) from None


def load_export_params(path: str | Path) -> dict[str, Any]:
    """Read the deconvolution parameters of a CaTune export JSON.

    Parameters
    ----------
    path : str or pathlib.Path
        Export file, schema 1.0.0 to 1.2.0 (any 1.x is read).

    Returns
    -------
    dict
        ``{"tau_rise", "tau_decay", "lambda_", "fs", "filter_enabled"}`` in
        seconds, Hz and a bool; see :func:`normalize_params`.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError, TypeError, MissingFieldError
        Malformed JSON (with the line and column), missing fields, wrong
        types or invalid values; every message starts with the file name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "export.json"
    >>> _ = save_export_params({"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 1.0, "fs": 30.0}, f)
    >>> load_export_params(f)["tau_decay"]
    0.6
    """
    document = read_json_object(path, "CaTune export")
    return normalize_params(document, source=str(path))


def save_export_params(
    params: Mapping[str, Any], path: str | Path, *, metadata: Mapping[str, Any] | None = None,
    per_cell: Mapping[str, Any] | None = None,
) -> Path:
    """Write parameters as a CaTune export JSON (schema 1.2.0).

    Parameters
    ----------
    params : mapping
        Flat ``{tau_rise, tau_decay, lambda_, fs, filter_enabled}`` or a CaTune
        export dict; validated with :func:`normalize_params`.
    path : str or pathlib.Path
        Output file; written atomically (a temporary file renamed into place).
    metadata : mapping, optional
        Keyword-only. JSON-serialisable keys for the ``metadata`` object
        (CaTune writes ``source_filename``, ``num_cells``, ``num_timepoints``).
        When ``params`` is an export, its ``metadata`` is kept and updated.
    per_cell : mapping, optional
        Keyword-only. One value per cell for any of ``tau_rise``, ``tau_decay``
        and ``lambda_`` (e.g. from ``calab.suggest_params(..., per_cell=True)``),
        written to the extra top-level field ``calab_per_cell`` (keys named as
        in ``parameters``), which CaTune ignores; ``parameters`` keeps the
        scalar values, so the file stays a valid CaTune export.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "export.json"
    >>> p = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 1.0, "fs": 30.0}
    >>> out = save_export_params(p, f, metadata={"num_cells": 16})
    >>> doc = json.loads(out.read_text())
    >>> doc["schema_version"], doc["parameters"]["lambda"], round(doc["ar2_coefficients"]["g1"], 4)
    ('1.2.0', 1.0, 1.6625)
    """
    flat = normalize_params(params, source="params")  # scalars only: CaTune reads scalars
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict or None; got {type(metadata).__name__}")
    carried = params.get("metadata") if "parameters" in params else None
    merged = {**(carried if isinstance(carried, Mapping) else {}), **(metadata or {})}
    content = export_document(flat, merged)
    if per_cell:
        content[PER_CELL_FIELD] = _per_cell_block(per_cell)
    return write_atomically(path, lambda fh: fh.write(json_bytes(content, "export")))


PER_CELL_FIELD = "calab_per_cell"


def _per_cell_block(per_cell: Mapping[str, Any]) -> dict[str, list[float]]:
    """``{tau_rise_s: [...], ...}``: per-cell values under their export names."""
    block = {}
    for key, values in per_cell.items():
        if key not in ("tau_rise", "tau_decay", "lambda_"):
            raise ValueError(f"per_cell key {key!r} must be one of tau_rise, tau_decay, lambda_")
        block[EXPORT_FIELDS[key]] = [float(v) for v in np.ravel(values)]
    return block


def export_document(params: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The CaTune export object (schema 1.2.0) for a validated flat parameter dict.

    Besides the parameters it carries the kernel's peak time ``t_peak_s`` and
    full width at half maximum ``fwhm_s`` (seconds, of the continuous kernel;
    see :func:`calab.core.kernel.kernel_peak_fwhm`); readers ignore them.
    """
    tau_rise, tau_decay, fs = params["tau_rise"], params["tau_decay"], params["fs"]
    g1, g2, decay_root, rise_root = tau_to_ar2(tau_rise, tau_decay, fs)
    t_peak, fwhm = kernel_peak_fwhm(tau_rise, tau_decay)
    parameters = {EXPORT_FIELDS[key]: params[key] for key in PARAM_KEYS}
    return {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "catune_version": f"calab-{__version__}",
        "export_date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": {**parameters, "t_peak_s": t_peak, "fwhm_s": fwhm},
        "ar2_coefficients": {
            "g1": g1, "g2": g2, "decayRoot": decay_root, "riseRoot": rise_root, "dt": 1.0 / fs,
        },
        "formulation": {"model": MODEL_NAME},
        "metadata": dict(metadata),
    }


def _export_fields(document: Mapping[str, Any], prefix: str) -> dict[str, tuple[str, Any]]:
    """Map flat keys to ``(field path, raw value)`` from an export document."""
    _check_schema_version(document.get("schema_version", "1.0.0"), prefix)
    if "parameters" not in document:
        raise MissingFieldError(
            f"{prefix}missing field 'parameters' (the parameter object)", argument="parameters"
        )
    block = document["parameters"]
    if not isinstance(block, Mapping):
        raise ParameterTypeError(
            f"{prefix}field 'parameters' must be an object; got {type(block).__name__}",
            argument="parameters",
        )
    fields = {}
    for key, name in EXPORT_FIELDS.items():
        path = f"parameters.{name}"
        if name in block:
            fields[key] = (path, block[name])
        elif key != "filter_enabled":
            raise MissingFieldError(f"{prefix}missing field '{path}'", argument=path)
    return fields


def _flat_fields(flat: Mapping[str, Any], prefix: str) -> dict[str, tuple[str, Any]]:
    """Map flat keys to ``(field name, raw value)``, accepting "lambda" for ``lambda_``."""
    if "lambda_" in flat and "lambda" in flat and flat["lambda_"] != flat["lambda"]:
        raise InvalidParameterError(
            f"{prefix}lambda_={flat['lambda_']!r} and lambda={flat['lambda']!r} disagree; "
            "give only one", argument="lambda_",
        )
    fields = {}
    for key in PARAM_KEYS:
        names = (key, "lambda") if key == "lambda_" else (key,)
        found = [name for name in names if name in flat]
        if found:
            fields[key] = (found[0], flat[found[0]])
        elif key != "filter_enabled":
            raise MissingFieldError(
                f"{prefix}missing field '{key}'; expected tau_rise, tau_decay, lambda_, fs "
                f"(and optionally filter_enabled), got {sorted(map(str, flat))[:20]}",
                argument=key,
            )
    return fields


def _validated(
    fields: dict[str, tuple[str, Any]], prefix: str, per_cell: bool
) -> dict[str, Any]:
    """Check each field under its own name; the flat dict for ``from_params``."""
    checks = {"tau_rise": positive_number, "tau_decay": positive_number,
              "lambda_": non_negative_number, "fs": positive_number, "filter_enabled": flag}
    flat: dict[str, Any] = {"filter_enabled": False}
    try:
        for key, (name, value) in fields.items():
            if per_cell and key in ("tau_rise", "tau_decay", "lambda_") and isinstance(
                    value, (list, tuple, np.ndarray)):
                flat[key] = value  # checked element by element by DeconvolutionOptions
            else:
                flat[key] = checks[key](name, value)
    except CalabError as err:
        raise type(err)(f"{prefix}{err}", argument=err.argument) from None
    rise, decay = flat["tau_rise"], flat["tau_decay"]
    if np.ndim(rise) == np.ndim(decay) == 0 and rise >= decay:
        raise InvalidParameterError(
            f"{prefix}{fields['tau_rise'][0]}={rise} must be smaller than "
            f"{fields['tau_decay'][0]}={decay} (rise and decay time constants in seconds)",
            argument=fields["tau_rise"][0],
        )
    return flat


def _check_schema_version(version: Any, prefix: str) -> None:
    parts = version.split(".") if isinstance(version, str) else []
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise InvalidParameterError(
            f"{prefix}schema_version={version!r} is not a version string like '1.2.0'",
            argument="schema_version",
        )
    if parts[0] != SUPPORTED_MAJOR:
        raise InvalidParameterError(
            f"{prefix}schema_version={version!r} is not supported; calab reads CaTune "
            f"export schemas 1.x (1.0.0 to {EXPORT_SCHEMA_VERSION})", argument="schema_version",
        )
