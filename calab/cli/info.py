"""``calab info FILE``: describe a trace array, tuning data, an export JSON or a zarr store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from calab.io import read_json_object, to_json_value
from calab.io.arrays import npy_refusal
from calab.io.paths import SIDECAR_SUFFIX
from calab.io.tuning import BUILTIN_KEYS, check_sidecar, tuning_paths
from calab.io.zarr_store import has_zarr_metadata

STATS_CHUNK = 1 << 22  # elements per pass when scanning a (memory-mapped) array
MAX_KERNEL_TAPS = 10_000_000  # skip the derived kernel figures beyond this
KNOWN_KINDS = (
    "a .npy array, a tuning-data stem (<stem>.npy + <stem>_metadata.json), "
    "a CaTune export .json, a .zarr store or any recording calab opens "
    "(.npz, HDF5, CaImAn, Minian, suite2p, NWB)"
)


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def info(file: Path, as_json: bool) -> None:
    """Describe FILE: a .npy array, tuning data, a CaTune export JSON, a .zarr store or
    any other recording calab opens (.npz, HDF5, CaImAn, Minian, suite2p, NWB).

    For arrays: shape, dtype, size, min/max, NaN count and memory order. For
    tuning data also the sidecar's sampling rate and keys. For an export: the
    parameters and the kernel's peak time and FWHM. For zarr: every array's
    shape, chunks and dtype.
    """
    description = describe(file)
    if as_json:
        click.echo(json.dumps(description, indent=2, default=to_json_value))
    else:
        click.echo("\n".join(_text_lines(description)))


def describe(path: Path) -> dict[str, Any]:
    """Pick the kind of ``path`` and describe it as a JSON-ready dict."""
    if path.is_dir() and has_zarr_metadata(path):
        return describe_zarr(path)
    npy_path, json_path = tuning_paths(path)
    is_tuning_name = path.name.endswith((".npy", SIDECAR_SUFFIX)) or not path.exists()
    if is_tuning_name and npy_path.is_file() and json_path.is_file():
        return describe_tuning(npy_path, json_path)
    if path.suffix == ".npy" and path.is_file():
        return {"kind": "npy", "path": str(path), **describe_npy(path)}
    if path.suffix == ".json" and path.is_file():
        return describe_export(path)
    return describe_recording(path)


def describe_recording(path: Path) -> dict[str, Any]:
    """Shape, type, rate and cell ids of any other recording :func:`open_recording` reads."""
    from calab.errors import CalabError, UnsupportedRecordingError
    from calab.io.opener import open_recording

    try:
        recording = open_recording(path)
    except UnsupportedRecordingError as err:
        if "cannot tell the format" in str(err):
            raise _bad_file(f"{path} is of an unknown kind; calab info describes "
                            f"{KNOWN_KINDS}") from None
        if path.is_dir():
            raise _bad_file(f"{path} is a folder; calab info describes {KNOWN_KINDS}") from None
        raise _bad_file(str(err)) from None
    except (CalabError, OSError) as err:
        raise _bad_file(str(err)) from None
    ids = recording.cell_ids
    return {
        "kind": recording.format,
        "path": str(path),
        "dataset": recording.dataset,
        "shape": list(recording.shape),
        "dtype": recording.dtype.str,
        "n_cells": recording.n_cells,
        "n_timepoints": recording.n_timepoints,
        "sampling_rate_hz": recording.file_fs,
        "duration_s": None if recording.file_fs is None else
        recording.n_timepoints / recording.file_fs,
        "cell_ids": None if ids is None else ids[:20] + (["..."] if len(ids) > 20 else []),
    }


def _bad_file(message: str) -> click.BadParameter:
    return click.BadParameter(message, param_hint="'FILE'")


def describe_npy(path: Path) -> dict[str, Any]:
    """Shape, dtype, sizes, memory order and value statistics of a ``.npy`` file."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        detail = npy_refusal() if "allow_pickle" in str(err) else str(err)
        raise _bad_file(f"{path} is not a readable .npy array: {detail}") from None
    order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    result: dict[str, Any] = {
        "shape": list(array.shape),
        "dtype": array.dtype.str,
        "order": order,
        "size": int(array.size),
        "nbytes": int(array.nbytes),
        "file_bytes": path.stat().st_size,
    }
    if array.ndim == 2:
        result["n_cells"], result["n_timepoints"] = (int(n) for n in array.shape)
        if array.shape[0] > array.shape[1]:
            result["note"] = "more rows than columns: calab expects (n_cells, n_timepoints)"
    result.update(_value_stats(array))
    return result


def describe_tuning(npy_path: Path, json_path: Path) -> dict[str, Any]:
    """The array description plus the sidecar's sampling rate, keys and consistency."""
    array = describe_npy(npy_path)
    try:
        metadata = read_json_object(json_path, "tuning metadata sidecar")
    except ValueError as err:
        raise _bad_file(str(err)) from None
    problems = []
    try:
        check_sidecar(metadata, tuple(array["shape"]), np.dtype(array["dtype"]), json_path)
    except ValueError as err:
        problems.append(str(err))
    fs = metadata.get("sampling_rate_hz")
    duration = None
    if isinstance(fs, int | float) and fs > 0 and len(array["shape"]) == 2:
        duration = array["shape"][1] / fs
    return {
        "kind": "tuning_data",
        "path": str(npy_path)[: -len(".npy")],
        "npy": str(npy_path),
        "sidecar": str(json_path),
        "sampling_rate_hz": fs,
        "duration_s": duration,
        "schema_version": metadata.get("schema_version"),
        "sidecar_keys": list(metadata),
        "user_metadata": {k: v for k, v in metadata.items() if k not in BUILTIN_KEYS},
        "problems": problems,
        "array": array,
    }


