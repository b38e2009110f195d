"""calab.io.storage: fsspec URLs, --storage-options JSON and the AWS_* environment."""

from __future__ import annotations

import subprocess
import sys

import pytest

from calab.io.storage import (
    is_url,
    parse_storage_options,
    resolve_run_storage,
    resolve_storage_options,
)


@pytest.fixture
def clean_aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                 "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_local_paths_take_no_options(clean_aws):
    assert not is_url("/data/rec.zarr") and is_url("s3://b/rec.zarr")
    assert resolve_storage_options("/data/rec.zarr", {"anon": True}) is None
    with pytest.raises(ValueError, match=r"storage_options=\{'anon': True\} apply to fsspec"):
        resolve_run_storage("/a.zarr", "/b.zarr", {"anon": True})


def test_environment_fills_what_options_leave_out(clean_aws):
    pytest.importorskip("s3fs")
    clean_aws.setenv("AWS_ENDPOINT_URL", "http://minio:9000")
    clean_aws.setenv("AWS_ACCESS_KEY_ID", "from-env")
    clean_aws.setenv("AWS_SECRET_ACCESS_KEY", "secret-env")
    clean_aws.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    options = resolve_storage_options("s3://b/rec.zarr", None)
    assert options == {"client_kwargs": {"endpoint_url": "http://minio:9000",
                                         "region_name": "eu-west-1"},
                       "key": "from-env", "secret": "secret-env", "max_concurrency": 1}
    given = {"key": "mine", "client_kwargs": {"endpoint_url": "http://other:1"}}
    options = resolve_storage_options("s3://b/rec.zarr", given)
    assert options["key"] == "mine" and options["secret"] == "secret-env"
    assert options["client_kwargs"]["endpoint_url"] == "http://other:1"
    assert resolve_storage_options("s3://b/r", {"max_concurrency": 8})["max_concurrency"] == 8
    assert given == {"key": "mine", "client_kwargs": {"endpoint_url": "http://other:1"}}
    assert "key" not in resolve_storage_options("s3://b/r.zarr", {"anon": True})
    clean_aws.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:9000")  # the service-specific wins
    assert resolve_storage_options("s3://b/r", None)["client_kwargs"]["endpoint_url"] == \
        "http://s3-only:9000"


def test_cli_json_is_checked():
    assert parse_storage_options(None) is None
    assert parse_storage_options('{"anon": true}') == {"anon": True}
    with pytest.raises(ValueError, match=r"--storage-options='\{anon' is not valid JSON"):
        parse_storage_options("{anon")
    with pytest.raises(TypeError, match=r"--storage-options=\[1\] must be a dict"):
        parse_storage_options("[1]")


def test_missing_filesystem_package_names_the_extra():
    code = ("import sys; sys.modules['gcsfs'] = None\n"
            "from calab.io.storage import resolve_storage_options\n"
            "try:\n    resolve_storage_options('gs://b/rec.zarr', None)\n"
            "except ImportError as error:\n    print('IMPORT-ERROR', error)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert "IMPORT-ERROR" in done.stdout and "pip install 'calab[gcs]'" in done.stdout


def test_unreachable_output_storage_is_a_clear_error(clean_aws):
    pytest.importorskip("s3fs")
    from calab.io.storage import url_holds_data

    options = {"key": "k", "secret": "s",
               "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "x"},
               "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}}}
    with pytest.raises(OSError, match=r"output='s3://b/p/o.zarr' cannot be checked .*"
                                      r"EndpointConnectionError"):
        url_holds_data("s3://b/p/o.zarr", options)
