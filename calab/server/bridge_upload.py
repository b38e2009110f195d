"""Files dropped onto the web app: ``.npy`` / ``.npz`` bytes to a :class:`Dataset`.

Dropping is a two-step exchange so the page can ask the user to confirm what
the file holds: ``POST /api/v1/upload`` parses the bytes and describes the
arrays found (name, shape, dtype); ``POST /api/v1/dataset`` then activates one
of them with the confirmed sampling rate and orientation.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np

from calab.core.options import positive_number
from calab.server.bodies import refuse_unknown_fields
from calab.server.bridge_session import Dataset, TuningSession, load_dataset
from calab.server.errors import ApiError
from calab.server.frames import parse_npy

#: Largest total size of the arrays inside a dropped ``.npz``, once inflated (bytes).
MAX_INFLATED_BYTES = 2 * 2**30
#: Most arrays read from one ``.npz``.
MAX_NPZ_MEMBERS = 256
#: Fields of ``POST /api/v1/dataset``.
DATASET_FIELDS = ("key", "fs", "transpose")

#: Largest dropped file accepted (bytes): more is not worth reading into a browser tab;
#: ``calab tune FILE`` opens any size lazily instead.
MAX_UPLOAD_BYTES = 512 * 2**20


def too_large_message(name: str, size: int | None, limit: int) -> str:
    """What to tell the user about a file too large to drop, and what to do instead.

    Examples
    --------
    >>> too_large_message("big.npy", 1_300_000_000, 512 * 2**20)[:44]
    'big.npy is 1.3 GB, more than a browser tab r'
    """
    what = f"{size / 1e9:.1f} GB" if size is not None else "too large"
    return (f"{name} is {what}, more than a browser tab reads (limit {limit / 2**20:.0f} MB). "
            f"Open it from a terminal instead, read lazily: calab tune {name} --fs HZ")


def parse_upload(data: bytes, name: str) -> dict[str, np.ndarray]:
    """The numeric 1-D/2-D arrays of a ``.npy`` or ``.npz`` file, by name."""
    if data.startswith(b"\x93NUMPY"):
        arrays = {"traces": parse_npy(data, name)}
    elif data.startswith(b"PK"):
        arrays = _parse_npz(data, name)
    else:
        raise ApiError(400, f"{name} is neither a .npy nor a .npz file")
    usable = {k: a for k, a in arrays.items() if _usable(a)}
    if not usable:
        shapes = {k: [list(a.shape), str(a.dtype)] for k, a in arrays.items()}
        raise ApiError(400, f"{name} holds no numeric 1-D or 2-D array; found {shapes}")
    return usable


def _parse_npz(data: bytes, name: str, limit: int = MAX_INFLATED_BYTES) -> dict[str, np.ndarray]:
    _check_inflated_size(data, name, limit)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ApiError(400, f"{name} is a malformed .npz file: {error}") from None


def _check_inflated_size(data: bytes, name: str, limit: int) -> None:
    """Refuse a zip whose members declare more than ``limit`` bytes inflated (a zip bomb).

    Reads only the central directory; the declared sizes are also what
    :mod:`zipfile` enforces while inflating, so a lying header fails there.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise ApiError(400, f"{name} is a malformed .npz file: {error}") from None
    if len(members) > MAX_NPZ_MEMBERS:
        raise ApiError(413, f"{name} holds {len(members)} arrays; at most {MAX_NPZ_MEMBERS} "
                       "are read")
    inflated = sum(member.file_size for member in members)
    if inflated > limit:
        raise ApiError(
            413, f"{name} inflates to {inflated / 2**30:.1f} GiB (at most "
            f"{limit / 2**30:.1f} GiB); save fewer or smaller arrays, or subsample first")


def _usable(array: np.ndarray) -> bool:
    numeric = np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    return numeric and array.ndim in (1, 2) and array.size > 1


def describe_upload(arrays: dict[str, np.ndarray], name: str) -> dict[str, Any]:
    """The ``/api/v1/upload`` answer: what the page asks the user to confirm."""
    return {
        "name": name,
        "arrays": [
            {"key": key, "shape": list(a.shape), "dtype": str(a.dtype)} for key, a in arrays.items()
        ],
    }


def activate_upload(session: TuningSession, body: Any) -> Dataset:
    """Turn the pending upload into the session's dataset (``POST /api/v1/dataset``)."""
    if session.pending_upload is None:
        raise ApiError(409, "no uploaded file is waiting; POST the file to /api/v1/upload first")
    if not isinstance(body, dict):
        raise ApiError(400, "dataset request must be a JSON object {key, fs, transpose}")
    refuse_unknown_fields(body, DATASET_FIELDS)
    arrays = session.pending_upload
    key = body.get("key", next(iter(arrays)))
    if not isinstance(key, str):
        raise ApiError(422, f"key must be the name of an uploaded array (a string); "
                       f"available: {list(arrays)}", field="key")
    transpose = body.get("transpose", False)
    if not isinstance(transpose, bool):
        raise ApiError(422, f"transpose={str(transpose)[:40]} must be true or false",
                       field="transpose")
    if key not in arrays:
        raise ApiError(422, f"key={key[:80]!r} is not in the uploaded file; available: "
                       f"{list(arrays)}", field="key")
    array = arrays[key].T if transpose else arrays[key]
    fs = positive_number("fs", body.get("fs"))
    try:
        dataset = load_dataset(
            array, fs, max_cells=session.max_cells, max_minutes=session.max_minutes,
            suggest=True,
        )
    except (TypeError, ValueError) as error:
        raise ApiError(422, f"cannot use {session.pending_name}:{key}: {error}",
                       field=getattr(error, "argument", None) or "fs") from None
    source = f"{session.pending_name}:{key}" if len(arrays) > 1 else session.pending_name
    dataset = dataset.with_source(source)
    session.set_dataset(dataset)
    return dataset
