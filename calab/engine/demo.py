"""The zarr side of ``calab demo``: a simulated recording on disk, and its score.

The simulator runs in batches of cells so that memory stays bounded by the
batch, not the recording, like the deconvolution that follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calab.core.metrics import spike_correlation
from calab.core.simulate import simulate

TRACES, SPIKES = "traces", "spikes"
SIM_BATCH_CELLS = 250


@dataclass(frozen=True)
class SimulatedRecording:
    """What was written: where, its size and the kinetics to deconvolve with."""

    path: Path
    n_cells: int
    n_timepoints: int
    fs: float
    tau_rise: float
    tau_decay: float
    noise_std: float


def write_simulated_recording(
    path: str | Path, *, n_cells: int, duration_s: float, fs: float, indicator: str = "gcamp6f",
    seed: int = 0, chunk_cells: int = SIM_BATCH_CELLS,
) -> SimulatedRecording:
    """Simulate a recording into a zarr group (``traces`` float32, ``spikes`` uint8).

    Parameters
    ----------
    path : str or pathlib.Path
        Zarr group to create (overwritten if present).
    n_cells, duration_s, fs : int, float, float
        Size of the recording: cells, seconds, Hz.
    indicator : str
        A key of :data:`calab.INDICATOR_PRESETS`.
    seed : int
        Seed of the first batch; batch ``k`` uses ``seed + k``.
    chunk_cells : int
        Cells per simulated batch and per zarr chunk.

    Returns
    -------
    SimulatedRecording

    Examples
    --------
    >>> rec = write_simulated_recording("sim.zarr", n_cells=4, duration_s=10.0, fs=30.0)
    >>> rec.n_cells, rec.n_timepoints
    (4, 300)
    """
    import zarr

    if isinstance(n_cells, bool) or not isinstance(n_cells, int) or n_cells < 1:
        raise ValueError(f"n_cells={n_cells!r} must be an integer >= 1")
    first = simulate(num_cells=min(chunk_cells, n_cells), duration_s=duration_s, fs=fs,
                     indicator=indicator, seed=seed)
    n_time = first.traces.shape[1]
    group = zarr.open_group(store=str(path), mode="w", attributes={
        "fs": fs, "indicator": indicator, "tau_rise": first.tau_rise,
        "tau_decay": first.tau_decay, "noise_std": first.noise_std, "seed": seed,
    })
    rows = min(chunk_cells, n_cells)
    traces = group.create_array(TRACES, shape=(n_cells, n_time), chunks=(rows, n_time),
                                dtype="float32", dimension_names=("cell", "time"))
    spikes = group.create_array(SPIKES, shape=(n_cells, n_time), chunks=(rows, n_time),
                                dtype="uint8", dimension_names=("cell", "time"))
    sim = first
    for batch, start in enumerate(range(0, n_cells, rows)):
        stop = min(start + rows, n_cells)
        if batch:
            sim = simulate(num_cells=stop - start, duration_s=duration_s, fs=fs,
                           indicator=indicator, seed=seed + batch)
        traces[start:stop] = sim.traces.astype(np.float32)
        spikes[start:stop] = np.minimum(sim.spikes, 255).astype(np.uint8)
    return SimulatedRecording(Path(path), n_cells, n_time, float(fs), first.tau_rise,
                              first.tau_decay, first.noise_std)


def score_against_truth(recording: str | Path, output: str | Path, fs: float,
                        batch_cells: int = SIM_BATCH_CELLS) -> np.ndarray:
    """Per-cell correlation of deconvolved activity with the true spikes.

    Reads ``output/activity`` and ``recording/spikes`` batch by batch and
    applies :func:`calab.core.metrics.spike_correlation` (Gaussian smoothing
    of 0.1 s). Returns ``(n_cells,)`` correlations (NaN for silent cells).
    """
    import zarr

    activity = zarr.open_array(store=str(output), path="activity", mode="r")
    spikes = zarr.open_array(store=str(recording), path=SPIKES, mode="r")
    scores = []
    for start in range(0, activity.shape[0], batch_cells):
        stop = min(start + batch_cells, activity.shape[0])
        scores.append(spike_correlation(np.asarray(activity[start:stop]),
                                        np.asarray(spikes[start:stop]), fs))
    return np.concatenate(scores)


def suggest_for_recording(recording: str | Path, fs: float) -> dict:
    """:func:`calab.suggest_params` on the ``traces`` of a simulated recording (read lazily)."""
    import zarr

    from calab.core.suggest import suggest_params

    traces = zarr.open_array(store=str(recording), path=TRACES, mode="r")
    return suggest_params(traces, fs)
