"""Errors of the out-of-core engine: members of the :mod:`calab.errors` family.

``Cancelled`` and ``ResumeMismatchError`` live in :mod:`calab.errors` and are
re-exported here, where they were first documented.
"""

from __future__ import annotations

from calab.errors import BlocksFailedError, Cancelled, ResumeMismatchError

__all__ = ["BlocksFailedError", "Cancelled", "ResumeMismatchError"]
