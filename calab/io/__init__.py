"""Bytes on disk to arrays and back.

- :mod:`calab.io.opener`: ``open_recording`` and ``detect_format``, the one way
  every command, the job service and the API open a recording; it returns a
  :class:`calab.io.recording.Recording` whose file-backed traces
  (:mod:`calab.io.arrays`) are read on demand and pickle as file locations.
  :mod:`calab.io.formats` opens ``.npy``/``.npz``/tuning data/zarr/HDF5,
  :mod:`calab.io.zarr_store` sniffs zarr stores, :mod:`calab.io.paths` checks
  local paths and :mod:`calab.io.plain_pickle` reads pickled ``.npy`` files
  without running code.
- :mod:`calab.io.tuning`: ``<stem>.npy`` + ``<stem>_metadata.json`` tuning data
  (``save_for_tuning`` / ``load_tuning_data``), the format CaTune reads.
- :mod:`calab.io.export`: CaTune export JSON (``load_export_params`` /
  ``save_export_params`` / ``normalize_params``).
- :mod:`calab.io.loaders`: CaImAn, Minian, suite2p and NWB readers (extras).

This package module stays light (standard library only): it holds the two
small file helpers every writer and reader here shares. Nothing in
:mod:`calab.io` imports :mod:`calab.engine` or dask.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from calab.errors import InvalidParameterError
from calab.io.json_text import load_json_text

__all__ = ["json_bytes", "read_json_object", "to_json_value", "write_atomically"]


def write_atomically(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write a file through a temporary sibling, then rename it into place.

    A failure at any point (a bad value, a full disk, an interrupt) leaves
    ``path`` as it was before: either absent or with its previous content.

    Parameters
    ----------
    path : str or pathlib.Path
        Final file name. Its folder must exist.
    write : callable
        Called with the open binary temporary file; writes the content.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "hello.txt"
    >>> write_atomically(target, lambda fh: fh.write(b"hi")).read_bytes()
    b'hi'
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist; cannot write {path}")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def to_json_value(value: Any) -> Any:
    """``json`` ``default=`` hook: NumPy scalars/arrays and paths to plain JSON values."""
    if hasattr(value, "tolist") and callable(value.tolist):  # NumPy scalar or array
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(
        f"value {value!r} of type {type(value).__name__} cannot be stored in JSON; "
        "use numbers, strings, booleans, lists or dicts"
    )


def json_bytes(content: Any, what: str = "metadata") -> bytes:
    """Serialise ``content`` as strict JSON (2-space indent, no NaN/inf), UTF-8.

    ``TypeError``/``ValueError`` name ``what`` when a value cannot be stored.

    Examples
    --------
    >>> json_bytes({"a": 1})
    b'{\\n  "a": 1\\n}'
    """
    try:
        text = json.dumps(content, indent=2, allow_nan=False, default=to_json_value)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{what} cannot be written as JSON: {err}") from None
    return text.encode("utf-8")


def read_json_object(path: str | Path, what: str = "JSON file") -> dict[str, Any]:
    """Read a file that must hold one JSON object.

    Raises ``FileNotFoundError`` naming the file when it is missing and
    ``ValueError`` naming the file and the line/column of a syntax error, or
    saying what was found when the top level is not an object.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> _ = f.write_text('{"a": 1}')
    >>> read_json_object(f)
    {'a': 1}
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    text = path.read_bytes().decode("utf-8", errors="replace")
    value = load_json_text(text, what=str(path))
    if not isinstance(value, dict):
        raise InvalidParameterError(
            f"{path} must hold a JSON object {{...}}; found a {type(value).__name__}",
            argument=str(path),
        )
    return value
