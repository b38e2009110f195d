"""Former grab bag of HTTP helpers, now split into modules of one idea each.

Import from the modules themselves; these names are re-exported only so code
written against the old module keeps working while parallel work lands:

- :mod:`calab.server.errors`: the one JSON error body and the exception mapping
- :mod:`calab.server.bodies`: the safe JSON body reader
- :mod:`calab.server.frames`: ``.npy`` bytes and binary solve frames
- :mod:`calab.server.middleware`: Host check, CORS, shared-secret header
- :mod:`calab.server.tokens`: constant-time secret comparison
"""

from __future__ import annotations

from calab.server.bodies import MAX_JSON_BYTES, read_body, read_json_object
from calab.server.errors import ApiError, exception_handlers, json_error
from calab.server.frames import decode_frame, encode_frame, npy_bytes, parse_npy
from calab.server.middleware import (
    LOOPBACK_HOSTS,
    CorsMiddleware,
    HostCheckMiddleware,
    SecretHeaderMiddleware,
)
from calab.server.tokens import secrets_match

read_json = read_json_object
error_handlers = exception_handlers

__all__ = [
    "LOOPBACK_HOSTS", "MAX_JSON_BYTES", "ApiError", "CorsMiddleware", "HostCheckMiddleware",
    "SecretHeaderMiddleware", "decode_frame", "encode_frame", "error_handlers", "json_error",
    "npy_bytes", "parse_npy", "read_body", "read_json", "read_json_object", "secrets_match",
]
