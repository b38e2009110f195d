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
from calab.core.validation import check_lambda, check_positive
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


class MissingFieldError(KeyError, ValueError):
    """A required field is absent. Both a ``KeyError`` and a ``ValueError``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


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
    prefix = f"{source}: " if source else ""
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"{prefix}parameters must be a JSON object/dict; got {type(obj).__name__}"
        )
    if "parameters" in obj or "schema_version" in obj:
        fields = _export_fields(obj, prefix)
    else:
        fields = _flat_fields(obj, prefix)
    return _validated(fields, prefix)


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
    params: Mapping[str, Any], path: str | Path, *, metadata: Mapping[str, Any] | None = None
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
    flat = normalize_params(params, source="params")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict or None; got {type(metadata).__name__}")
    carried = params.get("metadata") if "parameters" in params else None
    merged = {**(carried if isinstance(carried, Mapping) else {}), **(metadata or {})}
    content = export_document(flat, merged)
    return write_atomically(path, lambda fh: fh.write(json_bytes(content, "export")))


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
        raise MissingFieldError(f"{prefix}missing field 'parameters' (the parameter object)")
    block = document["parameters"]
    if not isinstance(block, Mapping):
        raise TypeError(
            f"{prefix}field 'parameters' must be an object; got {type(block).__name__}"
        )
    fields = {}
    for key, name in EXPORT_FIELDS.items():
        path = f"parameters.{name}"
        if name in block:
            fields[key] = (path, block[name])
        elif key != "filter_enabled":
            raise MissingFieldError(f"{prefix}missing field '{path}'")
    return fields


def _flat_fields(flat: Mapping[str, Any], prefix: str) -> dict[str, tuple[str, Any]]:
    """Map flat keys to ``(field name, raw value)``, accepting "lambda" for ``lambda_``."""
    if "lambda_" in flat and "lambda" in flat and flat["lambda_"] != flat["lambda"]:
        raise ValueError(
            f"{prefix}lambda_={flat['lambda_']!r} and lambda={flat['lambda']!r} disagree; "
            "give only one"
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
                f"(and optionally filter_enabled), got {sorted(map(str, flat))}"
            )
    return fields


def _validated(fields: dict[str, tuple[str, Any]], prefix: str) -> dict[str, Any]:
    try:
        tau_rise = check_positive(*fields["tau_rise"])
        tau_decay = check_positive(*fields["tau_decay"])
        fs = check_positive(*fields["fs"])
        lam = check_lambda(fields["lambda_"][1], name=fields["lambda_"][0])
        filter_enabled = _check_bool(*fields.get("filter_enabled", ("filter_enabled", False)))
    except (TypeError, ValueError) as err:
        raise type(err)(f"{prefix}{err}") from None
    if tau_rise >= tau_decay:
        raise ValueError(
            f"{prefix}{fields['tau_rise'][0]}={tau_rise} must be smaller than "
            f"{fields['tau_decay'][0]}={tau_decay} (rise and decay time constants in seconds)"
        )
    return {
        "tau_rise": tau_rise,
        "tau_decay": tau_decay,
        "lambda_": lam,
        "fs": fs,
        "filter_enabled": filter_enabled,
    }


def _check_schema_version(version: Any, prefix: str) -> None:
    parts = version.split(".") if isinstance(version, str) else []
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(
            f"{prefix}schema_version={version!r} is not a version string like '1.2.0'"
        )
    if parts[0] != SUPPORTED_MAJOR:
        raise ValueError(
            f"{prefix}schema_version={version!r} is not supported; calab reads CaTune "
            f"export schemas 1.x (1.0.0 to {EXPORT_SCHEMA_VERSION})"
        )


def _check_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise TypeError(f"{name}={value!r} must be true or false")
