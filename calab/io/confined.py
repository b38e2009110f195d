"""Zarr stores that never follow a path out of a confining directory.

A service that runs jobs on stores under a data root checks each path when the
job is submitted, but a symbolic link can be swapped in while the job runs.
:class:`ConfinedLocalStore` re-resolves the store's directory and each key's
file at every access and refuses any that leaves the root, so no chunk is read
from or written outside it at any time.

The check resolves the real path and then operates on that resolved path, so
the remaining window is a swap of one of the resolved directories between the
check and the open itself (microseconds, versus the whole run unchecked).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path, PosixPath
from typing import Any

from zarr.storage import LocalStore

from calab.errors import CalabError

__all__ = ["ConfinedLocalStore", "ConfinementError", "checked_path", "confine_traces",
           "confined_store"]


class ConfinementError(CalabError, PermissionError):
    """A store path that resolves outside the directory it is confined to."""


class _CheckedPath(PosixPath):
    """A resolved store directory whose ``/`` re-checks confinement."""

    _confine: tuple[str, str]  # (real root, root as named to the user)

    def __truediv__(self, key: Any) -> Path:  # type: ignore[override]
        real_root, _ = self._confine
        child = Path(os.path.realpath(os.path.join(os.fspath(self), os.fspath(key))))
        _check(child, real_root, os.path.join(self._shown(), os.fspath(key)))
        return child

    def _shown(self) -> str:
        real_root, _ = self._confine
        return os.path.relpath(os.fspath(self), real_root)


def _check(path: Path, real_root: str, shown: str) -> None:
    text = os.fspath(path)
    if text != real_root and not text.startswith(real_root + os.sep):
        raise ConfinementError(
            f"{shown!r} resolves outside the data root (a symbolic link changed while the job "
            "ran); nothing is read from or written to it",
            argument=shown,
        )


class ConfinedLocalStore(LocalStore):
    """A zarr ``LocalStore`` under ``confine_to`` that checks every access.

    Parameters
    ----------
    confine_to : str or Path
        The directory no access may leave (the data root).
    relative : str
        The store's path relative to ``confine_to`` (it names the store in errors).
    read_only : bool
        Open the store read-only.

    Examples
    --------
    >>> import tempfile, zarr, numpy as np
    >>> root = tempfile.mkdtemp()
    >>> store = ConfinedLocalStore(root, "a.zarr")
    >>> zarr.create_array(store, data=np.arange(4.0)).shape
    (4,)
    """

    def __init__(self, confine_to: str | Path, relative: str, *, read_only: bool = False) -> None:
        self._real_root = os.path.realpath(confine_to)
        self._relative = relative
        super().__init__(os.path.join(self._real_root, relative), read_only=read_only)

    @property
    def root(self) -> Path:
        """The store directory, resolved now and checked to lie under the data root."""
        real = Path(os.path.realpath(self._unchecked_root))
        _check(real, self._real_root, self._relative)
        checked = _CheckedPath(real)
        checked._confine = (self._real_root, self._relative)
        return checked

    @root.setter
    def root(self, value: Path) -> None:
        self._unchecked_root = Path(value)

    def with_read_only(self, read_only: bool = False) -> ConfinedLocalStore:
        """The same store with another read-only flag."""
        return type(self)(self._real_root, self._relative, read_only=read_only)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._real_root, self._relative, self.read_only))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfinedLocalStore) and (
            (self._real_root, self._relative) == (other._real_root, other._relative))

    def __hash__(self) -> int:
        return hash((self._real_root, self._relative))


def _rebuild(root: str, relative: str, read_only: bool) -> ConfinedLocalStore:
    return ConfinedLocalStore(root, relative, read_only=read_only)


def confined_store(confine_to: str | Path, path: str | Path, *, read_only: bool) -> Any:
    """A :class:`ConfinedLocalStore` for ``path``, which must lie under ``confine_to``.

    Raises
    ------
    ConfinementError
        ``path`` (resolved now) is outside ``confine_to``.
    """
    real_root = os.path.realpath(confine_to)
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, real_root) if absolute.startswith(real_root) else None
    if relative is None or relative.startswith(".."):
        raise ConfinementError(
            f"store {os.path.basename(absolute)!r} is not under the data root", argument="path"
        )
    return ConfinedLocalStore(real_root, relative, read_only=read_only)




def checked_path(path: str | Path, confine_to: str | Path) -> str:
    """``path`` resolved now, refused when it is not under ``confine_to``.

    Open the returned path (not ``path``) so that a link swapped in after the
    check is not followed.
    """
    real_root = os.path.realpath(confine_to)
    real = os.path.realpath(path)
    shown = os.path.relpath(os.path.abspath(path), real_root)
    _check(Path(real), real_root, shown if not shown.startswith("..") else os.path.basename(path))
    return real


def confine_traces(traces: Any, confine_to: str) -> Any:
    """A copy of a :class:`~calab.io.arrays.TraceArray` whose every read is confined.

    Each stored part re-checks, at each read, that its file (or every chunk of
    its zarr store) lies under ``confine_to``.
    """
    clone = copy.copy(traces)
    parts = []
    for part, weight in traces.parts:
        confined = copy.copy(part)
        confined.confine_to = os.path.realpath(confine_to)
        parts.append((confined, weight))
    clone.parts = parts
    return clone
