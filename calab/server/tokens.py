"""Constant-time comparison of shared secrets and bearer tokens."""

from __future__ import annotations

import hmac


def secrets_match(given: str | bytes | None, expected: str | bytes) -> bool:
    """Compare a secret or token in constant time; ``None`` never matches."""
    if given is None:
        return False
    given_bytes = given.encode() if isinstance(given, str) else given
    expected_bytes = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(given_bytes, expected_bytes)
