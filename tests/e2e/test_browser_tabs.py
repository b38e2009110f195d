"""The spectrum and metrics tabs and the SNR tiers, in real headless Chromium."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from browser_support import set_number
from feature_support import BROWSER_MARKS, opened_app, synthetic_traces

from calab.core.preprocess import filter_cutoffs
from calab.server.bridge_session import load_dataset

pytestmark = BROWSER_MARKS


@pytest.fixture
def opened(browser):
    traces = synthetic_traces(31, n_cells=10, seconds=60.0)
    t = np.arange(traces.shape[1]) / 30.0
    traces[4] += 4.0 * np.sin(2 * np.pi * 3.0 * t)  # cell 4 has a 3 Hz line
    with opened_app(browser, load_dataset(traces, 30.0, max_cells=9)) as page_and_run:
        yield page_and_run


def metrics_rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "[data-testid=metrics-row]",
        "rows => rows.map(r => ({cell: Number(r.dataset.cellIndex), tier: r.dataset.snrTier,"
        " values: Object.fromEntries([...r.cells].map(c => [c.dataset.key, c.textContent]))}))")


def test_metrics_tab_lists_every_loaded_cell_sorts_and_downloads(opened, tmp_path):
    page, run = opened
    loaded = run.session.dataset.subset.cell_indices.tolist()
    page.click("[data-testid=tab-metrics]")
    page.wait_for_selector("[data-testid=metrics-table][data-state=fresh]")
    assert not page.is_visible("[data-testid=cell-card]")  # the cards' tab is hidden
    rows = metrics_rows(page)
    assert sorted(r["cell"] for r in rows) == sorted(loaded)  # one row per loaded cell
    snr = [float(r["values"]["snr"]) for r in rows]
    assert snr == sorted(snr, reverse=True)  # SNR, high to low, at first

    page.click("[data-testid=metrics-table] button[data-sort-key=cell_index]")
    assert [r["cell"] for r in metrics_rows(page)] == sorted(loaded)
    page.click("[data-testid=metrics-table] button[data-sort-key=cell_index]")
    assert [r["cell"] for r in metrics_rows(page)] == sorted(loaded, reverse=True)
    page.click("[data-testid=metrics-table] button[data-sort-key=sparsity]")
    before = {r["cell"]: float(r["values"]["sparsity"].rstrip(" %")) for r in metrics_rows(page)}

    version = int(page.get_attribute("[data-testid=metrics-table]", "data-version"))
    set_number(page, "lambda", "25")  # sparser: the table follows the parameters
    page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=metrics-table]').dataset.version)"
        f" > {version}")
    after = {r["cell"]: float(r["values"]["sparsity"].rstrip(" %")) for r in metrics_rows(page)}
    assert np.mean(list(after.values())) > np.mean(list(before.values()))

    with page.expect_download() as info:
        page.click("[data-testid=metrics-csv]")
    path = tmp_path / "metrics.csv"
    info.value.save_as(path)
    table = list(csv.DictReader(path.read_text().splitlines()))
    assert sorted(int(r["cell_index"]) for r in table) == sorted(loaded)
    assert set(table[0]) == {"cell_index", "snr", "r2", "fit_snr", "sparsity", "event_rate_hz"}


def test_spectrum_tab_shows_the_cell_the_mean_and_the_passband(opened):
    page, _run = opened
    page.click("[data-testid=tab-spectrum]")
    page.wait_for_selector("#panel-spectrum[data-state=fresh]")
    first = page.get_attribute("[data-testid=cell-card]", "data-cell-index")
    assert page.get_attribute("#panel-spectrum", "data-cell-index") == first
    page.fill("[data-testid=spectrum-cell]", "4")
    page.dispatch_event("[data-testid=spectrum-cell]", "change")
    page.wait_for_selector("#panel-spectrum[data-cell-index='4'][data-state=fresh]")
    peak = page.evaluate("""() => {
        const a = window.calab.app.spectrum.answer;
        let best = 1;
        for (let i = 1; i < a.freqs_hz.length; i++) {
            if (a.cell_power[i] > a.cell_power[best]) best = i;
        }
        return [a.freqs_hz[best], a.passband_hz, a.mean_power.length];
    }""")
    assert peak[0] == pytest.approx(3.0, abs=0.05)
    assert peak[1] == pytest.approx(list(filter_cutoffs(0.1, 0.6, 30.0)))
    page.check("[data-testid=filter-enabled]")
    page.wait_for_function(  # raises on timeout: the info line must say the filter is on
        "() => document.querySelector('#spectrum-info').textContent.includes('filter on')")
    page.click("[data-testid=tab-cells]")
    assert page.is_visible("[data-testid=cell-card]")


def test_snr_badges_are_coloured_by_tier(opened):
    page, _run = opened
    tiers = page.eval_on_selector_all(
        "[data-testid=cell-card]",
        "cards => cards.map(c => [Number(c.querySelector('[data-testid=snr-badge] b').textContent),"
        " c.dataset.snrTier, getComputedStyle(c.querySelector('[data-testid=snr-badge]'))"
        ".backgroundColor])")
    assert tiers
    for snr, tier, colour in tiers:
        expected = "good" if snr >= 8 else "fair" if snr >= 3 else "low"
        assert tier == expected
        assert colour != "rgba(0, 0, 0, 0)"
    assert len({t for _, t, _ in tiers}) >= 2  # the synthetic cells span tiers


def test_card_metrics_in_javascript_match_python(opened):
    from calab.core.fit_quality import fit_figures

    page, _run = opened
    rng = np.random.default_rng(5)
    trace = rng.normal(size=600) + 3.0
    fit = 0.6 * trace + rng.normal(scale=0.1, size=600)
    activity = np.where(rng.random(600) < 0.05, rng.random(600), 0.0)
    activity[100:104] = 0.5  # one event over four samples counts once
    got = page.evaluate(
        """async ([trace, fit, activity]) => {
            const M = await import('./js/metrics.js');
            const x = trace.map((_, i) => i / 30);
            return M.cellMetrics(x, trace, fit, activity);
        }""",
        [trace.tolist(), fit.tolist(), activity.tolist()],
    )
    expected = fit_figures(trace[None], fit[None], activity[None], fs=30.0)
    assert got["r2"] == pytest.approx(expected["r2"][0], rel=1e-9)
    assert got["snr"] == pytest.approx(expected["snr"][0], rel=1e-9)
    assert got["sparsity"] == pytest.approx(expected["sparsity"][0], rel=1e-12)
    assert got["eventRate"] == pytest.approx(expected["event_rate"][0], rel=1e-12)
