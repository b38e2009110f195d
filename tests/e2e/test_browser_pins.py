"""Pin and compare: named snapshots, overlays on the cards, metric deltas, restore."""

from __future__ import annotations

from browser_support import set_number, wait_all_fresh
from feature_support import BROWSER_MARKS, number, opened_app, synthetic_traces

from calab.server.bridge_session import load_dataset

pytestmark = BROWSER_MARKS

# JS: how many pixels of a card's trace canvas have (roughly) this colour.
COUNT_COLOUR_JS = """([index, rgb]) => {
  const card = document.querySelectorAll('[data-testid=cell-card]')[index];
  const canvas = card.querySelector('.chart-trace canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - rgb[0]) < 40 && Math.abs(data[i + 1] - rgb[1]) < 40
        && Math.abs(data[i + 2] - rgb[2]) < 40 && data[i + 3] > 100) n += 1;
  }
  return n;
}"""
FIRST_PIN_RGB = [0x70, 0x48, 0xE8]


def delta(page, item: int, metric: str) -> float:
    return float(page.locator("[data-testid=pinned-item]").nth(item)
                 .locator(f"[data-metric={metric}]").get_attribute("data-value"))


def test_pin_compare_and_restore(browser):
    dataset = load_dataset(synthetic_traces(21, n_cells=6, seconds=60.0), 30.0)
    with opened_app(browser, dataset) as (page, _run):
        assert page.locator("[data-testid=pinned-item]").count() == 0
        assert page.evaluate(COUNT_COLOUR_JS, [0, FIRST_PIN_RGB]) < 20  # no overlay yet

        page.fill("[data-testid=pin-name]", "baseline")
        page.click("[data-testid=pin]")
        items = page.locator("[data-testid=pinned-list] [data-testid=pinned-item]")
        assert items.count() == 1
        assert items.first.locator(".pin-name").text_content() == "baseline"
        page.wait_for_function(  # the pin's fit is drawn on the first card
            f"() => ({COUNT_COLOUR_JS})([0, {FIRST_PIN_RGB}]) > 100")

        set_number(page, "lambda", "6")  # sparser than lambda = 1
        wait_all_fresh(page)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=pinned-item] [data-metric=sparsity]')"
            ".dataset.value > 0.005")
        assert delta(page, 0, "sparsity") > 0  # sparser now than the pin
        assert delta(page, 0, "r2") < 0        # and fits worse
        page.click("[data-testid=pin]")
        assert items.count() == 2
        assert items.nth(1).locator(".pin-name").text_content() == "Pin 2"

        items.first.locator("[data-testid=pin-restore]").click()
        assert number(page, "lambda") == 1.0
        wait_all_fresh(page)
        page.wait_for_function(
            "() => Math.abs(document.querySelector('[data-testid=pinned-item] [data-metric=r2]')"
            ".dataset.value) < 1e-3")
        assert delta(page, 1, "sparsity") < 0  # the second pin (lambda 6) was sparser

        items.first.locator("input[type=checkbox]").uncheck()  # hide the overlay
        assert page.evaluate(COUNT_COLOUR_JS, [0, FIRST_PIN_RGB]) < 20
        items.nth(1).locator("[data-testid=pin-remove]").click()
        assert items.count() == 1


def test_a_pin_taken_while_solving_fills_in_when_the_cards_are_fresh(browser):
    dataset = load_dataset(synthetic_traces(22, n_cells=4, seconds=60.0), 30.0)
    with opened_app(browser, dataset) as (page, _run):
        states = set_number(page, "tau-decay-ms", "350")
        assert "fresh" not in states
        page.click("[data-testid=pin]")  # at once, before the new solution arrives
        assert page.locator("[data-testid=pinned-item]").count() == 1
        wait_all_fresh(page)
        page.wait_for_function(
            "() => Object.keys(window.calab.app.pins.pins[0].cells).length === 4")
        pinned = page.evaluate("window.calab.app.pins.pins[0].params.tauDecay")
        assert pinned == 0.35
        page.wait_for_function(
            "() => Math.abs(document.querySelector('[data-testid=pinned-item] [data-metric=r2]')"
            ".dataset.value) < 1e-9")


PIN_COVERS_JS = """() => {
  const pin = window.calab.app.pins.pins[0];
  const [start, stop] = window.calab.app.windowBounds();
  const shown = [...window.calab.state.cards.keys()];
  return pin.window[0] === start && pin.window[1] === stop
    && shown.every((cell) => pin.cells[cell] && pin.cells[cell].x[0] === start / 30);
}"""


def test_pins_are_solved_again_when_the_window_moves_and_other_cells_show(browser):
    dataset = load_dataset(synthetic_traces(23, n_cells=8, seconds=200.0), 30.0)
    with opened_app(browser, dataset) as (page, _run):
        page.select_option("[data-testid=per-page]", "4")
        wait_all_fresh(page)
        page.click("[data-testid=pin]")
        set_number(page, "lambda", "6")  # the pin's parameters are no longer the current ones
        wait_all_fresh(page)
        before = page.evaluate("window.calab.app.pins.pins[0].window")

        page.click("#window-next")  # a later window: the pin's overlay follows it
        wait_all_fresh(page)
        page.wait_for_function(PIN_COVERS_JS, timeout=20_000)
        assert page.evaluate("window.calab.app.pins.pins[0].window")[0] > before[0]
        page.wait_for_function(f"() => ({COUNT_COLOUR_JS})([0, {FIRST_PIN_RGB}]) > 100")
        assert page.evaluate("window.calab.app.pins.pins[0].params.lambda") == 1.0

        page.click("#page-next")  # four other cells: solved for the pin too
        wait_all_fresh(page)
        page.wait_for_function(PIN_COVERS_JS, timeout=20_000)
        page.wait_for_function(  # deltas over the cells both show, not stale ones
            "() => document.querySelector('[data-testid=pinned-item] [data-metric=sparsity]')"
            ".dataset.value > 0.005")
        pin_solver = page.evaluate("({ sent: window.calab.app.pins.solver.sent,"
                                   " most: window.calab.app.pins.solver.maxInFlight })")
        assert pin_solver["sent"] >= 4 and pin_solver["most"] == 1
        assert page.evaluate("window.calab.solver.maxInFlight") == 1