def describe_export(path: Path) -> dict[str, Any]:
    """Parameters of a CaTune export and the figures of the kernel they define."""
    from calab.io.export import normalize_params

    try:
        document = read_json_object(path, "CaTune export")
        if "parameters" not in document and "schema_version" not in document:
            raise ValueError(f"{path} holds JSON but not a CaTune export (no 'parameters')")
        params = normalize_params(document, source=str(path))
    except (KeyError, TypeError, ValueError) as err:
        raise _bad_file(f"{err}\n(calab info describes {KNOWN_KINDS})") from None
    return {
        "kind": "export",
        "path": str(path),
        "schema_version": document.get("schema_version"),
        "catune_version": document.get("catune_version"),
        "export_date": document.get("export_date"),
        "parameters": params,
        "kernel": kernel_figures(params["tau_rise"], params["tau_decay"], params["fs"]),
        "metadata": document.get("metadata", {}),
    }


def kernel_figures(tau_rise: float, tau_decay: float, fs: float) -> dict[str, Any]:
    """Length, gain ``G``, sampled peak time and FWHM (ms) of the kernel."""
    from calab.core.kernel import build_kernel, kernel_length

    taps = kernel_length(tau_decay, fs)
    if taps > MAX_KERNEL_TAPS:
        return {"length": taps, "note": "kernel too long to summarise"}
    kernel = build_kernel(tau_rise, tau_decay, fs)
    peak = int(np.argmax(kernel))
    return {
        "length": taps,
        "gain_G": float(kernel.sum()),
        "peak_time_ms": 1000.0 * peak / fs,
        "fwhm_ms": 1000.0 * _half_max_width(kernel, peak) / fs,
    }


def describe_zarr(path: Path) -> dict[str, Any]:
    """Every array of a zarr store (or the store's single array)."""
    from calab.io.zarr_store import describe_store

    try:
        return describe_store(path)
    except (ValueError, OSError) as err:
        raise _bad_file(str(err)) from None


def _value_stats(array: np.ndarray) -> dict[str, Any]:
    """min/max (ignoring NaN) and NaN/inf counts, scanning in bounded chunks."""
    if array.dtype.kind not in "biuf" or array.size == 0:
        return {"min": None, "max": None, "nan_count": 0, "inf_count": 0}
    flat = array.reshape(-1, order="A")
    lows, highs, nans, infs = [], [], 0, 0
    for start in range(0, flat.size, STATS_CHUNK):
        chunk = np.asarray(flat[start : start + STATS_CHUNK])
        if chunk.dtype.kind == "b":
            chunk = chunk.astype(np.int8)
        lows.append(np.fmin.reduce(chunk))
        highs.append(np.fmax.reduce(chunk))
        if chunk.dtype.kind == "f":
            nans += int(np.isnan(chunk).sum())
            infs += int(np.isinf(chunk).sum())
    low, high = np.fmin.reduce(np.array(lows)).item(), np.fmax.reduce(np.array(highs)).item()
    return {
        "min": None if low != low else low,  # NaN when every value is NaN
        "max": None if high != high else high,
        "nan_count": nans,
        "inf_count": infs,
    }


def _half_max_width(kernel: np.ndarray, peak: int) -> float:
    """Width in samples at half maximum, linearly interpolated on both flanks."""
    half = 0.5 * kernel[peak]
    below_left = np.flatnonzero(kernel[:peak] < half)
    below_right = np.flatnonzero(kernel[peak:] < half)
    left = float(peak)
    if below_left.size:
        i = int(below_left[-1])
        left = i + (half - kernel[i]) / (kernel[i + 1] - kernel[i])
    right = float(len(kernel) - 1)
    if below_right.size:
        j = peak + int(below_right[0])
        right = j - 1 + (kernel[j - 1] - half) / (kernel[j - 1] - kernel[j])
    return right - left


def _text_lines(value: dict[str, Any], indent: str = "") -> list[str]:
    lines = []
    for key, item in value.items():
        if isinstance(item, dict) and item:
            lines.append(f"{indent}{key}:")
            lines.extend(_text_lines(item, indent + "  "))
        elif isinstance(item, list) and all(isinstance(v, str) for v in item):
            lines.append(f"{indent}{key}: {', '.join(item) if item else '-'}")
        else:
            lines.append(f"{indent}{key}: {_text_value(item)}")
    return lines


def _text_value(item: Any) -> str:
    if isinstance(item, list):
        return str(tuple(item))
    if isinstance(item, float):
        return str(float(f"{item:.6g}"))
    if item is None or item == {}:
        return "-"
    return str(item)
