"""Bad files given to the readers: clear errors of the family, naming the file, nothing run."""

from __future__ import annotations

import numpy as np
import pytest
from test_loaders_common import write_suite2p

import calab
from calab.errors import CalabError, UnsupportedRecordingError


class _OpensAFile:
    """Unpickling this object creates a file: what a crafted ``ops.npy`` could do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_empty_npy_in_tuning_data_is_a_value_error_naming_it(tmp_path):
    calab.save_for_tuning(np.ones((2, 50)), 30.0, tmp_path / "rec")
    (tmp_path / "rec.npy").write_bytes(b"")
    with pytest.raises(ValueError, match=r"rec\.npy is not a readable numeric \.npy"):
        calab.load_tuning_data(tmp_path / "rec")
    with pytest.raises(ValueError, match=r"rec\.npy"):
        calab.open_recording(tmp_path / "rec")


def test_nan_tuning_data_is_refused_like_save_for_tuning_refuses_it(tmp_path):
    calab.save_for_tuning(np.ones((3, 50)), 30.0, tmp_path / "rec")
    values = np.ones((3, 50))
    values[1, 7] = np.nan
    values[2, 9] = np.inf
    np.save(tmp_path / "rec.npy", values)
    with pytest.raises(ValueError, match=r"rec\.npy holds 2 NaN/inf values \(cells \[1, 2\]\)"):
        calab.load_tuning_data(tmp_path / "rec")
    with pytest.raises(ValueError, match="NaN"):
        calab.save_for_tuning(values, 30.0, tmp_path / "again")


@pytest.mark.parametrize("loader", ["load_caiman", "load_nwb"])
def test_hdf5_loaders_on_a_folder_or_random_bytes(tmp_path, loader, rng):
    folder = tmp_path / "results.hdf5"
    folder.mkdir()
    with pytest.raises(UnsupportedRecordingError, match=r"results\.hdf5' is a folder"):
        getattr(calab, loader)(folder)
    junk = tmp_path / "junk.nwb"
    junk.write_bytes(rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedRecordingError, match=r"junk\.nwb' is not") as info:
        getattr(calab, loader)(junk)
    assert "Traceback" not in str(info.value) and len(str(info.value)) < 400


def test_minian_on_an_empty_folder_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="holds no zarr stores") as info:
        calab.load_minian(tmp_path)
    assert not isinstance(info.value, KeyError)


def test_suite2p_ops_fs_that_is_not_a_number(tmp_path, rng):
    F = rng.normal(size=(3, 40))
    folder = write_suite2p(tmp_path / "plane0", F, F, np.ones((3, 2)), fs=None)
    np.save(folder / "ops.npy", {"fs": "fast"}, allow_pickle=True)
    with pytest.raises(UnsupportedRecordingError, match=r"ops\.npy .* has fs='fast'"):
        calab.load_suite2p(folder)
    assert calab.load_suite2p(folder, fs=30.0)[1]["sampling_rate_hz"] == 30.0


def test_suite2p_never_runs_code_from_ops_npy(tmp_path, rng):
    F = rng.normal(size=(3, 40))
    folder = write_suite2p(tmp_path / "plane0", F, F, np.ones((3, 2)), fs=None)
    marker = tmp_path / "code-ran"
    np.save(folder / "ops.npy", np.array({"fs": _OpensAFile(str(marker))}), allow_pickle=True)
    traces, meta = calab.load_suite2p(folder, fs=30.0)  # with fs, ops.npy is not read
    assert traces.shape == (3, 40) and meta["sampling_rate_hz"] == 30.0
    assert not marker.exists()
    with pytest.raises(UnsupportedRecordingError, match=r"refusing to load the global .*open"):
        calab.load_suite2p(folder)  # without fs it is read, by a plain-data unpickler
    with pytest.raises(CalabError):
        calab.open_recording(folder, fs=30.0)
    assert not marker.exists()


def test_suite2p_plain_ops_still_give_the_rate(tmp_path, rng):
    F = rng.normal(size=(3, 40))
    folder = write_suite2p(tmp_path / "plane0", F, F, np.ones((3, 2)), fs=None)
    ops = {"fs": np.float64(12.5), "meanImg": np.zeros((4, 4)), "filelist": ["a.tif"],
           "nframes": np.int64(40), "save_path": str(folder)}
    np.save(folder / "ops.npy", ops, allow_pickle=True)
    assert calab.load_suite2p(folder)[1]["sampling_rate_hz"] == 12.5
    assert calab.open_recording(folder).fs == 12.5
