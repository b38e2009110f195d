"""Validation of a job submission (the body of ``POST /api/v1/jobs``).

Every check runs before a job is recorded, and every refusal names the field
at fault, so a bad request never becomes a failed job: the parameters become
one :class:`calab.core.options.DeconvolutionOptions` (validated once, here),
the input is opened for its shape and the options are checked against it, and
the output must be a new path (or an earlier calab output) outside every input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calab.core.options import (
    DEFAULT_CONSTRAINT,
    DEFAULT_CONV_MODE,
    DEFAULT_MAX_ITERS,
    DEFAULT_NAN_POLICY,
    DEFAULT_TOL,
    DeconvolutionOptions,
    integer_in_range,
)
from calab.core.suggest_input import MIN_SAMPLES
from calab.errors import CalabError
from calab.server.jobs.errors import JobRequestError
from calab.server.jobs.locations import Location, check_not_inside, resolve_location
from calab.server.jobs.paths import check_output_location, exists, relative_text
from calab.server.params import FLAT_KEYS, field_error, flat_params, options_from_params

SUBMISSION_FIELDS = ("input", "dataset", "output", "params", "options")
OPTION_DEFAULTS: dict[str, Any] = {
    "full": False,
    "conv_mode": DEFAULT_CONV_MODE,
    "max_iters": DEFAULT_MAX_ITERS,
    "chunk_cells": None,
    "constraint": DEFAULT_CONSTRAINT,
    "tol": DEFAULT_TOL,
    "nan_policy": DEFAULT_NAN_POLICY,
}
MAX_CHUNK_CELLS = 1_000_000

# (input path or URL, dataset or None) -> (n_cells, n_timepoints[, fs[, why no fs]]); raises
# naming the fault
InputInspector = Callable[[Location, "str | None"], "tuple[int, int, float | None, str]"]
# (output URL) -> None; raises FileExistsError for data that is not a calab output
UrlOutputCheck = Callable[[str], None]


@dataclass(frozen=True)
class Submission:
    """A validated job request: relative paths or URLs as stored, locations for running."""

    input: str
    dataset: str | None
    output: str
    params: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    input_path: Location | None = None
    output_path: Location | None = None


def parse_submission(
    body: Any,
    data_root: Path,
    *,
    reserved: tuple[Path, ...] = (),
    inspect_input: InputInspector | None = None,
    url_prefixes: tuple[str, ...] = (),
    check_url_output: UrlOutputCheck | None = None,
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
        ``inspect_input(path_or_url, dataset) -> (n_cells, n_timepoints[, fs[, why no fs]])``
        raising when the input is not a readable 2-D array.
    url_prefixes : tuple of str
        Normalised URL prefixes ``input`` and ``output`` URLs must lie under
        (:func:`calab.server.jobs.locations.check_url_prefixes`); empty: no URLs.
    check_url_output : callable, optional
        ``check_url_output(url)`` raising ``FileExistsError`` when an output URL
        holds data that is not a calab output.

    Raises
    ------
    JobRequestError
        With the offending field: 400 for a non-object body, 403 for a path
        leaving the data root or a URL outside the prefixes, 409 for an output
        holding other data, 422 for anything else.
    """
    if not isinstance(body, dict):
        raise JobRequestError(None, "the request body must be a JSON object", 400)
    if "storage_options" in body:
        raise JobRequestError(
            "storage_options", "storage_options are configured by the service operator "
            "(calab serve --url-storage-options), not given by clients")
    unknown = sorted(set(body) - set(SUBMISSION_FIELDS))
    if unknown:
        allowed = ", ".join(SUBMISSION_FIELDS)
        raise JobRequestError(unknown[0], f"unknown field {unknown[0]!r}; allowed: {allowed}")
    for required in ("input", "output", "params"):
        if required not in body:
            raise JobRequestError(required, f"{required} is required")
    auto = parse_auto(body["params"])
    options, extras = parse_options(PLACEHOLDER_PARAMS if auto else body["params"],
                                    body.get("options"))
    input_rel, input_at = resolve_location("input", body["input"], data_root, url_prefixes)
    output_rel, output_at = resolve_location("output", body["output"], data_root, url_prefixes)
    dataset = _check_dataset(body.get("dataset"))
    if isinstance(input_at, Path) and not exists("input", input_rel, input_at):
        raise JobRequestError("input", f"input={input_rel!r} does not exist under the data root")
    if not output_rel.endswith(".zarr"):
        raise JobRequestError("output", f"output={output_rel!r} must end with '.zarr'")
    check_not_inside("output", output_at, input_at, "the input")
    check_not_inside("input", input_at, output_at, "the output")
    if isinstance(output_at, Path):
        for directory in reserved:
            check_not_inside("output", output_at, directory, "the service's state directory")
        check_output_location(output_rel, output_at, data_root)
        _check_output_usable(output_rel, output_at, data_root)
    elif check_url_output is not None:
        _check_url_output(output_rel, check_url_output)
    if inspect_input is not None:
        _check_against_input(None if auto else options, inspect_input, input_rel, input_at,
                             dataset, data_root, auto)
    return Submission(
        input_rel, dataset, output_rel, {"auto": True, **auto} if auto else options.to_params(),
        {**stored_options(options), **extras}, input_at, output_at,
    )


#: Kinetics the solver settings of an ``"auto"`` job are checked with (the
#: job's own are suggested when it runs).
PLACEHOLDER_PARAMS = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 1.0, "fs": 30.0}


