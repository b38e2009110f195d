"""Session persistence, resuming from an export, keyboard, redo, resizable cards, the tour."""

from __future__ import annotations

import itertools
import json

import pytest
from browser_support import set_number, wait_all_fresh
from feature_support import BROWSER_MARKS, number, opened_app, synthetic_traces

from calab.io.export import save_export_params
from calab.server.bridge_session import load_dataset

pytestmark = BROWSER_MARKS

TRACE_HEIGHTS_JS = ("() => [...document.querySelectorAll('[data-testid=cell-card]')]"
                    ".map(c => c.querySelector('.chart-trace canvas').clientHeight)")


@pytest.fixture
def opened(browser):
    dataset = load_dataset(synthetic_traces(51, n_cells=8, seconds=120.0), 30.0)
    with opened_app(browser, dataset) as page_and_run:
        yield page_and_run


def test_reload_restores_parameters_pins_and_view(opened):
    page, _ = opened
    set_number(page, "tau-decay-ms", "420")
    set_number(page, "lambda", "2.5")
    page.check("[data-testid=filter-enabled]")
    wait_all_fresh(page)
    page.fill("[data-testid=pin-name]", "kept")
    page.click("[data-testid=pin]")
    page.select_option("[data-testid=per-page]", "4")
    page.select_option("[data-testid=window-length]", "30")
    wait_all_fresh(page)
    page.click("[data-testid=tab-metrics]")
    page.wait_for_timeout(400)  # the save is debounced by 200 ms

    page.reload()
    wait_all_fresh(page, 60_000)
    assert number(page, "tau-decay-ms") == 420.0 and number(page, "lambda") == 2.5
    assert page.is_checked("[data-testid=filter-enabled]")
    assert page.locator("[data-testid=pinned-item] .pin-name").all_text_contents() == ["kept"]
    assert page.input_value("[data-testid=per-page]") == "4"
    assert page.locator("[data-testid=cell-card]").count() == 4
    assert page.input_value("[data-testid=window-length]") == "30"
    page.wait_for_selector("[data-testid=metrics-table][data-state=fresh]")
    assert page.get_attribute("[data-testid=tab-metrics]", "aria-selected") == "true"


def test_loading_a_previous_export_resumes_from_it(opened, tmp_path):
    page, _ = opened
    path = save_export_params({"tau_rise": 0.05, "tau_decay": 0.9, "lambda_": 0.3, "fs": 30.0,
                               "filter_enabled": True}, tmp_path / "earlier.json")
    page.set_input_files("[data-testid=resume-export]", str(path))
    page.wait_for_function("() => document.body.dataset.resumed === 'earlier.json'")
    assert (number(page, "tau-rise-ms"), number(page, "tau-decay-ms"), number(page, "lambda")) == (
        50.0, 900.0, 0.3)
    assert page.is_checked("[data-testid=filter-enabled]")
    wait_all_fresh(page)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": "2.0.0", "parameters": {}}))
    page.set_input_files("[data-testid=resume-export]", str(bad))
    page.wait_for_function("() => document.querySelector('[data-testid=toast]')"
                           ".textContent.includes('not a CaTune export')")
    assert number(page, "tau-decay-ms") == 900.0  # unchanged
    page.click("[data-testid=undo]")  # a resume is one undo step
    assert (number(page, "tau-decay-ms"), number(page, "lambda")) == (600.0, 1.0)


