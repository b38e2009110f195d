"""Kernel set by peak time / FWHM, markers on the kernel plot, export fields, redo."""

from __future__ import annotations

import json

import pytest
from browser_support import set_number, wait_all_fresh
from feature_support import BROWSER_MARKS, number, opened_app, synthetic_traces

from calab.core.kernel import kernel_peak_fwhm, tau_from_peak_fwhm
from calab.server.bridge_session import load_dataset

pytestmark = BROWSER_MARKS


@pytest.fixture
def opened(browser):
    dataset = load_dataset(synthetic_traces(11, n_cells=4, seconds=60.0), 30.0)
    with opened_app(browser, dataset) as page_and_run:
        yield page_and_run


@pytest.fixture
def page(opened):
    return opened[0]


@pytest.fixture
def run(opened):
    return opened[1]


def test_javascript_conversion_matches_python(page):
    cases = [(0.1, 0.6), (0.005, 0.15), (0.18, 1.5), (0.3, 0.31), (0.02, 3.0)]
    got = page.evaluate(
        """async (cases) => {
            const K = await import('./js/kernel-shape.js');
            return cases.map(([r, d]) => {
                const s = K.peakFwhm(r, d);
                const back = K.tauFromPeakFwhm(s.peakTime, s.fwhm);
                return [s.peakTime, s.fwhm, back.tauRise, back.tauDecay];
            });
        }""",
        cases,
    )
    for (tau_r, tau_d), (t_peak, fwhm, back_r, back_d) in zip(cases, got, strict=True):
        assert (t_peak, fwhm) == pytest.approx(kernel_peak_fwhm(tau_r, tau_d), rel=1e-12)
        assert (back_r, back_d) == pytest.approx(tau_from_peak_fwhm(t_peak, fwhm), rel=1e-9)
        assert (back_r, back_d) == pytest.approx((tau_r, tau_d), rel=1e-6)


def test_peak_fwhm_mode_sets_the_kernel_and_resolves(page, run):
    assert page.input_value("[data-testid=param-mode]") == "rise-decay"
    assert not page.is_visible("[data-testid=t-peak-ms]")
    page.select_option("[data-testid=param-mode]", "peak-fwhm")
    assert page.is_visible("[data-testid=t-peak-ms]") and page.is_visible("[data-testid=fwhm-ms]")
    t_peak, fwhm = kernel_peak_fwhm(0.1, 0.6)
    assert number(page, "t-peak-ms") == round(1000 * t_peak, 1)  # shown to 0.1 ms
    assert number(page, "fwhm-ms") == round(1000 * fwhm, 1)

    states = set_number(page, "t-peak-ms", "150")
    assert states and "fresh" not in states  # the change re-solves every card
    wait_all_fresh(page)
    expected = tau_from_peak_fwhm(0.150, fwhm)
    assert number(page, "tau-rise-ms") == round(1000 * expected[0], 1)  # sent to 0.1 ms
    assert number(page, "tau-decay-ms") == round(1000 * expected[1], 1)
    assert number(page, "t-peak-ms") == pytest.approx(150.0, abs=0.11)
    assert number(page, "fwhm-ms") == pytest.approx(1000 * fwhm, abs=0.11)  # kept

    peak_shown = number(page, "t-peak-ms") / 1000  # the FWHM edit keeps the peak time shown
    set_number(page, "fwhm-ms", "500")
    wait_all_fresh(page)
    _, tau_d = tau_from_peak_fwhm(peak_shown, 0.500)
    assert number(page, "tau-decay-ms") == pytest.approx(round(1000 * tau_d, 1), abs=0.11)
    # the markers sit where the kernel peaks and spans half its height
    peak_ms = float(page.get_attribute("[data-testid=kernel-peak-marker]", "data-ms"))
    assert peak_ms == pytest.approx(1000 * peak_shown, abs=0.2)
    marker = page.locator("[data-testid=kernel-peak-marker]").bounding_box()
    bar = page.locator("[data-testid=kernel-fwhm-marker]").bounding_box()
    assert bar["x"] < marker["x"] < bar["x"] + bar["width"]

    # narrower than 2.45 x the peak time: the FWHM typed is kept, the peak time moves
    set_number(page, "fwhm-ms", "200")
    assert "Peak time set to" in page.text_content("[data-testid=toast]")
    assert number(page, "fwhm-ms") == pytest.approx(200.0, abs=0.11)
    assert number(page, "t-peak-ms") == pytest.approx(200.0 / (2.4464 * 1.01), abs=0.11)
    set_number(page, "t-peak-ms", "300")  # and the other way round
    assert number(page, "t-peak-ms") == pytest.approx(300.0, abs=0.11)
    assert number(page, "fwhm-ms") == pytest.approx(300.0 * 2.4464 * 1.01, abs=0.11)
    wait_all_fresh(page)
    set_number(page, "t-peak-ms", "-5")  # no kernel peaks before its onset
    assert "must be numbers > 0" in page.text_content("[data-testid=toast]")
    assert number(page, "t-peak-ms") == pytest.approx(300.0, abs=0.11)

    page.reload()  # the mode is remembered
    page.wait_for_selector("body[data-ready=true]")
    assert page.input_value("[data-testid=param-mode]") == "peak-fwhm"


def test_export_carries_peak_and_fwhm_and_redo_works(page, tmp_path):
    page.select_option("[data-testid=param-mode]", "rise-decay")
    set_number(page, "tau-decay-ms", "450")
    wait_all_fresh(page)
    page.click("[data-testid=undo]")
    assert number(page, "tau-decay-ms") == 600.0
    assert page.is_enabled("[data-testid=redo]")
    page.click("[data-testid=redo]")
    assert number(page, "tau-decay-ms") == 450.0
    assert page.is_disabled("[data-testid=redo]")
    wait_all_fresh(page)
    with page.expect_download() as info:
        page.click("[data-testid=export-download]")
    path = tmp_path / "export.json"
    info.value.save_as(path)
    parameters = json.loads(path.read_text())["parameters"]
    t_peak, fwhm = kernel_peak_fwhm(parameters["tau_rise_s"], 0.45)
    assert parameters["tau_decay_s"] == 0.45
    assert parameters["t_peak_s"] == pytest.approx(t_peak, rel=1e-12)
    assert parameters["fwhm_s"] == pytest.approx(fwhm, rel=1e-12)
