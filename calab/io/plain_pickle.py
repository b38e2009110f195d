"""Reading ``.npy`` files that hold pickled objects without running code they may carry.

``np.load(..., allow_pickle=True)`` hands the file to :mod:`pickle`, which can
call any importable function: a crafted ``ops.npy`` runs code on load. Here
the pickle is read by an unpickler that builds only NumPy arrays, dtypes,
scalars and plain Python containers, and refuses every other global.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from calab.errors import UnsupportedRecordingError
from calab.io.arrays import unreadable

#: The globals a pickled NumPy array of plain Python values refers to.
SAFE_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("builtins", "complex"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "range"),
})


class PlainDataUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`SAFE_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")


def read_plain_npy(path: Path, shown: str) -> np.ndarray:
    """Read a ``.npy`` file, unpickling object arrays with :class:`PlainDataUnpickler`.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    shown : str
        How to name the file in errors (the path as the user gave it).

    Raises
    ------
    calab.errors.UnsupportedRecordingError
        Not a ``.npy`` file, or a pickle that refers to anything but plain data.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ops.npy"
    >>> np.save(path, {"fs": 30.0}, allow_pickle=True)
    >>> read_plain_npy(path, "ops.npy").item()
    {'fs': 30.0}
    """
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            _shape, _fortran, dtype = header(handle)
            if not dtype.hasobject:
                return np.asarray(np.load(path, allow_pickle=False))
            array = PlainDataUnpickler(handle).load()
    except pickle.UnpicklingError as err:
        raise UnsupportedRecordingError(
            f"{shown!r} holds more than plain data ({err}); calab does not run code from "
            "files. Pass fs= to skip reading it", argument="input") from None
    except Exception as err:  # a truncated or corrupt file: numpy and pickle raise many types
        raise unreadable(shown, ".npy file", err) from None
    if not isinstance(array, np.ndarray):
        raise UnsupportedRecordingError(f"{shown!r} does not hold a NumPy array",
                                        argument="input")
    return array
