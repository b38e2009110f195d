"""Bearer-token authentication and token resolution for the job service."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from calab.server.tokens import secrets_match

TOKEN_ENV = "CALAB_TOKEN"
MIN_TOKEN_LENGTH = 16


def token_matches(header_value: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (constant-time compare).

    Example
    -------
    >>> token_matches("Bearer s3cret-s3cret-s3cret", "s3cret-s3cret-s3cret")
    True
    """
    if not header_value:
        return False
    scheme, _, supplied = header_value.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return secrets_match(supplied.strip(), token)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token_file(path: str | Path) -> str:
    """Read a token from a file (surrounding whitespace stripped); raise ValueError if unusable."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"--token-file={str(path)!r} cannot be read: {exc.strerror}") from exc
    return check_token(token, f"--token-file={str(path)!r}")


def check_token(token: str, source: str) -> str:
    """Require a token of at least ``MIN_TOKEN_LENGTH`` printable characters without spaces."""
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() or not c.isprintable() for c in token):
        raise ValueError(
            f"the token from {source} must be at least {MIN_TOKEN_LENGTH} printable characters"
            " without spaces (generate one with: python3 -c 'import secrets;"
            " print(secrets.token_urlsafe(32))')"
        )
    return token


def resolve_token(host: str, token_file: str | Path | None, state_dir: Path) -> tuple[str, str]:
    """Decide the service token.

    Order: ``token_file``, then ``CALAB_TOKEN``. Without either, a loopback
    service gets a random token written to ``state_dir/token`` (mode 0600);
    any other host is refused.

    Returns
    -------
    tuple of (str, str)
        The token and a description of where it came from.

    Raises
    ------
    ValueError
        An unusable token, or no token for a non-loopback ``host``.

    Example
    -------
    >>> resolve_token("127.0.0.1", None, Path("/tmp/state"))  # doctest: +SKIP
    ('Jx...', 'generated, saved in /tmp/state/token')
    """
    if token_file is not None:
        return read_token_file(token_file), f"--token-file {token_file}"
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return check_token(from_env, TOKEN_ENV), TOKEN_ENV
    if not is_loopback(host):
        raise ValueError(
            f"--host={host!r} is reachable from other machines: set {TOKEN_ENV} or pass"
            " --token-file, or listen on 127.0.0.1"
        )
    token = secrets.token_urlsafe(32)
    path = state_dir / "token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token, f"generated, saved in {path} (use: calab jobs --token-file {path} ...)"
