"""Deconvolution parameters in request bodies, for both HTTP apps.

A body's parameters come either as a flat dict (``tau_rise``, ``tau_decay``,
``lambda_`` or ``lambda``, ``fs``, ``filter_enabled``) or as a CaTune export
(``schema_version`` 1.x and a ``parameters`` object). :func:`flat_params` maps
either to the flat keys of :meth:`calab.core.options.DeconvolutionOptions.from_params`
and remembers which request field each value came from, so that
:func:`field_error` turns a validation error into a 422 naming that field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calab.core.options import DeconvolutionOptions
from calab.errors import CalabError
from calab.server.errors import UNPROCESSABLE, ApiError

FLAT_KEYS = ("tau_rise", "tau_decay", "lambda_", "lambda", "fs", "filter_enabled")
#: Key of the export's ``parameters`` object -> flat key.
EXPORT_KEYS = {
    "tau_rise_s": "tau_rise", "tau_decay_s": "tau_decay", "lambda": "lambda_",
    "sampling_rate_hz": "fs", "filter_enabled": "filter_enabled",
}
#: DeconvolutionOptions argument -> flat key.
PARAM_OF_ARGUMENT = {"fs": "fs", "tau_r": "tau_rise", "tau_d": "tau_decay", "lam": "lambda_",
                     "filter_enabled": "filter_enabled"}

FieldNames = dict[str, str]


def flat_params(value: Any, prefix: str = "params.") -> tuple[dict[str, Any], FieldNames]:
    """A flat parameter dict and, per flat key, the request field it came from.

    Parameters
    ----------
    value : object
        The decoded JSON of the parameters (flat or a CaTune export).
    prefix : str
        Prepended to field names (``"params."`` in a job submission, ``""``
        when the whole body is the parameter set).

    Raises
    ------
    ApiError
        422 for a non-object, an unknown flat key, an unsupported schema.

    Examples
    --------
    >>> flat_params({"tau_rise": 0.1, "tau_decay": 0.6, "lambda": 1, "fs": 30})[0]
    {'tau_rise': 0.1, 'tau_decay': 0.6, 'fs': 30, 'lambda_': 1}
    """
    where = prefix.rstrip(".") or "the request body"
    if not isinstance(value, dict):
        raise ApiError(UNPROCESSABLE, f"{where} must be a JSON object", field=prefix.rstrip(".")
                       or None)
    if "parameters" in value or "schema_version" in value:
        return _export_params(value, prefix)
    unknown = sorted(set(value) - set(FLAT_KEYS))
    if unknown:
        name = f"{prefix}{unknown[0]}"
        raise ApiError(UNPROCESSABLE, f"unknown parameter {unknown[0]!r}; allowed: "
                       f"{', '.join(FLAT_KEYS)}", field=name)
    flat = dict(value)
    names = {key: f"{prefix}{key}" for key in FLAT_KEYS}
    if "lambda" in flat:
        if "lambda_" in flat and flat["lambda_"] != flat["lambda"]:
            raise ApiError(UNPROCESSABLE, "give only one of lambda and lambda_",
                           field=f"{prefix}lambda")
        flat["lambda_"] = flat.pop("lambda")
        names["lambda_"] = f"{prefix}lambda"
    _refuse_containers(flat, names)
    return flat, names


def _refuse_containers(flat: dict[str, Any], names: Mapping[str, str]) -> None:
    """One value for all cells: arrays and objects are refused (422 naming the field)."""
    for key, value in flat.items():
        if isinstance(value, (list, dict)):
            field_name = names.get(key, key)
            raise ApiError(UNPROCESSABLE, f"{field_name} must be a single number, not "
                           f"{'an array' if isinstance(value, list) else 'an object'}",
                           field=field_name)


def _export_params(document: dict[str, Any], prefix: str) -> tuple[dict[str, Any], FieldNames]:
    version = document.get("schema_version", "1.0.0")
    parts = version.split(".") if isinstance(version, str) else []
    if len(parts) != 3 or not all(p.isdigit() and len(p) < 6 for p in parts) or parts[0] != "1":
        raise ApiError(
            UNPROCESSABLE, f"schema_version={str(version)[:40]!r} is not supported; calab reads "
            "CaTune export schemas 1.x such as '1.2.0'", field=f"{prefix}schema_version")
    block = document.get("parameters")
    if not isinstance(block, dict):
        raise ApiError(UNPROCESSABLE, "the export's 'parameters' must be a JSON object",
                       field=f"{prefix}parameters")
    flat = {EXPORT_KEYS[k]: v for k, v in block.items() if k in EXPORT_KEYS}
    names = {flat_key: f"{prefix}parameters.{key}" for key, flat_key in EXPORT_KEYS.items()}
    _refuse_containers(flat, names)
    return flat, names


def options_from_params(
    flat: Mapping[str, Any], names: Mapping[str, str], solver_prefix: str = "options.",
    **solver_options: Any,
) -> DeconvolutionOptions:
    """``DeconvolutionOptions.from_params`` with errors naming the request field."""
    try:
        return DeconvolutionOptions.from_params(flat, **solver_options)
    except CalabError as exc:
        raise field_error(exc, names, solver_prefix) from None


def field_error(exc: CalabError, names: Mapping[str, str], solver_prefix: str = "options."
                ) -> ApiError:
    """A 422 for an options error, its ``argument`` turned into the request field."""
    argument = exc.argument or ""
    base, bracket, index = argument.partition("[")
    key = PARAM_OF_ARGUMENT.get(base)
    if key is not None:
        field_name = names.get(key, key)
    elif base in FLAT_KEYS:  # from_params names missing keys by their flat name
        field_name = names.get(base, base)
    elif base:
        field_name = f"{solver_prefix}{base}"
    else:
        field_name = None
    if field_name and bracket:
        field_name = f"{field_name}[{index}"
    message = exc.message
    if field_name and not message.startswith(field_name):
        message = f"{field_name}: {message}"
    return ApiError(UNPROCESSABLE, message, field=field_name)
