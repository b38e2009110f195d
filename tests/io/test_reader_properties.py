"""Property-based: random bytes, shapes, dtypes and sidecars given to the readers.

Whatever they are given, the opener, ``load_tuning_data`` and the loaders either
read it or raise an error of the family (or ``ValueError``, ``TypeError``,
``FileNotFoundError``) naming what was wrong: never another exception class.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import calab  # noqa: E402
from calab.errors import CalabError  # noqa: E402

ALLOWED = (CalabError, ValueError, TypeError, FileNotFoundError)
pytestmark = pytest.mark.filterwarnings(
    "ignore:The data type .* does not have a Zarr V3 specification")
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

DTYPES = st.one_of(
    hnp.boolean_dtypes(), hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(), hnp.complex_number_dtypes(), hnp.datetime64_dtypes(),
    hnp.byte_string_dtypes(max_len=4), hnp.unicode_string_dtypes(max_len=4),
)
ARRAYS = hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
SUFFIXES = st.sampled_from([".npy", ".npz", ".h5", ".hdf5", ".nwb", ".txt", "_metadata.json"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                              max_size=3),
    max_leaves=8,
)


def _read_all(path: Path, **kwargs: object) -> None:
    """Open and read everything, accepting only the allowed error classes."""
    try:
        recording = calab.open_recording(path, **kwargs)
        values = recording.read()
        assert values.shape[-1] == recording.n_timepoints
    except ALLOWED:
        pass


@SETTINGS
@given(data=st.binary(max_size=2048), suffix=SUFFIXES)
def test_random_bytes_under_any_name(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"rec{suffix}"
        path.write_bytes(data)
        _read_all(path)
        for loader in (calab.load_caiman, calab.load_nwb, calab.load_tuning_data):
            with contextlib.suppress(ALLOWED):
                loader(path)


@SETTINGS
@given(array=ARRAYS, fs=st.one_of(st.none(), st.floats(allow_nan=True), st.integers()))
def test_random_arrays_as_npy_npz_and_zarr(array, fs):
    import zarr

    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "a.npy", array, allow_pickle=True)
        np.savez(Path(folder) / "b.npz", traces=array)
        _read_all(Path(folder) / "a.npy", fs=fs)
        _read_all(Path(folder) / "b.npz", fs=fs)
        try:
            zarr.create_array(str(Path(folder) / "c.zarr"), data=array)
        except Exception:  # zarr cannot store every dtype; not what is tested here
            return
        _read_all(Path(folder) / "c.zarr", fs=fs)


@SETTINGS
@given(array=ARRAYS, sidecar=JSON_VALUES)
def test_load_tuning_data_with_random_array_and_sidecar(array, sidecar):
    with tempfile.TemporaryDirectory() as folder:
        stem = Path(folder) / "rec"
        np.save(f"{stem}.npy", array, allow_pickle=True)
        Path(f"{stem}_metadata.json").write_text(json.dumps(sidecar))
        try:
            traces, meta = calab.load_tuning_data(stem)
        except ALLOWED:
            pass
        else:
            assert traces.ndim == 2 and np.isfinite(traces).all()
            assert meta["sampling_rate_hz"] > 0
        _read_all(stem)


@SETTINGS
@given(f=ARRAYS, iscell=ARRAYS, ops=st.one_of(JSON_VALUES, st.binary(max_size=64)))
def test_suite2p_with_random_files(f, iscell, ops):
    with tempfile.TemporaryDirectory() as folder:
        plane = Path(folder)
        np.save(plane / "F.npy", f, allow_pickle=True)
        np.save(plane / "Fneu.npy", f, allow_pickle=True)
        np.save(plane / "iscell.npy", iscell, allow_pickle=True)
        if isinstance(ops, bytes):
            (plane / "ops.npy").write_bytes(ops)
        else:
            np.save(plane / "ops.npy", np.array({"fs": ops}, dtype=object), allow_pickle=True)
        for kwargs in ({}, {"fs": 10.0}, {"only_cells": False, "neuropil_coefficient": 0.0}):
            try:
                traces, _ = calab.load_suite2p(plane, **kwargs)
                assert traces.ndim == 2
            except ALLOWED:
                pass


@SETTINGS
@given(array=ARRAYS, dims=st.lists(st.sampled_from(["frame", "unit_id", "x"]), max_size=3))
def test_minian_with_random_variables(array, dims):
    import zarr

    with tempfile.TemporaryDirectory() as folder:
        try:
            group = zarr.open_group(str(Path(folder) / "C.zarr"), mode="w", zarr_format=2)
            stored = group.create_array("C", data=array)
            stored.attrs["_ARRAY_DIMENSIONS"] = dims
        except Exception:  # zarr cannot store every dtype; not what is tested here
            return
        for path in (Path(folder), Path(folder) / "C.zarr"):
            try:
                traces, _ = calab.load_minian(path)
                assert traces.ndim == 2
            except ALLOWED:
                pass
            _read_all(path)


@SETTINGS
@given(array=ARRAYS, key=st.sampled_from(["estimates/C", "traces", "x/y"]),
       fr=st.one_of(st.floats(), st.text(max_size=3)))
def test_hdf5_and_caiman_with_random_datasets(array, key, fr):
    import h5py

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.hdf5"
        try:
            with h5py.File(path, "w") as handle:
                handle.create_dataset(key, data=array)
                handle.create_dataset("params/data/fr", data=fr)
        except Exception:  # h5py cannot store every dtype; not what is tested here
            return
        _read_all(path)
        try:
            traces, _ = calab.load_caiman(path)
            assert traces.ndim == 2
        except ALLOWED:
            pass
