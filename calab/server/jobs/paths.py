"""Confinement of client-supplied paths to the service's data root.

Clients name stores by paths relative to the data root. A path is refused when
it is absolute, contains ``..``, has a component longer than the file system
allows, runs into a symlink loop, or resolves (through symlinks) outside the
root, so a job can never read or write anything the operator did not share.
Every message names the path as the client gave it, never the server's
absolute path.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from calab.server.jobs.errors import JobRequestError

#: Longest file-name component (bytes), as on ext4, XFS, tmpfs and most others.
NAME_MAX = 255
#: Files marking a directory as a zarr store (v3, then v2).
ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray")


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

    Examples
    --------
    >>> resolve_under_root("input", "rec/a.zarr", Path("/data"))  # doctest: +SKIP
    ('rec/a.zarr', PosixPath('/data/rec/a.zarr'))
    """
    if not isinstance(value, str) or not value.strip():
        raise JobRequestError(
            field, f"{field}={_show(value)} must be a non-empty path relative to the data root"
        )
    if "\x00" in value or "\\" in value:
        raise JobRequestError(field, f"{field}={_show(value)} contains a NUL or backslash")
    relative = PurePosixPath(value)
    if relative.is_absolute() or value.startswith("~"):
        raise JobRequestError(
            field, f"{field}={_show(value)} is absolute; give a path relative to the data root",
            403,
        )
    if ".." in relative.parts:
        raise JobRequestError(
            field, f"{field}={_show(value)} contains '..'; it must stay in the data root", 403
        )
    if str(relative) in ("", "."):
        raise JobRequestError(field, f"{field}={_show(value)} names the data root itself")
    long_parts = [p for p in relative.parts if len(p.encode("utf-8", "surrogatepass")) > NAME_MAX]
    if long_parts:
        raise JobRequestError(
            field, f"{field}={_show(value)} has a name of {len(long_parts[0])} characters; "
            f"file names hold at most {NAME_MAX} bytes",
        )
    resolved = resolve_confined(field, str(relative), root)
    return str(relative), resolved


def resolve_confined(field: str, relative: str, root: Path) -> Path:
    """``root / relative`` with symlinks resolved, refused when it leaves ``root``."""
    try:
        resolved = (root / relative).resolve()
    except RuntimeError:  # Python < 3.13 reports a symlink loop this way
        raise JobRequestError(
            field, f"{field}={relative!r} runs into a symbolic-link loop") from None
    except OSError as exc:
        raise JobRequestError(field, os_error_message(field, relative, exc)) from None
    if not resolved.is_relative_to(root):
        raise JobRequestError(
            field, f"{field}={relative!r} leaves the data root through a symbolic link", 403
        )
    return resolved


def exists(field: str, relative: str, path: Path) -> bool:
    """Whether ``path`` exists; a loop, a too-long name or a denied lookup is a 422."""
    try:
        path.lstat()
        path.stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise JobRequestError(
                field, f"{field}={relative!r} lies under a regular file, not a directory"
            ) from None
        raise JobRequestError(field, os_error_message(field, relative, exc)) from None
    return True


def os_error_message(field: str, relative: str, exc: OSError) -> str:
    """A client message for an ``OSError`` on ``relative`` (no server paths in it)."""
    reasons = {
        errno.ELOOP: "runs into a symbolic-link loop",
        errno.ENAMETOOLONG: "is a name too long for the file system",
        errno.ENOTDIR: "lies under a regular file, not a directory",
        errno.EACCES: "is not accessible to the service (permission denied)",
    }
    reason = reasons.get(exc.errno or 0, f"cannot be used ({exc.strerror or type(exc).__name__})")
    return f"{field}={relative!r} {reason}"


def check_output_location(relative: str, output: Path, root: Path) -> None:
    """Refuse an output under a regular file or inside an existing zarr store.

    Walks from ``output`` up to ``root``: every existing ancestor must be a
    directory, and none (nor the output's parent chain) may be a zarr store,
    whose data a new store inside it would corrupt.
    """
    for ancestor in [*output.parents]:
        if ancestor == root or not ancestor.is_relative_to(root):
            break
        shown = ancestor.relative_to(root).as_posix()
        if not exists("output", relative, ancestor):
            continue
        if not ancestor.is_dir():
            raise JobRequestError(
                "output", f"output={relative!r} lies under {shown!r}, a regular file"
            )
        if any((ancestor / marker).exists() for marker in ZARR_MARKERS):
            raise JobRequestError(
                "output", f"output={relative!r} lies inside the zarr store {shown!r}; "
                "choose a path outside every existing store",
            )


def relative_text(text: str, root: Path) -> str:
    """``text`` with the data root's absolute path replaced by nothing (paths made relative)."""
    return text.replace(f"{root}/", "").replace(str(root), ".")


def _show(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


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
    if "@" in rest.split("/", 1)[0]:  # user:secret@bucket: never from a client, never logged
        raise JobRequestError(
            field, f"{field}='{protocol}://***@{rest.split('@', 1)[1][:80]}' embeds credentials; "
            "storage credentials are configured by the service, not given in URLs")
    segments = [part for part in rest.split("/") if part not in ("", ".")]
    if ".." in segments:
        raise JobRequestError(field, f"{field}={value!r} contains '..'", 403)
    if not protocol.isalnum() or not segments:
        raise JobRequestError(field, f"{field}={value!r} is not a usable storage URL")
    return f"{protocol.lower()}://{'/'.join(segments)}"
