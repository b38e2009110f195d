"""Choosing representative cells and a time window (calab.core.subsample)."""

from __future__ import annotations

import numpy as np
import pytest

from calab.core.subsample import (
    candidate_rows,
    check_cell_indices,
    estimate_snr,
    spread_over_range,
    time_window,
)


def noisy_cells(rng, amplitudes, n_time=3000, noise=1.0):
    """Cells with sparse transients of the given amplitudes on unit Gaussian noise."""
    events = rng.random((len(amplitudes), n_time)) < 0.01
    kernel = np.exp(-np.arange(40) / 10.0)
    clean = np.array([np.convolve(e, kernel)[:n_time] for e in events.astype(float)])
    return np.asarray(amplitudes)[:, None] * clean + rng.normal(scale=noise, size=clean.shape)


def test_snr_ranks_cells_by_transient_amplitude(rng):
    amplitudes = [0.0, 4.0, 12.0, 40.0, 120.0]
    snr = estimate_snr(noisy_cells(rng, amplitudes))
    assert list(np.argsort(snr)) == [0, 1, 2, 3, 4]
    assert snr[0] < 3.5 < 20 < snr[-1]


def test_snr_does_not_depend_on_offset_or_scale(rng):
    cells = noisy_cells(rng, [2.0, 8.0])
    np.testing.assert_allclose(estimate_snr(100 + 7 * cells), estimate_snr(cells), rtol=1e-9)


def test_snr_of_flat_and_short_traces_is_zero():
    assert estimate_snr(np.ones((2, 100))).tolist() == [0.0, 0.0]
    assert estimate_snr(np.ones((3, 2))).tolist() == [0.0, 0.0, 0.0]


def test_spread_covers_the_whole_range(rng):
    scores = rng.random(500)
    chosen = spread_over_range(scores, 20)
    assert len(chosen) == 20 and np.all(np.diff(chosen) > 0)
    assert scores.argmin() in chosen and scores.argmax() in chosen
    # evenly spaced ranks: every quintile of the ranking is represented
    ranks = np.argsort(np.argsort(scores))[chosen]
    assert np.histogram(ranks, bins=5, range=(0, 500))[0].min() >= 3


def test_spread_returns_everything_when_small():
    assert spread_over_range(np.array([3.0, 1.0]), 64).tolist() == [0, 1]


@pytest.mark.parametrize(
    ("n_time", "fs", "minutes", "expected"),
    [(36000, 30.0, 10.0, (9000, 27000)), (1000, 30.0, 10.0, (0, 1000)),
     (18001, 30.0, 10.0, (0, 18000)), (100, 1.0, 0.5, (35, 65))],
)
def test_time_window_is_centred_and_bounded(n_time, fs, minutes, expected):
    assert time_window(n_time, fs, minutes) == expected


def test_time_window_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_minutes"):
        time_window(100, 30.0, 0)
    with pytest.raises(ValueError, match="fs"):
        time_window(100, -1.0, 1.0)


def test_candidate_rows_take_whole_chunks_spread_over_the_recording():
    rows = candidate_rows(10_000, 100, 1000)
    assert len(rows) == 1000
    chunks = np.unique(rows // 100)
    assert len(chunks) == 10 and chunks[0] == 0 and chunks[-1] == 99
    assert all(np.sum(rows // 100 == c) == 100 for c in chunks)


def test_candidate_rows_with_row_chunks_and_small_inputs():
    rows = candidate_rows(1000, 1, 50)
    assert len(rows) == 50 and rows[0] == 0 and rows[-1] == 999
    assert candidate_rows(30, 100, 64).tolist() == list(range(30))
    rows = candidate_rows(10_000, 5000, 300)  # two chunks: both surveyed
    assert len(rows) == 600 and rows.max() >= 5000
    assert len(np.unique(candidate_rows(100_000, 100, 100) // 100)) == 4


def test_check_cell_indices():
    assert check_cell_indices(np.array([9, 2, 2]), 10).tolist() == [2, 9]
    with pytest.raises(ValueError, match=r"cells=.*\[10\].*0\.\.9"):
        check_cell_indices([1, 10], 10)
    with pytest.raises(ValueError, match="non-empty"):
        check_cell_indices([], 10)
    with pytest.raises(ValueError, match="integer"):
        check_cell_indices([1.5], 10)
    with pytest.raises(ValueError, match=r"cells=\[True, 2\].*true/false"):
        check_cell_indices([True, 2], 10)
