"""The one error family of calab.

Every error calab raises for a user's mistake derives from :class:`CalabError`
and from the builtin a caller would expect (``ValueError``, ``TypeError``,
``FileNotFoundError``, ...), so ``except ValueError`` keeps working and
``except calab.errors.CalabError`` catches everything calab itself refuses.

This module imports nothing from calab: every layer may raise these errors.

Examples
--------
>>> from calab.errors import CalabError, InvalidParameterError
>>> err = InvalidParameterError("tau_d=-1 must be a finite number > 0", argument="tau_d")
>>> isinstance(err, ValueError), isinstance(err, CalabError), err.argument
(True, True, 'tau_d')
"""

from __future__ import annotations


class CalabError(Exception):
    """Base class of every error calab raises on purpose.

    Parameters
    ----------
    message : str
        What was wrong, the value received and what is allowed.
    argument : str, optional
        The argument, field or file at fault (``"tau_d"``, ``"params.lambda_"``,
        ``"input"``); HTTP apps report it as ``field``.
    """

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument

    def __str__(self) -> str:  # KeyError subclasses would quote the message
        return self.message

    def __reduce__(self) -> tuple[object, ...]:  # keep ``argument`` across processes
        return (self.__class__, (self.message,), self.__dict__)


class InvalidParameterError(CalabError, ValueError):
    """A value of the right type outside what is allowed (range, choice, size)."""


class ParameterTypeError(CalabError, TypeError):
    """A value of the wrong type (a string or ``bool`` where a number belongs, ...)."""


class MissingFieldError(CalabError, KeyError, ValueError):
    """A required field is absent from a parameter document or request body."""


class RecordingNotFoundError(CalabError, FileNotFoundError):
    """An input path or URL that does not exist."""


class UnsupportedRecordingError(CalabError, ValueError):
    """An input that exists but is not a recording calab can read (format, shape, content)."""


class MissingDependencyError(CalabError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class ResumeMismatchError(CalabError, ValueError):
    """An existing output was written with other parameters, inputs or settings."""


class Cancelled(CalabError, RuntimeError):  # noqa: N818 - the name is part of the public contract
    """A run was stopped on request; blocks finished before the stop stay valid.

    Rerunning the same call with ``resume=True`` computes only the rest.
    """


class BlocksFailedError(CalabError, RuntimeError):
    """Some blocks of an out-of-core run raised; the others completed and are marked done.

    Parameters
    ----------
    failures : list of tuple
        ``(block_index, first_cell, stop_cell, message)`` per failed block.
    n_blocks : int
        Blocks of the run.

    Attributes
    ----------
    failures : list of tuple
        As given.

    Examples
    --------
    >>> err = BlocksFailedError([(3, 30, 40, "ValueError: NaN")], 8)
    >>> str(err).split(":")[0]
    '1 of 8 blocks failed and are not marked done'
    """

    def __init__(self, failures: list[tuple[int, int, int, str]], n_blocks: int) -> None:
        self.failures, self.n_blocks = failures, n_blocks
        shown = "; ".join(
            f"block {index} (cells {start}-{stop - 1}): {_shorten(message)}"
            for index, start, stop, message in failures[:3]
        )
        more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
        super().__init__(
            f"{len(failures)} of {n_blocks} blocks failed and are not marked done: "
            f"{shown}{more}. Blocks that finished are kept; fix the cause and rerun "
            "the same command to compute only the rest."
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (self.failures, self.n_blocks))


def _shorten(message: str, limit: int = 400) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
