"""Binary payloads of the tuning bridge: ``.npy`` bytes and float32 frames.

- :func:`parse_npy`, :func:`npy_bytes`: ``.npy`` files in and out (never pickles).
- :func:`encode_frame`, :func:`decode_frame`: a small JSON header followed by
  float32 arrays, the answer of ``POST /api/v1/solve``.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from calab.server.errors import ApiError


def parse_npy(data: bytes, name: str = "request body") -> np.ndarray:
    """Load ``.npy`` bytes (no pickles); 400 with a message when malformed."""
    if not data.startswith(b"\x93NUMPY"):
        raise ApiError(400, f"{name} is not a .npy file (missing the \\x93NUMPY magic)")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:  # numpy raises ValueError/EOFError/OSError variously
        raise ApiError(400, f"{name} is a malformed .npy file: {error}") from None


def npy_bytes(array: np.ndarray) -> bytes:
    """Serialise an array as the bytes of a ``.npy`` file."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def encode_frame(header: dict[str, Any], arrays: Sequence[np.ndarray]) -> bytes:
    """Pack a JSON header and arrays into one binary frame.

    Layout: ``uint32`` little-endian length ``n`` of the header, ``n`` bytes
    of UTF-8 JSON (space-padded so the data starts at a multiple of 4), then
    each array as C-ordered float32 little-endian. ``header["arrays"]`` is
    set to the list of array shapes, in order.

    Examples
    --------
    >>> frame = encode_frame({"id": 1}, [np.ones((2, 3))])
    >>> header, arrays = decode_frame(frame)
    >>> header["id"], arrays[0].shape, arrays[0].dtype
    (1, (2, 3), dtype('float32'))
    """
    shapes = [list(np.shape(a)) for a in arrays]
    text = json.dumps({**header, "arrays": shapes}).encode()
    text += b" " * (-(4 + len(text)) % 4)
    parts = [struct.pack("<I", len(text)), text]
    parts += [np.ascontiguousarray(a, dtype="<f4").tobytes() for a in arrays]
    return b"".join(parts)


def decode_frame(frame: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Inverse of :func:`encode_frame`."""
    (length,) = struct.unpack_from("<I", frame, 0)
    header = json.loads(frame[4 : 4 + length])
    offset = 4 + length
    arrays = []
    for shape in header["arrays"]:
        count = int(np.prod(shape))
        arrays.append(np.frombuffer(frame, "<f4", count, offset).reshape(shape))
        offset += 4 * count
    return header, arrays
