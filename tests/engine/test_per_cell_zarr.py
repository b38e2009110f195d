"""Per-cell parameters out of core: each block solves its own cells' values."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import FS, LAM, TAU_D, TAU_R

import calab
from calab.engine import deconvolve_zarr
from calab.errors import InvalidParameterError


def test_per_cell_params_in_deconvolve_zarr(recording, tmp_path, dask_client):
    import zarr

    store, data = recording
    n_cells = data.shape[0]
    tau_decay = [TAU_D if cell % 3 else 0.6 for cell in range(n_cells)]
    lam = [LAM if cell % 2 else 2 * LAM for cell in range(n_cells)]
    params = {"tau_rise": TAU_R, "tau_decay": tau_decay, "lambda_": lam, "fs": FS}
    summary = deconvolve_zarr(store, tmp_path / "out.zarr", params, client=dask_client,
                              chunk_cells=8)
    assert summary["blocks_computed"] == 3
    got = zarr.open_array(str(tmp_path / "out.zarr"), path="activity", mode="r")[:]
    expected = np.concatenate([  # the in-memory API on the same blocks of cells
        calab.run_deconvolution(data[start : start + 8].astype(np.float64), FS, TAU_R,
                                tau_decay[start : start + 8], lam[start : start + 8])
        for start in range(0, n_cells, 8)])
    np.testing.assert_allclose(got, expected.astype(np.float32), rtol=2e-6, atol=1e-7)
    cell = 3  # tau_decay 0.6, lam 2*LAM: differs from a run with the scalars
    scalar = calab.run_deconvolution(data[cell].astype(np.float64), FS, TAU_R, TAU_D, LAM)
    assert not np.allclose(got[cell], scalar, atol=1e-3)


def test_per_cell_params_of_the_wrong_length_are_refused_before_any_block(recording, tmp_path):
    store, _data = recording
    params = {"tau_rise": TAU_R, "tau_decay": [TAU_D] * 5, "lambda_": LAM, "fs": FS}
    with pytest.raises(InvalidParameterError, match="5 values but the recording has 24 cells"):
        deconvolve_zarr(store, tmp_path / "out.zarr", params)
    assert not (tmp_path / "out.zarr").exists()
