"""Local input paths: the existing file behind what the user gave, or a clear error."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from calab.errors import InvalidParameterError, RecordingNotFoundError, UnsupportedRecordingError

SIDECAR_SUFFIX = "_metadata.json"  # a tuning recording's sidecar: <stem>_metadata.json

EXPECTED = (
    ".npy, .npz, tuning data (<stem>.npy + <stem>_metadata.json), a zarr store, an HDF5 "
    "file (.h5/.hdf5: CaImAn or any 2-D dataset), a Minian output folder or C.zarr, a "
    "suite2p plane folder or an .nwb file"
)


def locate(given: str, *, stem: bool = True) -> Path:
    """The existing local path of an input: ``given``, or ``given + ".npy"`` for a stem.

    The path returned is absolute (symbolic links are kept, not resolved), so
    file-backed arrays built on it read the same file from any working
    directory. Raises a clear error naming ``given`` for a missing path, a symbolic link
    loop, a name too long for the file system, or a path that cannot be read.
    ``stem=False`` does not try ``given + ".npy"``.
    """
    path = Path(given).expanduser()
    error = _stat_error(path)
    if error is None:
        return Path(os.path.abspath(path))
    if stem and isinstance(error, FileNotFoundError) and path.name:
        stem_npy = path.with_name(path.name + ".npy")
        if _stat_error(stem_npy) is None:
            return Path(os.path.abspath(stem_npy))
    raise _path_error(given, error)


def _stat_error(path: Path) -> BaseException | None:
    try:
        path.stat()
    except (OSError, ValueError) as err:  # ValueError: a NUL byte or a lone surrogate
        return err
    return None


def _path_error(given: str, error: BaseException) -> Exception:
    code = getattr(error, "errno", None)
    if isinstance(error, FileNotFoundError):
        return RecordingNotFoundError(
            f"input={given!r} does not exist; expected {EXPECTED}", argument="input")
    if code == errno.ELOOP:
        return RecordingNotFoundError(
            f"input={given!r} cannot be opened: it is a loop of symbolic links",
            argument="input")
    if code == errno.ENAMETOOLONG:
        longest = max((len(part) for part in Path(given).parts), default=0)
        return UnsupportedRecordingError(
            f"input={given!r} cannot be opened: a name in it is too long ({longest} "
            "characters; file systems allow 255 bytes per name)", argument="input")
    if code == errno.ENOTDIR:
        return RecordingNotFoundError(
            f"input={given!r} does not exist (a part of the path is a file, not a folder)",
            argument="input")
    reason = getattr(error, "strerror", None) or str(error)
    return UnsupportedRecordingError(f"input={given!r} cannot be opened: {reason}",
                                     argument="input")


def check_output_file(output: str | Path, source: str, *, argument: str = "output") -> None:
    """Refuse a local output file that would overwrite recorded data.

    ``output`` may not be the input ``source`` itself (or a link to it), the
    tuning sidecar of either, or any existing tuning recording (an ``.npy``
    with a ``<stem>_metadata.json`` beside it): those hold data, not results.
    An earlier result at ``output`` is replaced. URLs are not checked here.

    Raises
    ------
    InvalidParameterError
        Naming ``argument``, the path and why it is refused.

    Examples
    --------
    >>> check_output_file("activity.npy", "recording.npy")  # nothing to refuse
    >>> check_output_file("recording_metadata.json", "recording.npy")
    Traceback (most recent call last):
    ...
    calab.errors.InvalidParameterError: output='recording_metadata.json' is the sidecar ...
    """
    from calab.io.storage import is_url
    from calab.io.tuning import tuning_paths

    text = str(output)
    if is_url(text) or is_url(source):
        return
    out = Path(text).expanduser()
    if out.name.endswith(SIDECAR_SUFFIX):
        raise InvalidParameterError(
            f"{argument}={text!r} is the sidecar name of a tuning recording "
            f"(<stem>{SIDECAR_SUFFIX}); choose another name", argument=argument)
    if not out.exists():
        return
    protected = {Path(source).expanduser(), *tuning_paths(source)}
    if any(path.exists() and os.path.samefile(out, path) for path in protected):
        raise InvalidParameterError(
            f"{argument}={text!r} is the input {source!r}; it is left untouched. Choose "
            "another output path", argument=argument)
    if out.suffix == ".npy" and tuning_paths(out)[1].exists():
        raise InvalidParameterError(
            f"{argument}={text!r} is a tuning recording ({tuning_paths(out)[1].name} is "
            "beside it); it is left untouched. Choose another output path", argument=argument)
