"""Per-card zoom (down to 1 s) and pan, the hover readout, linked zoom: no re-solve needed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from feature_support import BROWSER_MARKS, opened_app, synthetic_traces

from calab.server.bridge_session import load_dataset

pytestmark = BROWSER_MARKS
FS = 30.0


def view(page, index: int = 0) -> tuple[float, float]:
    card = page.locator("[data-testid=cell-card]").nth(index)
    return float(card.get_attribute("data-view-start")), float(card.get_attribute("data-view-end"))


def sent(page) -> int:
    return page.evaluate("window.calab.solver.sent")


# JS: the samples card `index`'s trace chart holds inside its visible x range, as [x, y] pairs.
VISIBLE_SAMPLES_JS = """(index) => {
  const card = [...document.querySelectorAll('[data-testid=cell-card]')][index];
  const cell = Number(card.dataset.cellIndex);
  const u = window.calab.state.cards.get(cell).charts.trace;
  const [x, y] = u.data;
  const out = [];
  for (let i = 0; i < x.length; i++) {
    if (x[i] >= u.scales.x.min && x[i] <= u.scales.x.max) out.push([x[i], y[i]]);
  }
  return out;
}"""


def plot_box(page, index: int = 0, chart: str = "trace") -> dict:
    card = page.locator("[data-testid=cell-card]").nth(index)
    return card.locator(f".chart-{chart} .u-over").bounding_box()


def test_zoom_to_one_second_shows_every_sample_and_reads_values_without_a_solve(browser):
    traces = synthetic_traces(41, n_cells=4, seconds=90.0)
    with opened_app(browser, load_dataset(traces, FS, suggest=True)) as (page, _run):
        start, end = view(page)
        assert end - start == pytest.approx(1799 / FS)  # the 60-s window, whole
        solves = sent(page)
        for _ in range(8):  # halves the span each time, down to the 1-s floor
            page.locator("[data-testid=zoom-in]").first.click()
        start, end = view(page)
        assert end - start == pytest.approx(1.0, abs=1e-3)
        assert page.locator("[data-testid=cell-card]").first.get_attribute("data-zoomed") == "true"
        assert view(page, 1)[1] - view(page, 1)[0] > 50  # the other cards keep their view

        samples = np.array(page.evaluate(VISIBLE_SAMPLES_JS, 0))
        assert len(samples) in (30, 31)  # every sample of the second, none dropped
        assert np.allclose(np.diff(samples[:, 0]), 1 / FS, atol=1e-6)
        cell = int(page.locator("[data-testid=cell-card]").first.get_attribute("data-cell-index"))
        raw = traces[cell, np.round(samples[:, 0] * FS).astype(int)]
        assert np.allclose(samples[:, 1], raw, rtol=1e-5)  # the recording's own values

        page.locator("[data-testid=zoom-reset]").first.click()
        assert view(page)[1] - view(page)[0] == pytest.approx(1799 / FS)

        # drag across the card's largest transient: two seconds around it, a rise to judge
        peak = int(np.argmax(traces[cell, :1800])) / FS
        box = plot_box(page)
        full = view(page)
        at = lambda t: box["x"] + box["width"] * (t - full[0]) / (full[1] - full[0])  # noqa: E731
        y = box["y"] + box["height"] / 2
        page.mouse.move(at(peak - 0.7), y)
        page.mouse.down()
        page.mouse.move(at(peak + 1.3), y, steps=4)
        page.mouse.up()
        start, end = view(page)
        assert start < peak < end and end - start == pytest.approx(2.0, abs=0.2)

        zoomed = plot_box(page)
        page.mouse.move(zoomed["x"] + zoomed["width"] * (peak - start) / (end - start), y)
        card = page.locator("[data-testid=cell-card]").first
        readout = card.locator("[data-testid=hover-readout]")
        readout.wait_for(state="visible")
        t = float(readout.get_attribute("data-time"))
        assert abs(t - peak) < 1.5 / FS
        assert float(readout.get_attribute("data-trace")) == pytest.approx(
            traces[cell, round(t * FS)], rel=1e-5)
        for key in ("fit", "activity"):
            assert np.isfinite(float(readout.get_attribute(f"data-{key}")))
        assert f"{t:.3f} s" in readout.text_content() and "fit" in readout.text_content()
        page.mouse.move(5, 5)
        readout.wait_for(state="hidden")
        assert sent(page) == solves  # zooming never asked the server for anything


def test_drag_select_wheel_pan_and_keys(browser):
    dataset = load_dataset(synthetic_traces(42, n_cells=2, seconds=90.0), FS)
    with opened_app(browser, dataset) as (page, _):
        solves = sent(page)
        box = plot_box(page)
        y = box["y"] + box["height"] / 2
        t0, t1 = view(page)
        page.mouse.move(box["x"] + box["width"] * 0.25, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.50, y, steps=6)
        page.mouse.up()
        s0, s1 = view(page)
        assert s0 == pytest.approx(t0 + 0.25 * (t1 - t0), abs=0.3)
        assert s1 == pytest.approx(t0 + 0.50 * (t1 - t0), abs=0.3)

        page.mouse.move(box["x"] + box["width"] / 2, y)  # plain wheel over the plot: page scrolls
        page.mouse.wheel(0, -200)
        page.wait_for_timeout(100)
        assert view(page) == (s0, s1)
        axis = plot_box(page, 0, "residual")
        page.mouse.move(axis["x"] + axis["width"] / 2, axis["y"] + axis["height"] + 10)
        page.mouse.wheel(0, -100)  # over the time axis: zooms in around the pointer
        page.wait_for_function(  # the span shrinks below 90 %
            "(most) => { const c = document.querySelector('[data-testid=cell-card]');"
            " return c.dataset.viewEnd - c.dataset.viewStart < most; }", arg=0.9 * (s1 - s0))
        w0, w1 = view(page)
        assert s0 < w0 < w1 < s1

        box = plot_box(page)  # Shift+drag pans: dragging right shows earlier times
        page.keyboard.down("Shift")
        page.mouse.move(box["x"] + box["width"] * 0.3, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
        page.mouse.up()
        page.keyboard.up("Shift")
        p0, p1 = view(page)
        assert p1 - p0 == pytest.approx(w1 - w0, abs=1e-3)
        assert p0 == pytest.approx(w0 - 0.3 * (w1 - w0), abs=0.05 * (w1 - w0))

        decay = page.input_value("[data-testid=tau-decay-ms]")
        page.locator("[data-testid=cell-card] .card-plots").first.focus()
        page.keyboard.press("ArrowRight")  # pans this card, leaves the decay time alone
        assert view(page)[0] > p0 and page.input_value("[data-testid=tau-decay-ms]") == decay
        page.keyboard.press("-")
        assert view(page)[1] - view(page)[0] == pytest.approx(2 * (p1 - p0), abs=1e-3)
        page.keyboard.press("0")
        assert page.locator("[data-testid=cell-card]").first.get_attribute("data-zoomed") == "false"
        assert sent(page) == solves


def test_linked_zoom_and_a_moved_window(browser):
    dataset = load_dataset(synthetic_traces(43, n_cells=4, seconds=150.0), FS)
    with opened_app(browser, dataset) as (page, _):
        page.locator("[data-testid=zoom-in]").nth(1).click()
        page.check("[data-testid=zoom-linked]")  # the zoomed card's view goes to every card
        views = [view(page, i) for i in range(4)]
        assert all(v == views[1] for v in views) and views[1][1] - views[1][0] < 31
        page.locator("[data-testid=zoom-in]").nth(3).click()
        assert all(view(page, i)[1] - view(page, i)[0] < 16 for i in range(4))
        page.uncheck("[data-testid=zoom-linked]")
        page.locator("[data-testid=zoom-reset]").first.click()
        assert view(page, 0)[1] - view(page, 0)[0] > 50 and view(page, 2)[1] - view(page, 2)[0] < 16

        page.click("#window-next")  # the window moves past the view: the cards show it whole
        page.wait_for_function("() => [...document.querySelectorAll('[data-testid=cell-card]')]"
                               ".every((c) => c.dataset.state === 'fresh'"
                               " && c.dataset.zoomed === 'false' && c.dataset.viewStart > 40)")


CARD_VIEWS_JS = ("() => [...document.querySelectorAll('[data-testid=cell-card]')].map((c) =>"
                 " [Number(c.dataset.cellIndex), Number(c.dataset.viewStart),"
                 " Number(c.dataset.viewEnd), c.dataset.zoomed])")
SAVED_ZOOM_JS = "() => JSON.parse(localStorage.getItem('calab.session.v1')).view.zoom"
# JS: count localStorage writes from now on (window.writes).
COUNT_WRITES_JS = """() => {
  window.writes = 0;
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (...args) {
    window.writes += 1;
    return setItem.apply(this, args);
  };
}"""


def wait_cards(page, zoomed: str | None = None) -> None:
    """Wait (after a reload) for the four cards, fresh, with their view marked (and
    ``data-zoomed`` equal to ``zoomed`` on each, when given)."""
    page.wait_for_function(
        "(zoomed) => { const c = [...document.querySelectorAll('[data-testid=cell-card]')];"
        " return c.length === 4 && c.every((e) => e.dataset.state === 'fresh' && e.dataset.viewEnd"
        " && (zoomed === null || e.dataset.zoomed === zoomed)); }", arg=zoomed, timeout=60_000)


def test_zoom_and_the_linked_checkbox_survive_a_reload(browser):
    dataset = load_dataset(synthetic_traces(44, n_cells=4, seconds=90.0), FS)
    with opened_app(browser, dataset) as (page, _):
        zoom_in = page.locator("[data-testid=zoom-in]")
        zoom_in.nth(0).click()
        zoom_in.nth(0).click()
        zoom_in.nth(2).click()
        page.wait_for_timeout(400)  # the session is saved 200 ms after the last change

        # a Shift+drag pan is one write once it stops, not one per frame
        page.evaluate(COUNT_WRITES_JS)
        box = plot_box(page, 2)
        y = box["y"] + box["height"] / 2
        page.keyboard.down("Shift")
        page.mouse.move(box["x"] + box["width"] * 0.6, y)
        page.mouse.down()
        for k in range(1, 21):
            page.mouse.move(box["x"] + box["width"] * (0.6 - 0.01 * k), y)
            page.wait_for_timeout(30)
        during = page.evaluate("window.writes")
        page.mouse.up()
        page.keyboard.up("Shift")
        page.wait_for_timeout(500)
        assert during == 0 and page.evaluate("window.writes") == 1

        before = page.evaluate(CARD_VIEWS_JS)
        assert [z for *_, z in before] == ["true", "false", "true", "false"]
        saved = page.evaluate(SAVED_ZOOM_JS)
        assert sorted(saved["cells"]) == sorted(str(before[i][0]) for i in (0, 2))
        assert saved["linked"] is False

        page.reload()
        wait_cards(page)
        after = page.evaluate(CARD_VIEWS_JS)
        for (cell, s0, e0, z0), (cell1, s1, e1, z1) in zip(before, after, strict=True):
            assert (cell1, z1) == (cell, z0)
            assert (s1, e1) == (pytest.approx(s0, abs=1e-3), pytest.approx(e0, abs=1e-3))
        assert not page.is_checked("[data-testid=zoom-linked]")

        page.check("[data-testid=zoom-linked]")  # the first zoomed card's view goes to all
        page.wait_for_timeout(400)
        linked = page.evaluate(CARD_VIEWS_JS)
        assert all(v[1:] == linked[0][1:] for v in linked) and linked[0][3] == "true"
        page.reload()
        wait_cards(page, "true")
        assert page.is_checked("[data-testid=zoom-linked]")
        restored = page.evaluate(CARD_VIEWS_JS)
        assert all(v[1] == pytest.approx(linked[0][1], abs=1e-3)
                   and v[2] == pytest.approx(linked[0][2], abs=1e-3) for v in restored)
        page.locator("[data-testid=zoom-out]").nth(3).click()  # still linked after the reload
        assert len({(v[1], v[2]) for v in page.evaluate(CARD_VIEWS_JS)}) == 1


def test_a_restored_zoom_outside_the_window_or_for_a_hidden_cell_is_dropped(browser):
    dataset = load_dataset(synthetic_traces(45, n_cells=4, seconds=90.0), FS)
    with opened_app(browser, dataset) as (page, _):
        page.locator("[data-testid=zoom-in]").first.click()
        page.wait_for_timeout(400)
        cells = [v[0] for v in page.evaluate(CARD_VIEWS_JS)]
        # the saved session as another version of the window would have left it (written as
        # the reloaded page starts: the old page saves its own on the way out)
        page.context.add_init_script("const cells = " + json.dumps(cells) + """;
        (() => {
          const doc = JSON.parse(localStorage.getItem('calab.session.v1'));
          doc.view.zoom = { linked: false, view: null, cells: {
            [cells[0]]: [70, 80],        // after the 60-s window the page reopens at
            [cells[1]]: [10, 10.2],      // narrower than the 1-s floor
            [cells[2]]: ['a', 3],        // not numbers
            [cells[3]]: [20, 30],        // fine
            17: [5, 15] } };             // a cell that is not shown (there are four)
          localStorage.setItem('calab.session.v1', JSON.stringify(doc));
        })()""")
        page.reload()
        wait_cards(page)
        views = page.evaluate(CARD_VIEWS_JS)
        assert [v[3] for v in views] == ["false", "false", "false", "true"]
        assert (views[3][1], views[3][2]) == (20.0, 30.0)
        assert all(v[2] - v[1] > 50 for v in views[:3])
        page.wait_for_function(  # and the next save keeps only the view that was shown
            "(cell) => { const z = JSON.parse(localStorage.getItem('calab.session.v1')).view.zoom;"
            " return Object.keys(z.cells).join() === String(cell); }", arg=cells[3])