def test_keyboard_reaches_the_features(opened):
    page, _ = opened
    page.click("body", position={"x": 800, "y": 20})
    page.keyboard.press("ArrowUp")  # lambda up
    assert number(page, "lambda") == pytest.approx(1.1)
    page.keyboard.press("Control+z")
    assert number(page, "lambda") == 1.0
    page.keyboard.press("Control+Shift+z")
    assert number(page, "lambda") == pytest.approx(1.1)
    wait_all_fresh(page)
    page.keyboard.press("p")
    assert page.locator("[data-testid=pinned-item]").count() == 1
    page.keyboard.press("3")
    page.wait_for_selector("[data-testid=metrics-table][data-state=fresh]")
    page.keyboard.press("1")
    assert page.is_visible("[data-testid=cell-card]")
    page.focus("[data-testid=tab-cells]")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("[data-testid=tab-spectrum]", "aria-selected") == "true"
    page.keyboard.press("ArrowLeft")
    # tabbing from the mode menu reaches the peak-time input in peak/FWHM mode
    page.select_option("[data-testid=param-mode]", "peak-fwhm")
    page.focus("[data-testid=param-mode]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "t-peak-ms"


def test_cards_resize_by_menu_and_by_handle(opened):
    page, _ = opened
    before = page.evaluate(TRACE_HEIGHTS_JS)
    page.select_option("[data-testid=card-size]", "1.5")
    after = page.evaluate(TRACE_HEIGHTS_JS)
    assert all(b == pytest.approx(1.5 * a, abs=1) for a, b in zip(before, after, strict=True))
    handle = page.locator("[data-testid=card-resize]").first
    handle.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    heights = page.evaluate(TRACE_HEIGHTS_JS)
    assert heights[0] == pytest.approx(1.7 * before[0], abs=1) and heights[1] == after[1]
    assert number(page, "lambda") == 1.0  # the arrows resized the card, not lambda
    box = handle.bounding_box()
    page.mouse.move(box["x"] + 8, box["y"] + 8)
    page.mouse.down()
    page.mouse.move(box["x"] + 8, box["y"] - 80, steps=4)
    page.mouse.up()
    assert page.evaluate(TRACE_HEIGHTS_JS)[0] < heights[0]


def test_tour_walks_the_workflow_and_is_remembered(opened):
    page, _ = opened
    assert page.is_visible("[data-testid=tour-offer]")
    page.click("#tour-offer-start")
    titles = []
    for _ in range(7):
        page.wait_for_selector("[data-testid=tour]:visible")
        titles.append(page.text_content("[data-testid=tour] .tour-title"))
        assert page.locator(".tour-target").count() >= 1
        page.click("[data-testid=tour-next]")
    assert [t.split(" · ")[1] for t in titles] == [
        "Load traces", "Shape the kernel", "Choose the sparsity", "Check the residuals",
        "Look at other cells", "Pin and compare", "Export"]
    assert not page.is_visible("[data-testid=tour]")
    assert page.locator(".tour-target").count() == 0
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert not page.is_visible("[data-testid=tour-offer]")  # remembered
    page.click("[data-testid=tour-start]")  # still available on demand, and skippable
    page.click("[data-testid=tour-skip]")
    assert not page.is_visible("[data-testid=tour]")


# JS: per card and band, the y-tick labels uPlot drew and their heights in CSS px of the plot.
Y_TICKS_JS = """() => [...window.calab.state.cards.values()].flatMap((card) =>
  Object.entries(card.charts).map(([band, u]) => ({
    band, labels: u.axes[1]._values.filter((v) => v !== '' && v != null),
    at: u.axes[1]._splits.map((v) => u.valToPos(v, 'y')),
    height: u.bbox.height / devicePixelRatio })))"""


@pytest.mark.parametrize("size", ["0.7", "1"])
def test_every_band_shows_two_y_ticks_apart_at_card_size(opened, size):
    page, _ = opened
    page.select_option("[data-testid=card-size]", size)
    page.wait_for_timeout(200)
    bands = page.evaluate(Y_TICKS_JS)
    assert len(bands) == 3 * page.locator("[data-testid=cell-card]").count()
    for band in bands:
        assert len(band["labels"]) >= 2, band
        assert len(set(band["labels"])) == len(band["labels"]), band  # distinct labels
        at = sorted(band["at"])
        assert min(b - a for a, b in itertools.pairwise(at)) >= 12, band  # 10-px labels apart
        assert all(-1 <= y <= band["height"] + 1 for y in at), band
