"""Recordings and outputs on object storage: fsspec URLs and their ``storage_options``.

A location is either a local path or an fsspec URL (``s3://bucket/rec.zarr``,
``gs://...``, ``file:///data/rec.zarr``, ``memory://...``). URLs take
``storage_options``: the keyword arguments of the fsspec filesystem (for s3fs:
``key``, ``secret``, ``token``, ``client_kwargs={"endpoint_url": ...}``,
``anon``). For ``s3://`` the standard environment variables fill what the
options leave out, on the machine that starts the run:

=============================  ==========================================
``AWS_ENDPOINT_URL_S3`` or     ``client_kwargs["endpoint_url"]`` (MinIO,
``AWS_ENDPOINT_URL``           Ceph, a local test server ...)
``AWS_ACCESS_KEY_ID``          ``key``
``AWS_SECRET_ACCESS_KEY``      ``secret``
``AWS_SESSION_TOKEN``          ``token``
``AWS_REGION`` /               ``client_kwargs["region_name"]``
``AWS_DEFAULT_REGION``
=============================  ==========================================

For ``s3://``, ``max_concurrency`` defaults to 1 (each chunk one GET, no HEAD
before it); give a larger value to read objects of many megabytes in
concurrent ranges.

The resolved options travel with each block's task, so Dask workers need no
environment of their own; they are never written into output attributes or
job records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: fsspec protocol -> (module implementing it, calab extra providing it)
PROTOCOL_EXTRAS = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"), "gs": ("gcsfs", "gcs"),
                   "gcs": ("gcsfs", "gcs")}
S3_ENV = (("AWS_ACCESS_KEY_ID", "key"), ("AWS_SECRET_ACCESS_KEY", "secret"),
          ("AWS_SESSION_TOKEN", "token"))


def is_url(location: str | Path) -> bool:
    """True for an fsspec URL (``protocol://...``), False for a local path."""
    return "://" in str(location)


def protocol_of(location: str | Path) -> str | None:
    """``"s3"`` for ``s3://b/k``; None for a local path."""
    text = str(location)
    return text.split("://", 1)[0].lower() if is_url(text) else None


def parse_storage_options(text: str | None,
                          what: str = "--storage-options") -> dict[str, Any] | None:
    """Parse the CLI's ``--storage-options JSON`` (a JSON object) or raise ValueError naming it.

    Examples
    --------
    >>> parse_storage_options('{"anon": true}')
    {'anon': True}
    """
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what}={text!r} is not valid JSON ({err.msg}); give an object such "
                         'as \'{"client_kwargs": {"endpoint_url": "http://host:9000"}}\'') from None
    return check_storage_options(value, what)


def check_storage_options(value: Any, what: str = "storage_options") -> dict[str, Any] | None:
    """Require None or a mapping with string keys; return a plain dict copy."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{what}={value!r} must be a dict of fsspec filesystem options "
                        f"(string keys); got {type(value).__name__}")
    copy: dict[str, Any] = json.loads(json.dumps(dict(value), default=str))
    return copy


def resolve_storage_options(location: str | Path,
                            storage_options: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The filesystem options to open ``location`` with (None for a local path).

    Checks the filesystem package is installed (an ImportError names the calab
    extra) and, for ``s3://``, fills endpoint, credentials and region from
    the standard ``AWS_*`` environment variables where the options leave them out.

    Examples
    --------
    >>> resolve_storage_options("/data/rec.zarr", None) is None
    True
    >>> resolve_storage_options("memory://rec.zarr", {"skip_instance_cache": True})
    {'skip_instance_cache': True}
    """
    options = check_storage_options(storage_options)
    protocol = protocol_of(location)
    if protocol is None:
        return None
    require_filesystem(protocol, str(location))
    options = dict(options or {})
    if protocol in ("s3", "s3a"):
        _fill_s3_from_environment(options)
        # a chunk is read with one GET; s3fs otherwise asks its size first (a HEAD per chunk)
        # to split large objects into concurrent ranged reads
        options.setdefault("max_concurrency", 1)
    elif protocol in ("file", "local"):
        options.setdefault("auto_mkdir", True)  # zarr writes chunk files into new folders
    return options


def resolve_run_storage(input: str | Path, output: str | Path,
                        storage_options: Mapping[str, Any] | None,
                        ) -> dict[str, dict[str, Any] | None]:
    """The resolved options of a run's input and output (``{"input": ..., "output": ...}``).

    One ``storage_options`` serves both (the same credentials and endpoint);
    it is refused when neither location is a URL.
    """
    if storage_options is not None and not (is_url(input) or is_url(output)):
        raise ValueError(
            f"storage_options={dict(storage_options)!r} apply to fsspec URLs (s3://, gs://, "
            f"...), but input={str(input)!r} and output={str(output)!r} are local paths")
    return {"input": resolve_storage_options(input, storage_options),
            "output": resolve_storage_options(output, storage_options)}


def _fill_s3_from_environment(options: dict[str, Any]) -> None:
    client = dict(options.get("client_kwargs") or {})
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and "endpoint_url" not in client and "endpoint_url" not in options:
        client["endpoint_url"] = endpoint
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region and "region_name" not in client:
        client["region_name"] = region
    if client:
        options["client_kwargs"] = client
    if options.get("anon"):
        return
    for variable, key in S3_ENV:
        if os.environ.get(variable) and key not in options:
            options[key] = os.environ[variable]


def require_filesystem(protocol: str, location: str) -> None:
    """Raise ImportError naming the extra when the URL's filesystem package is missing."""
    module, extra = PROTOCOL_EXTRAS.get(protocol, (None, None))
    if module is None:
        return
    try:
        __import__(module)
    except ImportError:
        raise ImportError(
            f"{location!r} needs the optional package {module!r}; install it with: "
            f"pip install 'calab[{extra}]'"
        ) from None


def zarr_open_kwargs(location: str, storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments for ``zarr.open*`` (``storage_options`` only for URLs)."""
    if is_url(location) and storage_options:
        return {"storage_options": dict(storage_options)}
    return {}


def url_holds_data(location: str, storage_options: Mapping[str, Any] | None) -> bool:
    """Whether anything exists at or under a URL (False when it cannot be listed)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(location, **dict(storage_options or {}))
    try:  # one listing: an object lists itself, a prefix its members, nothing raises
        return bool(fs.ls(path, detail=False))
    except (FileNotFoundError, NotADirectoryError):
        return False
    except Exception as exc:  # no credentials, endpoint unreachable, access denied, ...
        raise OSError(f"output={location!r} cannot be checked on its storage "
                      f"({type(exc).__name__}: {exc}); check the URL, the credentials "
                      "(AWS_* variables or storage options) and the endpoint") from None
