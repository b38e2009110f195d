"""Writers of real pipeline files (used by the loader, input and CLI tests) and shared checks.

Each writer lays files out as the pipeline itself saves them:
CaImAn's ``cnm.save`` HDF5 groups, Minian's xarray ``to_zarr`` stores, suite2p's
``.npy`` set with a pickled ``ops`` dict, and an NWB file written by pynwb.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import calab


def write_caiman(
    path: Path, C: np.ndarray, YrA: np.ndarray, fr: float | None = 30.0, idx=None
) -> Path:
    """A CaImAn ``cnm.save`` file: estimates/{C,YrA,S,idx_components}, params/data/fr."""
    import h5py

    with h5py.File(path, "w") as handle:
        estimates = handle.create_group("estimates")
        estimates["C"] = C
        estimates["YrA"] = YrA
        estimates["S"] = np.maximum(np.diff(C, axis=1, prepend=0), 0)
        # CaImAn writes None as the string 'NoneType'
        estimates["idx_components"] = "NoneType" if idx is None else np.asarray(idx)
        estimates["idx_components_bad"] = "NoneType"
        data = handle.create_group("params/data")
        data["fr"] = "NoneType" if fr is None else fr
        data["decay_time"] = 0.4
        data["dims"] = np.array([64, 64])
        handle["dims"] = np.array([64, 64])
    return path


def write_minian_variable(
    folder: Path, name: str, values: np.ndarray, *, zarr_format: int = 2, time_first=False
) -> Path:
    """One Minian variable store ``<name>.zarr`` as xarray's ``to_zarr`` lays it out."""
    import zarr

    unit_ids = np.arange(values.shape[0]) * 3 + 1
    frames = np.arange(values.shape[1])
    dims = ["unit_id", "frame"]
    if time_first:
        values, dims = values.T, dims[::-1]
    store = folder / f"{name}.zarr"
    group = zarr.open_group(str(store), mode="w", zarr_format=zarr_format)
    _xarray_array(group, name, values, dims, zarr_format)
    _xarray_array(group, "unit_id", unit_ids, ["unit_id"], zarr_format)
    _xarray_array(group, "frame", frames, ["frame"], zarr_format)
    if zarr_format == 2:  # xarray consolidates by default; zarr 3 warns for format 3
        zarr.consolidate_metadata(str(store), zarr_format=zarr_format)
    return store


def _xarray_array(group, name, values, dims, zarr_format):
    chunks = tuple(max(1, s // 2) for s in values.shape)
    if zarr_format == 2:
        array = group.create_array(name, shape=values.shape, dtype=values.dtype, chunks=chunks)
        array.attrs["_ARRAY_DIMENSIONS"] = dims
    else:
        array = group.create_array(
            name, shape=values.shape, dtype=values.dtype, chunks=chunks, dimension_names=dims
        )
    array[...] = values


def write_suite2p(
    folder: Path, F: np.ndarray, Fneu: np.ndarray, iscell: np.ndarray, fs: float | None = 30.0
) -> Path:
    """A suite2p plane folder: F.npy, Fneu.npy, iscell.npy, ops.npy (0-d object array)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "F.npy", F.astype(np.float32))
    np.save(folder / "Fneu.npy", Fneu.astype(np.float32))
    np.save(folder / "iscell.npy", iscell)
    ops = {"nframes": F.shape[1], "tau": 1.0, "Ly": 64, "Lx": 64}
    if fs is not None:
        ops["fs"] = fs
    np.save(folder / "ops.npy", ops, allow_pickle=True)
    return folder


def write_nwb(
    path: Path,
    fluorescence: np.ndarray,
    *,
    rate=30.0,
    dff=None,
    dff_timestamps=None,
    conversion=1.0,
    offset=0.0,
    subject=False,
):
    """An NWB file with ImagingPlane, PlaneSegmentation and RoiResponseSeries written by pynwb.

    ``fluorescence`` is ``(n_rois, T)``; it is stored time-first as NWB requires.
    ``subject=True`` adds the subject nwbinspector asks every file for.
    """
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel

    nwb = NWBFile(
        session_description="loader test",
        identifier="calab-test",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    if subject:
        nwb.subject = Subject(subject_id="m1", species="Mus musculus", sex="F", age="P90D")
    device = nwb.create_device(name="Microscope")
    channel = OpticalChannel(name="green", description="GCaMP", emission_lambda=520.0)
    plane = nwb.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=channel,
        description="L2/3",
        device=device,
        excitation_lambda=920.0,
        imaging_rate=float(rate or 30.0),
        indicator="GCaMP6f",
        location="V1",
    )
    ophys = nwb.create_processing_module(name="ophys", description="optical physiology")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    rois = segmentation.create_plane_segmentation(
        name="PlaneSegmentation", description="rois", imaging_plane=plane
    )
    n_rois = fluorescence.shape[0]
    for roi in range(n_rois):
        mask = np.zeros((8, 8))
        mask[roi % 8, roi // 8] = 1.0
        rois.add_roi(image_mask=mask, id=100 + roi)
    region = rois.create_roi_table_region(region=list(range(n_rois)), description="all rois")
    fluo = Fluorescence(name="Fluorescence")
    ophys.add(fluo)
    fluo.create_roi_response_series(
        name="RoiResponseSeries",
        data=fluorescence.T,
        rois=region,
        unit="a.u.",
        rate=rate,
        conversion=conversion,
        offset=offset,
    )
    if dff is not None:
        dff_container = DfOverF(name="DfOverF")
        ophys.add(dff_container)
        region2 = rois.create_roi_table_region(region=list(range(n_rois)), description="dff rois")
        dff_container.create_roi_response_series(
            name="dff", data=dff.T, rois=region2, unit="n.a.", timestamps=dff_timestamps
        )
    with NWBHDF5IO(str(path), mode="w") as io:
        io.write(nwb)
    return path


def test_loaders_are_public_api():
    for name in ("load_caiman", "load_minian", "load_suite2p", "load_nwb"):
        loader = getattr(calab, name)
        assert callable(loader)
        assert loader.__module__.startswith("calab.io.loaders")
        assert "Returns" in loader.__doc__ and "Examples" in loader.__doc__


@pytest.mark.parametrize(
    ("loader", "blocked", "extra"),
    [("load_caiman", "h5py", "calab[loaders]"), ("load_nwb", "pynwb", "calab[nwb]")],
)
def test_missing_extra_names_the_pip_extra(tmp_path, loader, blocked, extra):
    # A fresh interpreter where the optional package cannot be imported.
    target = tmp_path / "file.h5"
    target.write_bytes(b"")
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "import calab\n"
        "try:\n"
        f"    calab.{loader}({str(target)!r})\n"
        "except ImportError as error:\n"
        "    print('IMPORT-ERROR', error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "IMPORT-ERROR" in result.stdout
    assert f"pip install '{extra}'" in result.stdout


def test_loaders_import_no_heavy_readers():
    code = (
        "import sys, calab.io.loaders\n"
        "print(sorted(m for m in ('h5py', 'pynwb', 'dask', 'zarr') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("loader", ["load_caiman", "load_minian", "load_suite2p", "load_nwb"])
def test_wrong_path_is_file_not_found(tmp_path, loader):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        getattr(calab, loader)(missing)
