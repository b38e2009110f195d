"""Per-cell values in a CaTune export: an extra field CaTune ignores; parameters stay scalar."""

from __future__ import annotations

import json

import numpy as np
import pytest

import calab


def test_per_cell_values_go_to_their_own_field(tmp_path):
    path = tmp_path / "export.json"
    calab.save_export_params({"tau_rise": 0.05, "tau_decay": 0.4, "lambda_": 0.1, "fs": 30.0},
                             path, per_cell={"tau_decay": np.array([0.3, 0.5]),
                                             "lambda_": [0.1, 0.2]})
    document = json.loads(path.read_text())
    assert document["calab_per_cell"] == {"tau_decay_s": [0.3, 0.5], "lambda": [0.1, 0.2]}
    assert document["parameters"]["tau_decay_s"] == 0.4
    assert calab.load_export_params(path)["tau_decay"] == 0.4


def test_per_cell_rejects_unknown_keys(tmp_path):
    with pytest.raises(ValueError, match="per_cell"):
        calab.save_export_params({"tau_rise": 0.05, "tau_decay": 0.4, "lambda_": 0.1,
                                  "fs": 30.0}, tmp_path / "e.json", per_cell={"gain": [1.0]})
