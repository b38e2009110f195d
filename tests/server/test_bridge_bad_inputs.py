"""Bad inputs to the tuning bridge, over a real socket (uvicorn + httpx): each a 4xx in the one
error body, fast, and nothing exported."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib

import numpy as np
import pytest

from calab.io.export import load_export_params, save_export_params
from calab.server.bridge_session import load_dataset
from calab.server.tune import TuningRun
from tests.server.http_support import served

SECRET = "test-secret-123"
HUGE = 10**400
GOOD = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 0.5, "fs": 30.0}


@pytest.fixture
def run(rng):
    traces = rng.normal(size=(4, 1800)) + 5.0
    with TuningRun(load_dataset(traces, 30.0)) as tuning:
        yield tuning


@pytest.fixture
def http(run):
    import httpx

    with httpx.Client(base_url=run.server.base_url, headers={"X-Bridge-Secret": run.secret},
                      timeout=30.0) as client:
        yield client


def solve_body(**overrides):
    body = {"request_id": 1, "tau_rise": 0.1, "tau_decay": 0.6, "lambda": 0.5,
            "filter_enabled": False, "rows": [0, 1], "start": 0, "stop": 600}
    return {**body, **overrides}


def post(http, path: str, body) -> object:
    text = body if isinstance(body, str) else json.dumps(body)
    return http.post(path, content=text.encode("utf-8", "surrogatepass"),
                     headers={"Content-Type": "application/json"})


def assert_4xx(response, field: str | None = "unset") -> dict:
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert set(body) >= {"error", "field"} and body["error"]
    if field != "unset":
        assert body["field"] == field, body
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "tau_decay": 1e300}, "tau_decay"),
        ({**GOOD, "tau_decay": HUGE}, "tau_decay"),
        ({**GOOD, "fs": HUGE}, "fs"),
        ({**GOOD, "lambda_": HUGE}, "lambda_"),
        ({**GOOD, "fs": 20.0}, "fs"),                 # not the data's 30 Hz
        ({**GOOD, "tau_decay": "0.6"}, "tau_decay"),
        ({**GOOD, "tau_decay": True}, "tau_decay"),
        ({**GOOD, "tau_decay": [0.6, 0.7]}, "tau_decay"),
        ({"key": []}, "key"),
    ],
)
def test_params_refuses_what_load_export_params_would_not_take(run, http, body, field):
    assert_4xx(post(http, "/api/v1/params", body), field)
    assert not run.session.exported.is_set()


@pytest.mark.parametrize("path", ["/api/v1/params", "/api/v1/solve", "/api/v1/dataset"])
@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, '{"a": ' + "9" * 5000 + "}", '{"\\ud800": 1}', '{"key": []}', "[1]",
     '{"tau_decay": 1e999}'],
)
def test_hostile_bodies_on_every_json_route(run, http, path, text):
    if path == "/api/v1/dataset":  # give the dataset route a pending upload to refuse against
        buffer = io.BytesIO()
        np.save(buffer, np.ones((3, 100)))
        http.post("/api/v1/upload?name=a.npy", content=buffer.getvalue())
    assert_4xx(post(http, path, text))
    assert not run.session.exported.is_set()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tau_decay": 1e5}, "tau_decay"),
        ({"tau_decay": "0.6"}, "tau_decay"),
        ({"tau_decay": True}, "tau_decay"),
        ({"tau_rise": HUGE}, "tau_rise"),
        ({"lambda": HUGE}, "lambda"),
        ({"request_id": HUGE}, "request_id"),
        ({"start": -(2**70)}, "start"),
        ({"extra": 1}, "extra"),
    ],
)
def test_solve_refuses_at_once(http, overrides, field):
    began = time.perf_counter()
    response = post(http, "/api/v1/solve", solve_body(**overrides))
    assert time.perf_counter() - began < 5.0
    assert_4xx(response, field)


def test_params_and_solve_agree_on_types(http):
    for value in ("0.1", True):
        assert_4xx(post(http, "/api/v1/params", {**GOOD, "tau_rise": value}), "tau_rise")
        assert_4xx(post(http, "/api/v1/solve", solve_body(tau_rise=value)), "tau_rise")


def test_what_tune_returns_loads_back(run, http, tmp_path):
    response = post(http, "/api/v1/params", GOOD)
    assert response.status_code == 200, response.text
    params = run.wait(timeout=5)
    assert params == {**GOOD, "filter_enabled": False}
    save_export_params(params, tmp_path / "export.json")
    assert load_export_params(tmp_path / "export.json") == params


def zip_bomb(inflated_gib: float) -> bytes:
    """An .npz whose one member (a valid .npy header, then zeros) inflates to ``inflated_gib``.

    Built from one deflate block of 1 MiB of zeros, repeated (a full flush makes the blocks
    independent), so it costs milliseconds; the CRC is left 0 (6 GiB of CRC take seconds, and
    the server must refuse from the sizes in the zip headers before it inflates anything).
    """
    n_mib = int(inflated_gib * 1024)
    count = (n_mib << 20) // 8
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % count
    header = header + b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    npy_header = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = packer.compress(npy_header) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(bytes(1 << 20)) + packer.flush(zlib.Z_FULL_FLUSH)
    data = first + block * n_mib + packer.flush(zlib.Z_FINISH)
    size, packed = len(npy_header) + (n_mib << 20), len(data)
    name = b"traces.npy"
    extra = struct.pack("<HHQQ", 1, 16, size, packed)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, 0, 0xFFFFFFFF,
                        0xFFFFFFFF, len(name), len(extra)) + name + extra
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, 0,
                          0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, 0
                          ) + name + extra
    cd_offset = len(local) + len(data)
    eocd64_offset = cd_offset + len(central)
    eocd64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(central),
                         cd_offset)
    locator = struct.pack("<IIQI", 0x07064B50, 0, eocd64_offset, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), 0xFFFFFFFF, 0)
    return local + data + central + eocd64 + locator + eocd


def test_a_zip_bomb_is_refused_from_its_headers(http):
    bomb = zip_bomb(6.0)
    assert len(bomb) < 8 * 2**20  # about 6 MB on the wire
    import zipfile

    assert zipfile.ZipFile(io.BytesIO(bomb)).infolist()[0].file_size > 6 * 2**30
    began = time.perf_counter()
    response = http.post("/api/v1/upload?name=bomb.npz", content=bomb)
    assert time.perf_counter() - began < 5.0
    assert response.status_code == 413 and "inflates to 6.0 GiB" in response.json()["error"]


def test_a_small_npz_still_loads(http):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, traces=np.ones((3, 100)))
    response = http.post("/api/v1/upload?name=ok.npz", content=buffer.getvalue())
    assert response.status_code == 200, response.text


def test_the_served_app_answers_middleware_refusals_in_the_one_body(run):
    with served(run.server.app) as plain:
        response = plain.get("/api/v1/health")
    assert response.status_code == 401
    assert response.json() == {"error": "missing or wrong x-bridge-secret header",
                               "field": "x-bridge-secret"}
