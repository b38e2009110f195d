"""The one JSON error body of calab's HTTP apps, and the exception-to-response mapping.

Both apps (the tuning bridge and the job service) answer every error with::

    {"error": "what was wrong, the value received and what is allowed",
     "field": "params.tau_decay"}        # or null when no single field is at fault

- :class:`ApiError` carries an explicit HTTP status (404, 409, 413, ...).
- calab's own errors (:class:`calab.errors.CalabError`) and builtin ``ValueError``
  / ``TypeError`` raised while validating a request are client mistakes: 422
  with the message and the error's ``argument`` as ``field``.
- Anything else is a bug: 500 with a fixed message (the traceback goes to the
  server log, never to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from calab.errors import CalabError

logger = logging.getLogger("calab.server")

#: Status of a validation error that names no more specific status.
UNPROCESSABLE = 422
INTERNAL_ERROR_MESSAGE = "internal server error; the server log has the details"


class ApiError(Exception):
    """A client mistake with an explicit HTTP status.

    Parameters
    ----------
    status : int
        The HTTP status (4xx).
    message : str
        What was wrong and what is allowed.
    field : str, optional
        The request field at fault (``"output"``, ``"params.fs"``), or None.

    Examples
    --------
    >>> err = ApiError(404, "no job with id 'x'", field="job_id")
    >>> error_body(err.message, err.field)
    {'error': "no job with id 'x'", 'field': 'job_id'}
    """

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, Any]:
        """The response body of this error."""
        return error_body(self.message, self.field)


def error_body(message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    """``{"error": message, "field": field, **extra}``: the one error body."""
    return {"error": message, "field": field, **extra}


def json_error(status: int, message: str, field: str | None = None, **extra: Any) -> JSONResponse:
    """The error body as a response with ``status``."""
    return JSONResponse(error_body(message, field, **extra), status_code=status)


def error_response(exc: BaseException) -> JSONResponse:
    """The response for an exception raised while handling a request (see module doc)."""
    if isinstance(exc, ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)
    if isinstance(exc, HTTPException):
        return json_error(exc.status_code, str(exc.detail))
    if isinstance(exc, CalabError):
        return json_error(UNPROCESSABLE, exc.message, exc.argument)
    if isinstance(exc, (ValueError, TypeError)):
        return json_error(UNPROCESSABLE, str(exc), getattr(exc, "argument", None))
    return json_error(500, INTERNAL_ERROR_MESSAGE)


async def _client_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(exc)


def exception_handlers() -> dict[Any, Any]:
    """Starlette ``exception_handlers`` for both apps: every error as the one JSON body."""
    return {
        ApiError: _client_error,
        HTTPException: _client_error,
        CalabError: _client_error,
        ValueError: _client_error,
        TypeError: _client_error,
        Exception: _unexpected_error,
    }