def parse_auto(params: Any) -> dict[str, Any] | None:
    """``{"fs", "filter_enabled"}`` of ``"params": "auto"`` (or ``{"auto": true, ...}``).

    None for explicit parameters. Errors name the field: ``params`` for a
    string other than ``"auto"``, ``params.fs`` for ``fs <= 0``, ...

    Examples
    --------
    >>> parse_auto({"auto": True, "fs": 20})
    {'fs': 20.0, 'filter_enabled': False}
    """
    from calab.engine.suggested import AUTO, auto_request

    if isinstance(params, str) and params != AUTO:
        raise JobRequestError("params", f"params={params[:40]!r} must be {AUTO!r} or a JSON "
                              "object of parameters (or a CaTune export)")
    try:
        return auto_request(params)
    except CalabError as exc:
        raise JobRequestError(f"params.{exc.argument}", f"params.{exc.message}") from None


def parse_options(params: Any, value: Any) -> tuple[DeconvolutionOptions, dict[str, Any]]:
    """Build the one validated options object from ``params`` and ``options``.

    Returns the options and the engine-only settings (``full``, ``chunk_cells``).
    Errors name the request field: ``params.tau_decay``, ``options.tol``, ...
    """
    flat, names = flat_params(params, "params.")
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise JobRequestError("options", f"options must be a JSON object, got {_kind(value)}")
    unknown = sorted(set(value) - set(OPTION_DEFAULTS))
    if unknown:
        allowed = ", ".join(OPTION_DEFAULTS)
        raise JobRequestError(
            f"options.{unknown[0]}", f"unknown option {unknown[0]!r}; allowed: {allowed}"
        )
    settings = {**OPTION_DEFAULTS, **value}
    extras = {"full": settings.pop("full"), "chunk_cells": settings.pop("chunk_cells")}
    options = options_from_params(flat, names, "options.", **settings)
    if not isinstance(extras["full"], bool):
        raise JobRequestError(
            "options.full", f"options.full={extras['full']!r} must be true or false")
    if extras["chunk_cells"] is not None:
        try:
            extras["chunk_cells"] = integer_in_range(
                "options.chunk_cells", extras["chunk_cells"], 1, MAX_CHUNK_CELLS)
        except CalabError as exc:
            raise JobRequestError("options.chunk_cells", exc.message) from None
    return options, extras


def stored_options(options: DeconvolutionOptions) -> dict[str, Any]:
    """The solver settings a job record keeps (the keys of ``options`` in a request)."""
    settings = options.solver_settings()
    return {key: settings[key] for key in OPTION_DEFAULTS if key in settings}


def _check_output_usable(relative: str, output: Path, root: Path) -> None:
    from calab.engine.outputs import check_output_usable

    try:
        check_output_usable(str(output))
    except OSError as exc:
        message = relative_text(str(exc), root).replace(f"output={str(output)!r}",
                                                         f"output={relative!r}")
        raise JobRequestError("output", message, 409 if isinstance(exc, FileExistsError) else 422
                              ) from None


def _check_url_output(url: str, check: UrlOutputCheck) -> None:
    try:
        check(url)
    except FileExistsError as exc:
        raise JobRequestError("output", str(exc), 409) from None
    except (OSError, ValueError) as exc:  # unreachable endpoint, denied, bad bucket name ...
        raise JobRequestError("output", f"output={url!r} cannot be used ({exc})") from None


def _check_against_input(
    options: DeconvolutionOptions | None, inspect_input: InputInspector, relative: str,
    path: Location, dataset: str | None, root: Path, auto: dict[str, Any] | None = None,
) -> None:
    try:
        info = inspect_input(path, dataset)
    except (ValueError, TypeError, KeyError, OSError, RuntimeError) as exc:
        message = relative_text(str(exc).replace(str(path), relative), root)
        field_name = "dataset" if message.startswith("dataset=") else "input"
        raise JobRequestError(field_name, message) from None
    n_cells, n_timepoints, fs, missing_fs = info
    if options is None:  # "auto": the sampling rate and length can be checked before it runs
        _check_auto_fs(auto or {}, fs, missing_fs)
        if n_timepoints < MIN_SAMPLES:
            raise JobRequestError("input", f"input={relative!r} has {n_timepoints} samples per "
                                  f"cell; params 'auto' needs at least {MIN_SAMPLES} to "
                                  "suggest parameters from")
        return
    try:
        options.check_recording(n_cells, n_timepoints, fs=fs)
    except CalabError as exc:
        raise field_error(exc, {key: f"params.{key}" for key in FLAT_KEYS}) from None


def _check_auto_fs(auto: dict[str, Any], file_fs: float | None, missing: str) -> None:
    given = auto.get("fs")
    if given is None and file_fs is None:
        raise JobRequestError("params.fs", f"params.fs: the input {missing}; give the rate "
                              "with auto, e.g. {\"auto\": true, \"fs\": 30}")
    if given is not None and file_fs is not None and not math.isclose(given, file_fs,
                                                                      rel_tol=1e-6):
        raise JobRequestError("params.fs", f"params.fs={given} Hz disagrees with the input's "
                              f"own sampling rate of {file_fs} Hz; omit it or pass {file_fs}")


def _check_dataset(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip("/ "):
        raise JobRequestError("dataset", f"dataset={value!r} must be a non-empty string")
    if ".." in value.split("/") or value.startswith("/") or len(value) > 1024:
        raise JobRequestError("dataset", f"dataset={value[:80]!r} must be a name inside the input")
    return value


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )
