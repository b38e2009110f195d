"""The error type of the job service: an :class:`~calab.server.errors.ApiError` naming a field."""

from __future__ import annotations

from calab.server.errors import ApiError


class JobRequestError(ApiError):
    """A client mistake, answered with ``status`` and the one JSON error body.

    Parameters
    ----------
    field : str or None
        The request field at fault (``"input"``, ``"params.tau_rise"``, ...).
    message : str
        What was wrong and what is allowed.
    status : int
        The HTTP status code (4xx).

    Examples
    --------
    >>> JobRequestError("output", "output must end with .zarr").to_json()
    {'error': 'output must end with .zarr', 'field': 'output'}
    """

    def __init__(self, field: str | None, message: str, status: int = 422) -> None:
        super().__init__(status, message, field=field)
