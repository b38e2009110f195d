"""Confinement of client-supplied paths to the service's data root.

Clients name stores by paths relative to the data root. A path is refused when
it is absolute, contains ``..``, or resolves (through symlinks) outside the
root, so a job can never read or write anything the operator did not share.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from calab.server.jobs.errors import JobRequestError


def resolve_under_root(field: str, value: object, root: Path) -> tuple[str, Path]:
    """Check a client path and return it normalised and resolved.

    Parameters
    ----------
    field : str
        Request field name, used in error messages (``"input"``, ``"output"``).
    value : object
        The client's value; must be a relative POSIX path string.
    root : Path
        The data root (already resolved).

    Returns
    -------
    tuple of (str, Path)
        The normalised relative path (as stored in job records) and the
        absolute, symlink-resolved path on disk.

    Raises
    ------
    JobRequestError
        Naming ``field``: 422 when the value is not a usable path string, 403
        when it is absolute, contains ``..`` or resolves outside ``root``.

    Example
    -------
    >>> resolve_under_root("input", "rec/a.zarr", Path("/data"))  # doctest: +SKIP
    ('rec/a.zarr', PosixPath('/data/rec/a.zarr'))
    """
    if not isinstance(value, str) or not value.strip():
        raise JobRequestError(
            field, f"{field}={value!r} must be a non-empty path relative to the data root"
        )
    if "\x00" in value or "\\" in value:
        raise JobRequestError(field, f"{field}={value!r} contains a NUL or backslash character")
    relative = PurePosixPath(value)
    if relative.is_absolute() or value.startswith("~"):
        raise JobRequestError(
            field, f"{field}={value!r} is absolute; give a path relative to the data root", 403
        )
    if ".." in relative.parts:
        raise JobRequestError(
            field, f"{field}={value!r} contains '..'; it must stay in the data root", 403
        )
    if str(relative) in ("", "."):
        raise JobRequestError(field, f"{field}={value!r} names the data root itself")
    resolved = (root / relative).resolve()
    if not resolved.is_relative_to(root):
        raise JobRequestError(
            field, f"{field}={value!r} leaves the data root through a symbolic link", 403
        )
    return str(relative), resolved


def check_not_inside(field: str, path: Path, other: Path, what: str) -> None:
    """Refuse ``path`` when it equals or lies inside ``other`` (e.g. output inside input)."""
    if path == other or path.is_relative_to(other):
        raise JobRequestError(field, f"{field} must not be {what} or lie inside it")


def resolve_under_url_prefixes(field: str, value: object, prefixes: Sequence[str]) -> str:
    """Check a client URL against the object-storage prefixes the operator shared.

    The URL object-storage counterpart of :func:`resolve_under_root`: a job may
    name ``s3://bucket/area/rec.zarr`` only when it lies under one of
    ``prefixes`` (``"s3://bucket/area/"``), compared path segment by segment,
    so ``s3://bucket/area-2/`` is not under ``s3://bucket/area``.

    Parameters
    ----------
    field : str
        Request field name for error messages (``"input"``, ``"output"``).
    value : object
        The client's value; must be a ``protocol://`` URL string.
    prefixes : sequence of str
        Allowed URL prefixes (the service configuration); empty allows none.

    Returns
    -------
    str
        The normalised URL (protocol lower-cased, no empty or ``.`` segments).

    Raises
    ------
    JobRequestError
        Naming ``field``: 422 for a value that is not a URL; 403 for ``..``
        segments, query strings, or a URL under none of the prefixes.

    Example
    -------
    >>> resolve_under_url_prefixes("input", "s3://lab/rec//a.zarr", ["s3://lab/rec/"])
    's3://lab/rec/a.zarr'
    """
    if not isinstance(value, str) or "://" not in value:
        raise JobRequestError(field, f"{field}={value!r} must be a URL such as s3://bucket/key")
    url = _normalised_url(field, value)
    for prefix in prefixes:
        allowed = _normalised_url("prefix", prefix)
        if url == allowed or url.startswith(allowed.rstrip("/") + "/"):
            return url
    shared = ", ".join(repr(p) for p in prefixes) or "none"
    raise JobRequestError(
        field, f"{field}={value!r} is outside the storage prefixes this service shares "
        f"({shared})", 403)


def _normalised_url(field: str, value: str) -> str:
    if any(ch in value for ch in ("\x00", "\\", "?", "#")):
        raise JobRequestError(
            field, f"{field}={value!r} contains a NUL, backslash, query or fragment", 403)
    protocol, _, rest = value.partition("://")
    segments = [part for part in rest.split("/") if part not in ("", ".")]
    if ".." in segments:
        raise JobRequestError(field, f"{field}={value!r} contains '..'", 403)
    if not protocol.isalnum() or not segments:
        raise JobRequestError(field, f"{field}={value!r} is not a usable storage URL")
    return f"{protocol.lower()}://{'/'.join(segments)}"
