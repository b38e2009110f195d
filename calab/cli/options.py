"""Click options every command shares, and the one mapping of errors to exit codes.

- :func:`fs_option`, :func:`parameter_options`, :func:`solver_options`: the
  same flags, help and defaults (from :mod:`calab.core.options`) for
  ``calab deconvolve``, ``calab tune`` and ``calab jobs submit``.
- :func:`params_from_flags`: the validated parameter dict of those flags.
- :func:`user_error`: how an error of the user's making is shown: ``Error: <message>``
  with exit code 2 (1 for a run that failed part-way), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from calab.core.options import (
    CONSTRAINTS,
    CONV_MODES,
    DEFAULT_CONSTRAINT,
    DEFAULT_CONV_MODE,
    DEFAULT_MAX_ITERS,
    DEFAULT_NAN_POLICY,
    DEFAULT_TOL,
    MAX_ITERS_LIMIT,
    NAN_POLICIES,
)
from calab.errors import BlocksFailedError, CalabError, Cancelled
from calab.io.export import load_export_params, normalize_params

__all__ = ["RunError", "UserError", "fs_option", "parameter_options", "params_from_flags",
           "solver_options", "user_error"]

F = TypeVar("F", bound=Callable[..., Any])

#: Flag name of each parameter key, for messages.
FLAG_NAMES = {"fs": "--fs", "tau_rise": "--tau-rise", "tau_decay": "--tau-decay",
              "lambda_": "--lam"}

fs_option = click.option(
    "--fs", type=float, default=None, help="Sampling rate in Hz (default: the file's own)."
)


def parameter_options(command: F) -> F:
    """``--params`` or ``--fs/--tau-rise/--tau-decay/--lam``, and ``--filter/--no-filter``."""
    for option in reversed((
        click.option("-p", "--params", "params_path", default=None,
                     type=click.Path(dir_okay=False, path_type=Path),
                     help="CaTune export JSON with the parameters (instead of the four below); "
                          "`auto` suggests them from the recording (calab.suggest_params)."),
        fs_option,
        click.option("--tau-rise", type=float, default=None, help="Rise time constant in s."),
        click.option("--tau-decay", type=float, default=None, help="Decay time constant in s."),
        click.option("--lam", "--lambda", "lam", type=float, default=None,
                     help="Sparsity penalty lambda (>= 0)."),
        click.option("--filter/--no-filter", "filter_enabled", default=None,
                     help="Band-pass filter the traces first (default: the export's "
                          "setting, else off)."),
    )):
        command = option(command)
    return command


def solver_options(command: F) -> F:
    """``--conv-mode``, ``--max-iters``, ``--constraint``, ``--tol``, ``--nan-policy``."""
    for option in reversed((
        click.option("--conv-mode", type=click.Choice(CONV_MODES), default=DEFAULT_CONV_MODE,
                     show_default=True, help="Convolution operator of the solver."),
        click.option("--max-iters", type=click.IntRange(1, MAX_ITERS_LIMIT),
                     default=DEFAULT_MAX_ITERS, show_default=True,
                     help="Maximum FISTA iterations per cell."),
        click.option("--constraint", type=click.Choice(CONSTRAINTS),
                     default=DEFAULT_CONSTRAINT, show_default=True,
                     help="nonneg: activity >= 0; box01: 0 <= activity <= 1."),
        click.option("--tol", type=click.FloatRange(min=0, min_open=True),
                     default=DEFAULT_TOL, show_default=True,
                     help="Relative change of the activity at which a cell has converged."),
        click.option("--nan-policy", type=click.Choice(NAN_POLICIES),
                     default=DEFAULT_NAN_POLICY, show_default=True,
                     help="raise on NaN samples, or interpolate short gaps."),
    )):
        command = option(command)
    return command


AUTO = "auto"


def auto_from_flags(params_path: Path | str | None, fs: float | None, tau_rise: float | None,
                    tau_decay: float | None, lam: float | None, filter_enabled: bool | None
                    ) -> dict[str, Any] | None:
    """``--params auto``: ``{"auto": True, "fs", "filter_enabled"}``, else None.

    A file really named ``auto`` is still read as an export.

    Raises
    ------
    click.UsageError
        ``--params auto`` with ``--tau-rise``, ``--tau-decay`` or ``--lam``.
    """
    if params_path is None or str(params_path) != AUTO or Path(AUTO).exists():
        return None
    given = [name for name, value in (("--tau-rise", tau_rise), ("--tau-decay", tau_decay),
                                      ("--lam", lam)) if value is not None]
    if given:
        raise click.UsageError(f"--params auto suggests every parameter; leave out "
                               f"{', '.join(given)}")
    return {"auto": True, "fs": fs, "filter_enabled": bool(filter_enabled)}


def check_params_path(params_path: Path | str) -> None:
    """Refuse a ``--params`` value that is neither ``auto`` nor an existing file.

    ``auto`` is lowercase only, as the job service's ``"params": "auto"``.

    Raises
    ------
    UserError
        Naming ``--params``, the value and what is allowed.
    """
    if Path(params_path).exists():
        return
    text = str(params_path)
    hint = " ('auto' is lowercase)" if text.lower() == AUTO else ""
    raise UserError(f"--params={text[:200]!r} must be {AUTO!r} (suggest the parameters from "
                    f"the recording) or the path of a CaTune export JSON; no such file"
                    f"{hint}")


def params_from_flags(
    params_path: Path | str | None, fs: float | None, tau_rise: float | None,
    tau_decay: float | None, lam: float | None, filter_enabled: bool | None,
    *, fs_fallback: float | None = None,
) -> dict[str, Any]:
    """The validated flat parameter dict of :func:`parameter_options`' flags.

    Parameters
    ----------
    params_path : path or None
        ``--params``: a CaTune export; excludes the four value flags.
    fs, tau_rise, tau_decay, lam : float or None
        The value flags; all four needed without ``--params`` (``fs`` may come
        from ``fs_fallback``, the rate the input file records).
    filter_enabled : bool or None
        ``--filter/--no-filter``; None keeps the export's setting (else off).

    Returns
    -------
    dict
        ``{tau_rise, tau_decay, lambda_, fs, filter_enabled}``.

    Raises
    ------
    click.UsageError
        Both ``--params`` and value flags, or missing flags.
    calab.errors.CalabError
        Values out of range, an unreadable export.
    """
    flags = {"fs": fs, "tau_rise": tau_rise, "tau_decay": tau_decay, "lambda_": lam}
    given = [FLAG_NAMES[name] for name, value in flags.items() if value is not None]
    if params_path is not None:
        if given:
            raise click.UsageError("give either --params or --fs/--tau-rise/--tau-decay/--lam, "
                                   f"not both (also got {', '.join(given)})")
        check_params_path(params_path)
        params = load_export_params(params_path)
    else:
        if flags["fs"] is None:
            flags["fs"] = fs_fallback
        missing = [FLAG_NAMES[name] for name, value in flags.items() if value is None]
        if missing:
            raise click.UsageError(f"missing {', '.join(missing)}: give --params EXPORT.json "
                                   "or all of --fs, --tau-rise, --tau-decay, --lam")
        params = normalize_params({**flags, "filter_enabled": False}, source="options")
    if filter_enabled is not None:
        params["filter_enabled"] = filter_enabled
    return params


class UserError(click.ClickException):
    """Shown as ``Error: <message>`` with exit code 2: a bad argument, value or file."""

    exit_code = 2


class RunError(click.ClickException):
    """Shown as ``Error: <message>`` with exit code 1: a run that failed or was stopped."""

    exit_code = 1


#: Errors shown as ``Error: <message>`` instead of a traceback when a command raises them.
USER_ERRORS = (CalabError, ValueError, TypeError, KeyError, OSError, ImportError)
#: Errors that mean "a bad argument, value or file" (exit 2); any other exits 1.
BAD_INPUT_ERRORS = (CalabError, ValueError, TypeError, KeyError, ImportError,
                    FileNotFoundError, NotADirectoryError, IsADirectoryError)
#: Family members that report a run that failed part-way or was stopped (exit 1).
RUN_ERRORS = (BlocksFailedError, Cancelled)


def user_error(error: BaseException, context: str | None = None) -> click.ClickException:
    """The click exception that shows ``error`` to the user (after ``context``, if given).

    A run that failed part-way (:class:`calab.errors.BlocksFailedError`), was
    stopped, or met an operating-system error other than a missing file
    exits 1; every other error of the user's making exits 2.

    Examples
    --------
    >>> from calab.errors import InvalidParameterError
    >>> err = user_error(InvalidParameterError("tau_d=-1 must be a finite number > 0"))
    >>> err.exit_code, err.format_message()
    (2, 'tau_d=-1 must be a finite number > 0')
    """
    text = str(error)
    if isinstance(error, KeyError) and not isinstance(error, CalabError) and error.args:
        text = str(error.args[0])
    bad_input = isinstance(error, BAD_INPUT_ERRORS) and not isinstance(error, RUN_ERRORS)
    code = 2 if bad_input else 1
    text = text or type(error).__name__
    return (RunError if code == 1 else UserError)(f"{context}: {text}" if context else text)
