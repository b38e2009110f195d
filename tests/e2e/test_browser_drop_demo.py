"""Dropped files (sampling-rate presets, validation summary) and the demo data, in Chromium."""

from __future__ import annotations

import numpy as np
import pytest
from browser_support import wait_all_fresh
from feature_support import BROWSER_MARKS, opened_app, synthetic_traces

pytestmark = BROWSER_MARKS

# JS: pixels of (roughly) the ground-truth green in a card's activity canvas.
TRUTH_PIXELS_JS = """(index) => {
  const card = document.querySelectorAll('[data-testid=cell-card]')[index];
  const canvas = card.querySelector('.chart-activity canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - 0x2f) < 30 && Math.abs(data[i + 1] - 0x9e) < 30
        && Math.abs(data[i + 2] - 0x44) < 30 && data[i + 3] > 100) n += 1;
  }
  return n;
}"""


@pytest.fixture
def empty_app(browser):
    with opened_app(browser, None, ready="body[data-ready=true]") as page_and_run:
        yield page_and_run


def test_drop_presets_and_validation_summary(empty_app, tmp_path):
    page, run = empty_app
    recording = synthetic_traces(41, n_cells=5, seconds=40.0, fs=15.0)
    recording[1, 10:13] = np.nan
    recording[3, 50] = np.inf
    recording[4, :] = np.nan
    path = tmp_path / "gappy.npy"
    np.save(path, recording.T)  # time-first: the dialog suggests transposing
    page.set_input_files("[data-testid=file-input]", str(path))
    page.wait_for_selector("[data-testid=drop-dialog][open]")
    page.wait_for_selector("[data-testid=drop-summary][data-state=ready]")
    summary = page.text_content("[data-testid=drop-summary]")
    assert "5 cells × 600 time points" in summary
    assert "NaN: 603, Inf: 1 in 3 of 5 cells (1 without any finite value)" in summary
    cells = page.eval_on_selector_all(
        "[data-testid=drop-summary-cell]", "rows => rows.map(r => [r.dataset.cell, r.textContent])")
    assert [c for c, _ in cells] == ["1", "3", "4"]
    assert "3 missing samples bridged" in cells[0][1] and "skipped" in cells[2][1]

    assert page.input_value("[data-testid=fs-preset]") == "30"
    page.select_option("[data-testid=fs-preset]", "15")
    assert page.input_value("[data-testid=drop-fs]") == "15"
    assert page.text_content("#drop-dims").endswith("(40.0 s)")
    page.fill("[data-testid=drop-fs]", "12.5")
    assert page.input_value("[data-testid=fs-preset]") == "custom"
    page.select_option("[data-testid=fs-preset]", "15")

    page.check("input[name=layout][value=cells]")  # the wrong way round: summary follows
    page.wait_for_function("() => document.querySelector('[data-testid=drop-summary]')"
                           ".textContent.includes('600 cells × 5 time points')")
    page.check("input[name=layout][value=time]")
    page.click("[data-testid=drop-confirm]")
    wait_all_fresh(page, 120_000)
    assert run.session.dataset.fs == 15.0
    assert sorted(map(int, page.eval_on_selector_all(
        "[data-testid=cell-card]", "cs => cs.map(c => c.dataset.cellIndex)"))) == [0, 1, 2, 3]


def test_demo_data_with_ground_truth(empty_app):
    page, run = empty_app
    page.click("[data-testid=demo-load]")
    wait_all_fresh(page, 120_000)
    assert run.session.dataset.subset.source.startswith("demo:")
    assert "demo: 24 simulated gcamp6f cells" in page.text_content("[data-testid=dataset-info]")
    page.wait_for_selector("[data-testid=true-kernel]:visible")
    assert "rise 50 ms, decay 400 ms" in page.text_content("[data-testid=true-kernel]")
    page.wait_for_function(f"() => ({TRUTH_PIXELS_JS})(0) > 20")  # true spikes under the card
    page.select_option("[data-testid=param-mode]", "peak-fwhm")
    page.select_option("[data-testid=param-mode]", "rise-decay")
