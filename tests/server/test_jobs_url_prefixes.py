"""resolve_under_url_prefixes: job URLs confined to the object-storage prefixes shared."""

from __future__ import annotations

import pytest

from calab.server.jobs.errors import JobRequestError
from calab.server.jobs.paths import resolve_under_url_prefixes

SHARED = ["s3://lab/recordings/", "gs://other-bucket"]


@pytest.mark.parametrize(("value", "expected"), [
    ("s3://lab/recordings/a.zarr", "s3://lab/recordings/a.zarr"),
    ("S3://lab//recordings/./b.zarr/", "s3://lab/recordings/b.zarr"),
    ("gs://other-bucket/x/y.zarr", "gs://other-bucket/x/y.zarr"),
])
def test_urls_under_a_prefix_are_normalised(value, expected):
    assert resolve_under_url_prefixes("input", value, SHARED) == expected


@pytest.mark.parametrize(("value", "status", "text"), [
    ("s3://lab/recordings-2/a.zarr", 403, "outside the storage prefixes"),
    ("s3://lab/recordings/../secrets/a.zarr", 403, "contains '..'"),
    ("s3://lab/recordings/a.zarr?versionId=1", 403, "query"),
    ("gs://lab/recordings/a.zarr", 403, "outside"),
    ("recordings/a.zarr", 422, "must be a URL"),
    (None, 422, "must be a URL"),
])
def test_other_urls_are_refused_naming_the_field(value, status, text):
    with pytest.raises(JobRequestError) as caught:
        resolve_under_url_prefixes("output", value, SHARED)
    assert caught.value.status == status and text in str(caught.value)
    assert caught.value.field == "output" and "output=" in str(caught.value)


def test_no_prefixes_shares_nothing():
    with pytest.raises(JobRequestError, match=r"prefixes this service shares \(none\)"):
        resolve_under_url_prefixes("input", "s3://lab/recordings/a.zarr", [])
