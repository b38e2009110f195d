"""Where a job reads and writes: a path under the data root, or a URL under a shared prefix.

A client names a store either by a path relative to the data root
(``rec/a.zarr``) or by an object-storage URL (``s3://lab/rec/a.zarr``). URLs
are accepted only under the prefixes the operator shares (``calab serve
--allow-url``); their credentials and endpoint are the service's own
(``--url-storage-options`` and the ``AWS_*`` variables), never the client's.
A resolved location is a :class:`~pathlib.Path` (local) or a ``str`` (URL).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from calab.io.storage import is_url
from calab.server.jobs.errors import JobRequestError
from calab.server.jobs.paths import resolve_under_root, resolve_under_url_prefixes

Location = Path | str


def is_url_value(value: object) -> bool:
    """Whether a client value names a URL (``protocol://...``) rather than a path."""
    return isinstance(value, str) and is_url(value)


def check_url_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    """The operator's allowed URL prefixes, normalised; ValueError naming a bad one.

    Examples
    --------
    >>> check_url_prefixes(["S3://lab//rec/"])
    ('s3://lab/rec',)
    """
    checked = []
    for prefix in prefixes:
        if not is_url_value(prefix):
            raise ValueError(f"url_prefixes: {prefix!r} must be a URL such as s3://bucket/prefix/")
        try:
            checked.append(resolve_under_url_prefixes("url_prefixes", prefix, [prefix]))
        except JobRequestError as exc:
            raise ValueError(exc.message) from None
    return tuple(checked)


def resolve_location(field: str, value: object, root: Path,
                     prefixes: Sequence[str]) -> tuple[str, Location]:
    """``(as recorded, to open)``: a URL confined to ``prefixes`` or a path confined to ``root``."""
    if is_url_value(value):
        url = resolve_under_url_prefixes(field, value, prefixes)
        return url, url
    return resolve_under_root(field, value, root)


def contains(outer: Location, inner: Location) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it (a URL never inside a path)."""
    if isinstance(outer, Path) and isinstance(inner, Path):
        return inner == outer or inner.is_relative_to(outer)
    if isinstance(outer, str) and isinstance(inner, str):
        return PurePosixPath(inner.replace("://", "/", 1)).is_relative_to(
            PurePosixPath(outer.replace("://", "/", 1)))
    return False


def overlap(a: Location | None, b: Location) -> bool:
    """Whether two stores are the same or one lies inside the other."""
    return a is not None and (contains(a, b) or contains(b, a))


def check_not_inside(field: str, location: Location, other: Location, what: str) -> None:
    """Refuse ``location`` when it equals or lies inside ``other`` (e.g. output inside input)."""
    if contains(other, location):
        raise JobRequestError(field, f"{field} must not be {what} or lie inside it")
