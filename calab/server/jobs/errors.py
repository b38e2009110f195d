"""The error type of the job service: a message, the offending field, an HTTP status."""

from __future__ import annotations


class JobRequestError(Exception):
    """A client mistake, answered with ``status`` and a JSON body naming ``field``.

    Parameters
    ----------
    field : str or None
        The request field at fault (``"input"``, ``"params.tau_rise"``, ...).
    message : str
        What was wrong and what is allowed.
    status : int
        The HTTP status code (4xx).

    Example
    -------
    >>> raise JobRequestError("output", "output must end with .zarr")  # doctest: +SKIP
    """

    def __init__(self, field: str | None, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, object]:
        """The response body: ``{"error": message, "field": field}``."""
        return {"error": self.message, "field": self.field}
