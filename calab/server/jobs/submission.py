"""Validation of a job submission (the body of ``POST /api/v1/jobs``).

Every check runs before a job is recorded, and every refusal names the field
at fault, so a bad request never becomes a failed job.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calab.core.options import (
    CONSTRAINTS,
    CONV_MODES,
    DEFAULT_CONSTRAINT,
    DEFAULT_CONV_MODE,
    DEFAULT_MAX_ITERS,
    DEFAULT_TOL,
)
from calab.server.jobs.errors import JobRequestError
from calab.server.jobs.paths import check_not_inside, resolve_under_root

SUBMISSION_FIELDS = ("input", "dataset", "output", "params", "options")
OPTION_DEFAULTS: dict[str, Any] = {
    "full": False,
    "conv_mode": DEFAULT_CONV_MODE,
    "max_iters": DEFAULT_MAX_ITERS,
    "chunk_cells": None,
    "constraint": DEFAULT_CONSTRAINT,
    "tol": DEFAULT_TOL,
}

# (input path, dataset or None) -> raises ValueError naming what is wrong
InputInspector = Callable[[Path, "str | None"], Any]


@dataclass(frozen=True)
class Submission:
    """A validated job request: relative paths as stored, resolved paths for running."""

    input: str
    dataset: str | None
    output: str
    params: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)


def parse_submission(
    body: Any,
    data_root: Path,
    *,
    reserved: tuple[Path, ...] = (),
    inspect_input: InputInspector | None = None,
) -> Submission:
    """Validate a submission body and return it normalised.

    Parameters
    ----------
    body : object
        The decoded JSON body; must be an object with ``input``, ``output``,
        ``params`` and optionally ``dataset`` and ``options``.
    data_root : Path
        Resolved data root every path must stay in.
    reserved : tuple of Path
        Resolved directories no output may touch (the service's state dir).
    inspect_input : callable, optional
        ``inspect_input(path, dataset)`` raising ``ValueError`` when the input
        is not a readable 2-D array (checked at submit time, not at run time).

    Raises
    ------
    JobRequestError
        With the offending field: 400 for a non-object body, 403 for a path
        leaving the data root, 422 for anything else.

    Example
    -------
    >>> parse_submission({"input": "a.zarr", "output": "b.zarr",
    ...                   "params": {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.01,
    ...                              "fs": 30.0}}, Path("/data"))  # doctest: +SKIP
    """
    if not isinstance(body, dict):
        raise JobRequestError(None, "the request body must be a JSON object", 400)
    unknown = sorted(set(body) - set(SUBMISSION_FIELDS))
    if unknown:
        allowed = ", ".join(SUBMISSION_FIELDS)
        raise JobRequestError(unknown[0], f"unknown field {unknown[0]!r}; allowed: {allowed}")
    for required in ("input", "output", "params"):
        if required not in body:
            raise JobRequestError(required, f"{required} is required")
    input_rel, input_abs = resolve_under_root("input", body["input"], data_root)
    output_rel, output_abs = resolve_under_root("output", body["output"], data_root)
    dataset = _check_dataset(body.get("dataset"))
    if not input_abs.exists():
        raise JobRequestError("input", f"input={input_rel!r} does not exist under the data root")
    if not output_rel.endswith(".zarr"):
        raise JobRequestError("output", f"output={output_rel!r} must end with '.zarr'")
    check_not_inside("output", output_abs, input_abs, "the input")
    check_not_inside("input", input_abs, output_abs, "the output")
    for directory in reserved:
        check_not_inside("output", output_abs, directory, "the service's state directory")
    if inspect_input is not None:
        try:
            inspect_input(input_abs, dataset)
        except (ValueError, TypeError, KeyError, OSError) as exc:
            message = str(exc).replace(str(input_abs), input_rel)  # no server paths to clients
            field_name = "dataset" if message.startswith("dataset=") else "input"
            raise JobRequestError(field_name, message) from exc
    params = parse_params(body["params"])
    options = parse_options(body.get("options"))
    return Submission(input_rel, dataset, output_rel, params, options)


def parse_params(value: Any) -> dict[str, Any]:
    """Normalise ``params`` (CaTune export or flat dict) with the io layer's parser."""
    from calab.io.export import normalize_params

    if not isinstance(value, dict):
        raise JobRequestError("params", f"params must be a JSON object, got {_kind(value)}")
    try:
        params = normalize_params(value, source="params")
    except (ValueError, TypeError, KeyError) as exc:
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise JobRequestError("params", message) from exc
    return {key: _plain(val) for key, val in dict(params).items()}


def parse_options(value: Any) -> dict[str, Any]:
    """Check the solver options and fill in their defaults."""
    if value is None:
        return dict(OPTION_DEFAULTS)
    if not isinstance(value, dict):
        raise JobRequestError("options", f"options must be a JSON object, got {_kind(value)}")
    unknown = sorted(set(value) - set(OPTION_DEFAULTS))
    if unknown:
        allowed = ", ".join(OPTION_DEFAULTS)
        raise JobRequestError(
            f"options.{unknown[0]}", f"unknown option {unknown[0]!r}; allowed: {allowed}"
        )
    options = {**OPTION_DEFAULTS, **value}
    if not isinstance(options["full"], bool):
        raise JobRequestError("options.full", f"options.full={options['full']!r} must be a boolean")
    _check_choice("conv_mode", options["conv_mode"], CONV_MODES)
    _check_choice("constraint", options["constraint"], CONSTRAINTS)
    options["max_iters"] = _positive_int("max_iters", options["max_iters"])
    if options["chunk_cells"] is not None:
        options["chunk_cells"] = _positive_int("chunk_cells", options["chunk_cells"])
    tol = options["tol"]
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (
        math.isfinite(tol) and tol > 0
    ):
        raise JobRequestError("options.tol", f"options.tol={tol!r} must be a finite number > 0")
    options["tol"] = float(tol)
    return options


def _check_dataset(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip("/ "):
        raise JobRequestError("dataset", f"dataset={value!r} must be a non-empty string")
    if ".." in value.split("/") or value.startswith("/"):
        raise JobRequestError("dataset", f"dataset={value!r} must be a name inside the input")
    return value


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise JobRequestError(f"options.{name}", f"options.{name}={value!r}; use one of {choices}")


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JobRequestError(
            f"options.{name}", f"options.{name}={value!r} must be an integer >= 1"
        )
    return int(value)


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _plain(value: Any) -> Any:
    """NumPy scalars to plain Python for JSON storage."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
