"""CaTune export JSON: load_export_params, save_export_params, normalize_params."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from pathlib import Path

import pytest

import calab
from calab.core.kernel import kernel_peak_fwhm, tau_to_ar2
from calab.io.export import (
    MissingFieldError,
    load_export_params,
    normalize_params,
    save_export_params,
)

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference"

FLAT = {"tau_rise": 0.1, "tau_decay": 0.6, "lambda_": 1.0, "fs": 30.0, "filter_enabled": False}
EXPORT = {
    "schema_version": "1.2.0",
    "catune_version": "0.9.0",
    "export_date": "2026-11-24T10:00:00Z",
    "parameters": {
        "tau_rise_s": 0.1,
        "tau_decay_s": 0.6,
        "lambda": 1.0,
        "sampling_rate_hz": 30.0,
        "filter_enabled": True,
    },
}


def _write(tmp_path, document, name="export.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def _modified(change):
    document = copy.deepcopy(EXPORT)
    change(document)
    return document


EXPECTED_CASES = {
    "gcamp6f_30hz": (0.1, 0.6, 1.0, 30.0, False),
    "gcamp6s_15hz_filtered": (0.4, 1.8, 2.0, 15.0, True),
    "jgcamp8f_60hz_raw_f": (0.05, 0.3, 0.5, 60.0, False),
}


@pytest.mark.parametrize("case", sorted(EXPECTED_CASES))
def test_real_catune_exports_load(case):
    path = REFERENCE_DIR / case / "export.json"
    if not path.is_file():
        pytest.skip("shared reference cases not present")
    params = load_export_params(path)
    assert params == dict(zip(FLAT, EXPECTED_CASES[case], strict=True))
    assert all(type(params[k]) is float for k in ("tau_rise", "tau_decay", "lambda_", "fs"))
    assert type(params["filter_enabled"]) is bool


def test_every_reference_case_export_matches_its_case_json():
    cases = sorted(REFERENCE_DIR.glob("*/case.json")) if REFERENCE_DIR.is_dir() else []
    if not cases:
        pytest.skip("shared reference cases not present")
    for case_json in cases:
        spec = json.loads(case_json.read_text())
        params = load_export_params(case_json.parent / "export.json")
        expected = [spec[k] for k in ("tau_rise", "tau_decay", "lam", "fs", "filter_enabled")]
        assert list(params.values()) == expected, case_json.parent.name


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "1.2.0", "1.3.7"])
def test_schema_1x_versions_load(tmp_path, version):
    document = _modified(lambda d: d.update(schema_version=version))
    assert load_export_params(_write(tmp_path, document))["tau_decay"] == 0.6


def test_filter_enabled_defaults_to_false(tmp_path):
    document = _modified(lambda d: d["parameters"].pop("filter_enabled"))
    document["schema_version"] = "1.0.0"
    assert load_export_params(_write(tmp_path, document))["filter_enabled"] is False


def test_integer_json_numbers_become_floats(tmp_path):
    document = _modified(lambda d: d["parameters"].update({"lambda": 0, "sampling_rate_hz": 20}))
    params = load_export_params(_write(tmp_path, document))
    assert params["lambda_"] == 0.0 and type(params["fs"]) is float


def test_save_round_trip_and_layout(tmp_path):
    params = {**FLAT, "filter_enabled": True, "tau_rise": 0.4, "tau_decay": 1.8, "fs": 15.0}
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    path = save_export_params(params, tmp_path / "out.json", metadata={"num_cells": 12})
    assert path == tmp_path / "out.json"
    assert load_export_params(path) == params
    document = json.loads(path.read_text())
    assert list(document) == [
        "schema_version", "catune_version", "export_date", "parameters",
        "ar2_coefficients", "formulation", "metadata",
    ]
    assert document["schema_version"] == "1.2.0"
    assert document["catune_version"] == "calab-" + calab.__version__
    date = dt.datetime.strptime(document["export_date"], "%Y-%m-%dT%H:%M:%SZ")
    assert before <= date.replace(tzinfo=dt.UTC) <= dt.datetime.now(dt.UTC)
    assert list(document["parameters"]) == [
        "tau_rise_s", "tau_decay_s", "lambda", "sampling_rate_hz", "filter_enabled",
        "t_peak_s", "fwhm_s",
    ]
    t_peak, fwhm = kernel_peak_fwhm(0.4, 1.8)
    assert document["parameters"]["t_peak_s"] == t_peak
    assert document["parameters"]["fwhm_s"] == fwhm
    g1, g2, d, r = tau_to_ar2(0.4, 1.8, 15.0)
    assert document["ar2_coefficients"] == {
        "g1": g1, "g2": g2, "decayRoot": d, "riseRoot": r, "dt": 1 / 15.0,
    }
    assert document["formulation"] == {"model": "FISTA with double-exponential kernel"}
    assert document["metadata"] == {"num_cells": 12}


@pytest.mark.parametrize("case", sorted(EXPECTED_CASES))
def test_written_export_matches_catune_file_byte_for_byte(tmp_path, case):
    """Byte-identical to CaTune 0.9.0 apart from the added t_peak_s and fwhm_s."""
    reference = REFERENCE_DIR / case / "export.json"
    if not reference.is_file():
        pytest.skip("shared reference cases not present")
    document = json.loads(reference.read_text())
    path = save_export_params(load_export_params(reference), tmp_path / "e.json",
                              metadata=document["metadata"])
    ours = json.loads(path.read_text())
    t_peak, fwhm = kernel_peak_fwhm(document["parameters"]["tau_rise_s"],
                                    document["parameters"]["tau_decay_s"])
    expected = {**document, "catune_version": ours["catune_version"],
                "export_date": ours["export_date"],
                "parameters": {**document["parameters"], "t_peak_s": t_peak, "fwhm_s": fwhm}}
    assert path.read_text() == json.dumps(expected, indent=2)


def test_save_accepts_an_export_dict_and_keeps_its_metadata(tmp_path):
    document = {**EXPORT, "metadata": {"source_filename": "rec.npy", "num_cells": 3}}
    path = save_export_params(document, tmp_path / "e.json", metadata={"num_cells": 4})
    assert json.loads(path.read_text())["metadata"] == {"source_filename": "rec.npy",
                                                        "num_cells": 4}


def test_save_invalid_params_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"tau_rise=0.9 must be smaller than tau_decay=0.6"):
        save_export_params({**FLAT, "tau_rise": 0.9}, tmp_path / "e.json")
    with pytest.raises(ValueError, match="export cannot be written as JSON"):
        save_export_params(FLAT, tmp_path / "e.json", metadata={"bad": math.inf})
    assert list(tmp_path.iterdir()) == []


def test_public_api_names_point_here():
    assert calab.load_export_params is load_export_params
    assert calab.save_export_params is save_export_params


def test_normalize_flat_dict_and_lambda_alias():
    assert normalize_params(FLAT) == FLAT
    alias = {k: v for k, v in FLAT.items() if k != "lambda_"} | {"lambda": 2}
    assert normalize_params(alias)["lambda_"] == 2.0
    no_filter = {k: v for k, v in FLAT.items() if k != "filter_enabled"}
    assert normalize_params(no_filter)["filter_enabled"] is False


def test_normalize_export_dict_equals_flat():
    assert normalize_params(EXPORT) == {**FLAT, "filter_enabled": True}


@pytest.mark.parametrize(
    ("obj", "error", "pattern"),
    [
        ({**FLAT, "tau_rise": 0.6}, ValueError, r"tau_rise=0.6 must be smaller than tau_decay"),
        ({**FLAT, "tau_rise": -0.1}, ValueError, r"tau_rise=-0.1 must be a finite number > 0"),
        ({**FLAT, "fs": 0}, ValueError, r"fs=0 must be a finite number > 0"),
        ({**FLAT, "lambda_": -1.0}, ValueError, r"lambda_=-1.0 must be a finite number >= 0"),
        ({**FLAT, "lambda_": math.nan}, ValueError, r"lambda_=nan must be a finite number"),
        ({**FLAT, "tau_decay": "0.6"}, TypeError, r"tau_decay='0.6' must be a real number"),
        ({**FLAT, "fs": True}, TypeError, r"fs=True must be a real number"),
        ({**FLAT, "filter_enabled": "yes"}, TypeError, r"filter_enabled='yes' must be true"),
        ({**FLAT, "lambda": 2.0}, ValueError, r"lambda_=1.0 and lambda=2.0 disagree"),
        ([1, 2], TypeError, r"must be a JSON object/dict; got list"),
    ],
)
def test_normalize_flat_errors_name_the_field(obj, error, pattern):
    with pytest.raises(error, match=pattern):
        normalize_params(obj, source="request body")
    with pytest.raises(error, match=r"^request body: "):
        normalize_params(obj, source="request body")


def test_normalize_missing_flat_field_is_key_and_value_error():
    partial = {k: v for k, v in FLAT.items() if k != "fs"}
    for error in (KeyError, ValueError, MissingFieldError):
        with pytest.raises(error, match=r"missing field 'fs'"):
            normalize_params(partial)


def test_malformed_json_names_file_and_position(tmp_path):
    path = _write(tmp_path, '{\n  "schema_version": "1.2.0",\n  "parameters": {\n}')
    with pytest.raises(ValueError, match=r"export.json is not valid JSON: .* line 4 column 2"):
        load_export_params(path)


def test_non_object_json(tmp_path):
    with pytest.raises(ValueError, match=r"must hold a JSON object .* found a list"):
        load_export_params(_write(tmp_path, "[1, 2]"))


def test_missing_file():
    with pytest.raises(FileNotFoundError, match=r"CaTune export not found: /nonexistent\.json"):
        load_export_params("/nonexistent.json")


@pytest.mark.parametrize("field", ["tau_rise_s", "tau_decay_s", "lambda", "sampling_rate_hz"])
def test_missing_parameter_names_field_path(tmp_path, field):
    path = _write(tmp_path, _modified(lambda d: d["parameters"].pop(field)))
    with pytest.raises(KeyError, match=rf"export.json: missing field 'parameters.{field}'"):
        load_export_params(path)


def test_missing_parameters_block(tmp_path):
    path = _write(tmp_path, _modified(lambda d: d.pop("parameters")))
    with pytest.raises(ValueError, match=r"missing field 'parameters'"):
        load_export_params(path)


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        (lambda d: d["parameters"].update(tau_rise_s=0.6), ValueError,
         r"parameters.tau_rise_s=0.6 must be smaller than parameters.tau_decay_s=0.6"),
        (lambda d: d["parameters"].update(tau_rise_s=0.9), ValueError,
         r"parameters.tau_rise_s=0.9 must be smaller"),
        (lambda d: d["parameters"].update({"lambda": -0.5}), ValueError,
         r"parameters.lambda=-0.5 must be a finite number >= 0"),
        (lambda d: d["parameters"].update(sampling_rate_hz=0), ValueError,
         r"parameters.sampling_rate_hz=0 must be a finite number > 0"),
        (lambda d: d["parameters"].update(tau_decay_s="0.6"), TypeError,
         r"parameters.tau_decay_s='0.6' must be a real number"),
        (lambda d: d["parameters"].update(filter_enabled=1), TypeError,
         r"parameters.filter_enabled=1 must be true or false"),
        (lambda d: d.update(parameters=[0.1, 0.6]), TypeError,
         r"field 'parameters' must be an object; got list"),
        (lambda d: d.update(schema_version="2.0.0"), ValueError,
         r"schema_version='2.0.0' is not supported; calab reads CaTune export schemas 1.x"),
        (lambda d: d.update(schema_version=1.2), ValueError,
         r"schema_version=1.2 is not a version string"),
    ],
)
def test_invalid_export_values(tmp_path, change, error, pattern):
    path = _write(tmp_path, _modified(change))
    with pytest.raises(error, match=pattern) as info:
        load_export_params(path)
    assert str(info.value).startswith(str(path) + ": ")


def test_deconvolve_from_export_uses_this_reader(tmp_path, rng):
    path = _write(tmp_path, _modified(lambda d: d["parameters"].update(tau_rise_s=0.9)))
    with pytest.raises(ValueError, match=r"parameters\.tau_rise_s=0\.9"):
        calab.deconvolve_from_export(rng.normal(size=(1, 100)), path)
