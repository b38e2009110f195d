"""resolve_under_url_prefixes: job URLs confined to the object-storage prefixes shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from calab.server.jobs.errors import JobRequestError
from calab.server.jobs.locations import check_url_prefixes, contains, overlap
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


def test_credentials_in_a_url_are_refused_without_echoing_them():
    with pytest.raises(JobRequestError) as caught:
        resolve_under_url_prefixes("input", "s3://AKIA:hunter2@lab/recordings/a.zarr", SHARED)
    assert caught.value.status == 422 and caught.value.field == "input"
    assert "embeds credentials" in str(caught.value) and "hunter2" not in str(caught.value)


def test_configured_prefixes_are_normalised_or_refused():
    assert check_url_prefixes(["S3://lab//rec/", "gs://b"]) == ("s3://lab/rec", "gs://b")
    for bad in ("/data/rec", "s3://lab/../x", "s3://k:s@lab/rec", "s3://"):
        with pytest.raises(ValueError, match="url_prefixes"):
            check_url_prefixes([bad])


@pytest.mark.parametrize(("outer", "inner", "inside"), [
    ("s3://lab/rec.zarr", "s3://lab/rec.zarr/out.zarr", True),
    ("s3://lab/rec.zarr", "s3://lab/rec.zarr", True),
    ("s3://lab/rec.zarr", "s3://lab/rec.zarr2/out.zarr", False),
    ("s3://lab/rec.zarr", "gs://lab/rec.zarr/out.zarr", False),
    (Path("/data/rec.zarr"), Path("/data/rec.zarr/out.zarr"), True),
    (Path("/data/rec.zarr"), "s3://data/rec.zarr/out.zarr", False),
])
def test_stores_inside_stores_are_found_for_urls_and_paths(outer, inner, inside):
    assert contains(outer, inner) is inside
    assert overlap(inner, outer) is inside
