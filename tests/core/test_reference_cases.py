"""Acceptance on the reference recordings: our objective is no worse than calab 0.3.0's.

For each case in ../shared/reference, ``deconvolve_from_export`` with default
arguments must reach an objective (README of the cases) at least as low as the
reference's activity: median relative gap <= 0 and worst cell <= 2e-5.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import calab
from calab.core.metrics import objective
from tests.conftest import reference_cases

CASES = reference_cases()


@pytest.mark.skipif(not CASES, reason="../shared/reference is not present")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("conv_mode", ["fft", "banded"])
def test_objective_no_worse_than_reference(case, conv_mode):
    params = json.loads((case / "case.json").read_text())
    traces = np.load(case / "traces.npy")
    activity = calab.deconvolve_from_export(traces, case / "export.json", conv_mode=conv_mode)
    y = np.load(case / "anchor_preprocessed.npy").astype(np.float64)
    args = (y, params["tau_rise"], params["tau_decay"], params["fs"], params["lam"])
    ours = objective(activity, *args)
    theirs = objective(np.load(case / "anchor_activity.npy"), *args)
    gap = (ours - theirs) / np.abs(theirs)
    assert np.median(gap) <= 0.0
    assert gap.max() <= 2e-5


@pytest.mark.skipif(not CASES, reason="../shared/reference is not present")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_spike_correlation_matches_reference(case):
    """Same problem, same answer in substance: ground-truth correlation as good as theirs."""
    from calab.core.metrics import spike_correlation

    params = json.loads((case / "case.json").read_text())
    activity = calab.deconvolve_from_export(np.load(case / "traces.npy"), case / "export.json")
    ours = np.nanmean(spike_correlation(activity, np.load(case / "spikes.npy"), params["fs"]))
    theirs = np.nanmean(
        spike_correlation(np.load(case / "anchor_activity.npy"), np.load(case / "spikes.npy"),
                          params["fs"])
    )
    assert ours >= theirs - 0.01
