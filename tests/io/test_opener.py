"""open_recording: one opener and one format detector for every supported input."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
import zarr
from test_loaders_common import write_caiman, write_minian_variable, write_nwb, write_suite2p

import calab
from calab.errors import (
    CalabError,
    InvalidParameterError,
    RecordingNotFoundError,
    UnsupportedRecordingError,
)
from calab.io.opener import detect_format, open_recording
from calab.io.tuning import save_for_tuning

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def traces(rng):
    return rng.normal(10.0, 1.0, size=(3, 120))


def test_plain_npy_needs_fs_from_the_caller(tmp_path, traces):
    path = tmp_path / "rec.npy"
    np.save(path, traces)
    recording = open_recording(path)
    np.testing.assert_array_equal(recording.read(), traces)
    assert recording.format == "npy" and recording.fs is None and recording.file_fs is None
    assert open_recording(tmp_path / "rec", fs=20.0).fs == 20.0  # a stem finds rec.npy
    one = open_recording(_save(tmp_path / "one.npy", traces[0]))
    assert one.one_trace and one.shape == (1, 120) and one.read().ndim == 1


def test_tuning_stem_npy_or_sidecar_gives_the_sidecar_rate(tmp_path, traces):
    stem = tmp_path / "tuned"
    save_for_tuning(traces, 25.0, stem, metadata={"animal": "m7"})
    for given in (stem, tmp_path / "tuned.npy", tmp_path / "tuned_metadata.json"):
        recording = open_recording(given)
        np.testing.assert_array_equal(recording.read(), traces)
        assert recording.format == "tuning" and recording.fs == 25.0
        assert recording.extras["animal"] == "m7"
    assert open_recording(stem, fs=25.0).fs == 25.0


def test_fs_disagreeing_with_the_file_names_both(tmp_path, traces):
    stem = tmp_path / "tuned"
    save_for_tuning(traces, 25.0, stem)
    with pytest.raises(InvalidParameterError, match=r"fs=50.0 Hz .* 25.0 Hz .*tuned") as info:
        open_recording(stem, fs=50.0)
    assert info.value.argument == "fs"
    nwb = write_nwb(tmp_path / "rec.nwb", traces, rate=30.0)
    with pytest.raises(ValueError, match=r"fs=20.0 Hz .* 30.0 Hz"):
        open_recording(nwb, fs=20.0)


def test_pipeline_formats_are_detected_and_read_lazily(tmp_path, traces):
    caiman = write_caiman(tmp_path / "cm.hdf5", traces, traces * 0.1, fr=30.0)
    minian = tmp_path / "minian"
    minian.mkdir()
    write_minian_variable(minian, "C", traces)
    write_minian_variable(minian, "S", traces * 2)
    plane = write_suite2p(tmp_path / "s2p" / "plane0", traces, traces * 0, np.ones((3, 2)))
    nwb = write_nwb(tmp_path / "rec.nwb", traces, rate=30.0)
    expected = {caiman: "caiman", minian: "minian", minian / "C.zarr": "minian",
                plane: "suite2p", nwb: "nwb"}
    for path, fmt in expected.items():
        assert detect_format(path) == fmt
        recording = open_recording(path, fs=30.0)
        assert recording.format == fmt and recording.fs == 30.0 and recording.shape == (3, 120)
        np.testing.assert_allclose(recording.read(), traces, rtol=1e-6)
        again = pickle.loads(pickle.dumps(recording))  # file-backed: ships to workers
        np.testing.assert_allclose(again[1:3, 10:20], traces[1:3, 10:20], rtol=1e-6)
    np.testing.assert_allclose(open_recording(minian, dataset="S").read(), traces * 2)
    np.testing.assert_allclose(open_recording(caiman, dataset="estimates/YrA").read(),
                               traces * 0.1)
    assert open_recording(minian).cell_ids == [1, 4, 7]


def test_minian_c_zarr_opens_for_every_command(tmp_path, traces):
    # `calab tune minian/C.zarr` refused a store `calab deconvolve` read: one opener now
    write_minian_variable(tmp_path, "C", traces, zarr_format=2)
    recording = open_recording(tmp_path / "C.zarr")
    assert recording.format == "minian" and recording.dataset == "C"
    np.testing.assert_allclose(recording[0], traces[0], rtol=1e-6)


def test_generic_zarr_and_hdf5_with_dataset_and_stored_rate(tmp_path, traces):
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", attributes={"fs": 15.0})
    group.create_array("traces", data=traces.astype(np.float32), chunks=(2, 120))
    group.create_array("other", data=np.zeros((2, 5), dtype=np.float32))
    recording = open_recording(tmp_path / "g.zarr")
    assert recording.format == "zarr" and recording.dataset == "traces"
    assert recording.fs == 15.0 and recording.traces.chunks == (2, 120)
    assert open_recording(tmp_path / "g.zarr", dataset="other").shape == (2, 5)
    with pytest.raises(KeyError, match=r"dataset='nope'.*available arrays: \['other', 'traces'\]"):
        open_recording(tmp_path / "g.zarr", dataset="nope")
    with h5py.File(tmp_path / "plain.h5", "w") as handle:
        handle.create_dataset("a/b", data=traces)
        handle["a/b"].attrs["sampling_rate_hz"] = 12.5
    recording = open_recording(tmp_path / "plain.h5")
    assert (recording.format, recording.dataset, recording.fs) == ("hdf5", "a/b", 12.5)
    np.testing.assert_array_equal(recording[:, 5:9], traces[:, 5:9])


def test_npz_member(tmp_path, traces):
    np.savez(tmp_path / "r.npz", traces=traces, other=np.zeros(3))
    recording = open_recording(tmp_path / "r.npz")
    assert recording.format == "npz" and recording.dataset == "traces"
    np.testing.assert_array_equal(recording[[2, 0]], traces[[2, 0]])


def test_indexing_matches_numpy(tmp_path, rng):
    data = rng.normal(size=(9, 40))
    recording = open_recording(_save(tmp_path / "r.npy", data))
    for key in [(slice(None), slice(None)), 3, -1, (2, 5), (slice(1, 8, 3), slice(5, 30, 4)),
                ([4, 1, 4], slice(None)), (slice(None), [3, 0, 39]), Ellipsis,
                (Ellipsis, 7), (np.arange(9) % 2 == 0,), (slice(None, None, -1), -2)]:
        np.testing.assert_array_equal(recording[key], data[key])
    with pytest.raises(IndexError):
        recording[9]


def test_bad_inputs_are_clear_errors(tmp_path, traces):
    with pytest.raises(RecordingNotFoundError, match="nothing-here"):
        open_recording(tmp_path / "nothing-here")
    odd = tmp_path / "notes.txt"
    odd.write_text("x")
    with pytest.raises(UnsupportedRecordingError, match="cannot tell the format"):
        open_recording(odd)
    with pytest.raises(ValueError, match="format='tiff'"):
        open_recording(odd, format="tiff")
    path = _save(tmp_path / "rec.npy", traces)
    with pytest.raises(ValueError, match="dataset='C'"):
        open_recording(path, dataset="C")
    with pytest.raises(ValueError, match="3-D"):
        open_recording(_save(tmp_path / "cube.npy", np.zeros((2, 3, 4))))
    with pytest.raises(ValueError, match="fs"):
        open_recording(path, fs=0)
    with pytest.raises(TypeError, match="input must be a path"):
        open_recording(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="storage_options apply to fsspec URLs"):
        open_recording(path, storage_options={"anon": True})
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnsupportedRecordingError, match="is a folder but"):
        open_recording(tmp_path / "empty")


def test_symlink_loop_and_long_name_name_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(CalabError, match=r"input='loop' .*loop of symbolic links") as info:
        open_recording("loop")
    assert isinstance(info.value, FileNotFoundError) and str(tmp_path) not in str(info.value)
    long_name = "x" * 256
    with pytest.raises(ValueError, match=r"too long \(256 characters") as info:
        open_recording(long_name)
    assert str(tmp_path) not in str(info.value)


def test_fsspec_url_with_storage_options(traces):
    fsspec = pytest.importorskip("fsspec")
    url = "memory://calab-opener-test/rec.zarr"
    zarr.create_array(store=url, data=traces.astype(np.float32), chunks=(1, 120),
                      attributes={"sampling_rate_hz": 30.0}, overwrite=True)
    try:
        recording = open_recording(url, storage_options={})
        assert recording.format == "zarr" and recording.fs == 30.0
        np.testing.assert_allclose(recording[2], traces[2], rtol=1e-6)
    finally:
        fsspec.filesystem("memory").rm("/calab-opener-test", recursive=True)


def test_public_api_exports_the_opener():
    assert calab.open_recording is open_recording and "open_recording" in calab.__all__


def _save(path, array):
    np.save(path, array)
    return path
