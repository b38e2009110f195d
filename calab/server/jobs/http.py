"""Reading a size-limited JSON request body."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from calab.server.jobs.errors import JobRequestError


async def read_json_body(request: Request, max_bytes: int) -> Any:
    """Read and decode a JSON body of at most ``max_bytes`` bytes.

    The declared ``Content-Length`` is checked first, then the bytes actually
    received, so an oversized body is refused without being held in memory.

    Raises
    ------
    JobRequestError
        413 when the body is larger than ``max_bytes``; 400 when it is empty
        or not valid UTF-8 JSON.

    Example
    -------
    >>> body = await read_json_body(request, 1 << 20)  # doctest: +SKIP
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise JobRequestError(None, f"request body of {declared} bytes exceeds {max_bytes}", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise JobRequestError(None, f"request body exceeds {max_bytes} bytes", 413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise JobRequestError(None, "the request body is empty; send a JSON object", 400)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JobRequestError(None, f"the request body is not valid JSON: {exc}", 400) from exc
