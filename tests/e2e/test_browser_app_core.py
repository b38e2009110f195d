"""The tuning app's core in real headless Chromium: sessions, drags, every cell, guards.

Each test serves a real bridge (uvicorn on a loopback socket) and drives the page the
way a user would. The tuning guide's screenshots come from ``scripts/doc_screenshots.py``.
"""

from __future__ import annotations

import io
import time
import warnings

import numpy as np
import pytest
from browser_support import (
    DRAG_JS,
    load_slack,
    set_number,
    wait_all_fresh,
)
from feature_support import BROWSER_MARKS, card_indices, synthetic_traces

from calab.core.preprocess import bandpass_filter
from calab.server.bridge_session import load_dataset
from calab.server.bridge_solve import solve_margin
from calab.server.tune import TuningRun

pytestmark = BROWSER_MARKS
VIEWPORT = {"width": 1600, "height": 1000}


def recording(seed: int, n_cells: int = 8, seconds: float = 120.0, fs: float = 30.0):
    """Spiky traces, every cell with noise 0.4."""
    return synthetic_traces(seed, n_cells, seconds, fs, noise=0.4)


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport=VIEWPORT)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def card_states(page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid=cell-card]", "els => els.map(e => e.dataset.state)")


def chart_series(page, cell: int, chart: str, series: int) -> list:
    return page.evaluate(
        "([cell, chart, series]) => Array.from("
        "window.calab.state.cards.get(cell).charts[chart].data[series], (v) => v)",
        [cell, chart, series])


def test_a_drag_refreshes_cards_while_moving_and_settles_after_release(context):
    with TuningRun(load_dataset(recording(1, n_cells=6), 30.0)) as run:
        page = context.new_page()
        page.goto(run.url)
        wait_all_fresh(page)
        drag = page.evaluate(DRAG_JS, {"ms": 2000, "hz": 60, "first": 500, "minRefreshes": 3})
    # every card was redrawn with intermediate results during the drag (the old page: none)
    assert len(drag["during"]) == 6 and min(drag["during"]) >= 3, drag
    # ... from at most one request at a time, never one per input event
    assert drag["maxInFlight"] == 1 and drag["sent"] < drag["events"], drag
    # stale plots are dimmed while they wait for the newest values
    assert any(state in ("stale", "solving") and opacity < 0.6 for state, opacity in drag["dims"])
    assert drag["settleMs"] < 1000 * load_slack(), drag


def test_a_reload_in_the_middle_of_a_drag_solves_at_once(context):
    with TuningRun(load_dataset(recording(2, n_cells=6), 30.0)) as run:
        page = context.new_page()
        page.goto(run.url)
        wait_all_fresh(page)
        page.evaluate("""() => { const s = document.getElementById('tau-decay-slider'); let k = 0;
            setInterval(() => { s.value = String(500 + (k++ % 300));
                                s.dispatchEvent(new Event('input', {bubbles: true})); }, 16); }""")
        page.wait_for_function("window.calab.solver.sent > 20")
        first_session = page.evaluate("window.calab.session")
        page.reload()
        wait_all_fresh(page, timeout_ms=20_000)
        # from the start of the reload to every card fresh, measured by the page itself
        fresh_after_s = page.evaluate("performance.now()") / 1000
        assert fresh_after_s < 2.0 * load_slack(), (fresh_after_s, load_slack())
        assert page.evaluate("window.calab.session") != first_session
        # the reloaded page's counter restarted at 1 and it is still served after changes
        set_number(page, "tau-decay-ms", "420")
        wait_all_fresh(page, timeout_ms=5_000)
        assert page.evaluate("window.calab.solver.refused") == 0


def test_a_second_tab_does_not_stop_the_first(context):
    with TuningRun(load_dataset(recording(3, n_cells=4), 30.0)) as run:
        first, second = context.new_page(), context.new_page()
        first.goto(run.url)
        wait_all_fresh(first)
        for _ in range(5):
            set_number(first, "tau-decay-ms", str(400 + _ * 10))
            wait_all_fresh(first)
        second.goto(run.url)
        wait_all_fresh(second)
        for page, value in [(first, "700"), (second, "300"), (first, "710")]:
            states = set_number(page, "tau-decay-ms", value)
            assert "fresh" not in states
            wait_all_fresh(page, timeout_ms=5_000)
        assert first.evaluate("window.calab.solver.refused") == 0


def test_with_the_filter_cards_show_the_filtered_trace_and_its_fit(context):
    data = recording(4, n_cells=3, seconds=90.0)
    with TuningRun(load_dataset(data, 30.0)) as run:
        page = context.new_page()
        page.goto(run.url)
        wait_all_fresh(page)
        set_number(page, "window-length", "10")
        wait_all_fresh(page)
        cell = card_indices(page)[0]
        raw = np.array(chart_series(page, cell, "trace", 1))
        x = np.array(chart_series(page, cell, "trace", 0))
        start = round(x[0] * 30.0)
        np.testing.assert_allclose(raw, data[cell, start:start + raw.size], rtol=1e-5)
        r2_raw = float(page.text_content(f"[data-cell-index='{cell}'] .r2"))
        page.check("[data-testid=filter-enabled]")
        wait_all_fresh(page)
        assert page.get_attribute(f"[data-cell-index='{cell}']", "data-filtered") == "true"
        shown = np.array(chart_series(page, cell, "trace", 1))
        fit = np.array(chart_series(page, cell, "trace", 2))
        # the filtered trace of the solved stretch, cropped to the window shown
        margin = solve_margin(raw.size, 30.0)  # samples solved (and filtered) each side
        lo = max(0, start - margin)
        filtered = bandpass_filter(data[[cell], lo:start + raw.size + margin], 0.1, 0.6, 30.0)
        np.testing.assert_allclose(shown, filtered[0, start - lo:start - lo + raw.size],
                                   atol=1e-3)
        # the fit is as smooth as the trace it was fitted to, not the raw noise
        assert np.abs(np.diff(fit)).mean() < np.abs(np.diff(raw)).mean()
        r2 = float(page.text_content(f"[data-cell-index='{cell}'] .r2"))
        expected = 1 - np.var(shown - fit) / np.var(shown)
        assert r2 == pytest.approx(expected, abs=0.006) and r2 != r2_raw


def test_every_cell_and_the_whole_recording_are_reachable(context):
    data = recording(5, n_cells=200, seconds=600.0)
    with TuningRun(load_dataset(data, 30.0, max_cells=8, max_minutes=2.0)) as run:
        page = context.new_page()
        page.goto(run.url)
        wait_all_fresh(page)
        assert len(card_indices(page)) == 6
        # the overview spans the whole 10 minutes, not the 2-minute first window
        page.wait_for_function("window.calab.state.focusCell !== null")
        page.wait_for_function(
            "() => { const u = document.querySelector('#overview-plot .uplot'); return !!u; }")
        span = page.evaluate("""() => { const d = window.calab.state;
            return d.data.totalTime / d.data.fs; }""")
        assert span == pytest.approx(600.0)
        # go to a cell outside the first subset, by original index
        first = run.session.dataset.subset.cell_indices
        outside = next(c for c in range(150, 200) if c not in first)
        set_number(page, "cell-goto", str(outside))
        page.wait_for_selector(f"[data-testid=cell-card][data-cell-index='{outside}']")
        wait_all_fresh(page)
        shown = np.array(chart_series(page, outside, "trace", 1))
        x = np.array(chart_series(page, outside, "trace", 0))
        start = round(x[0] * 30.0)
        np.testing.assert_allclose(shown, data[outside, start:start + shown.size], rtol=1e-5)
        # page through all 200 cells in index order
        page.select_option("[data-testid=sort-cells]", "all")
        wait_all_fresh(page)
        assert card_indices(page) == [0, 1, 2, 3, 4, 5]
        assert "of 34" in page.text_content("#page-info")
        for _ in range(33):
            page.click("#page-next")
        wait_all_fresh(page)
        assert card_indices(page) == [198, 199]
        # a window near the very end of the recording
        page.select_option("[data-testid=window-length]", "5")
        page.evaluate("() => { window.calab.state.windowStart = 1e9; }")
        page.click("#window-next")
        wait_all_fresh(page)
        x = np.array(chart_series(page, 199, "trace", 0))
        assert x[-1] == pytest.approx((18000 - 1) / 30.0) and x[-1] - x[0] < 5.0


HALF_SELECTED_JS = """() => {
  const sel = document.querySelector('#overview-plot .u-select');
  const over = document.querySelector('#overview-plot .u-over');
  return !!sel && Math.abs(sel.offsetWidth / over.offsetWidth - 0.5) < 0.02;
}"""


def test_window_menu_names_a_drag_selection_and_one_second_windows(context):
    with TuningRun(load_dataset(recording(6, n_cells=2, seconds=120.0), 30.0)) as run:
        page = context.new_page()
        page.goto(run.url)
        wait_all_fresh(page)
        # the overview marks the 60-s window of the 120-s recording: half its width
        page.wait_for_function(HALF_SELECTED_JS, timeout=10_000)
        box = page.locator("#overview-plot .u-over").bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.30, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.40, y, steps=5)
        page.mouse.up()
        wait_all_fresh(page)
        selected = page.eval_on_selector(
            "[data-testid=window-length]", "s => s.options[s.selectedIndex].textContent")
        assert selected.endswith("s (selected)") and float(selected.split()[0]) > 5
        page.select_option("[data-testid=window-length]", "1")
        wait_all_fresh(page)
        x = np.array(chart_series(page, card_indices(page)[0], "trace", 0))
        assert x.size == 30 and x[-1] - x[0] == pytest.approx(29 / 30)


def test_an_empty_grid_says_what_to_do(context):
    with TuningRun(load_dataset(recording(7, n_cells=3), 30.0)) as run:
        page = context.new_page()
        page.goto(run.url)
        wait_all_fresh(page)
        assert page.is_hidden("[data-testid=grid-empty]")
        page.click("#cells-none")
        page.wait_for_selector("[data-testid=grid-empty]", state="visible")
        assert page.locator("[data-testid=cell-card]").count() == 0
        assert "No cells selected" in page.text_content("[data-testid=grid-empty]")


def test_export_without_data_asks_first_and_export_makes_the_page_read_only(context):
    with TuningRun(None) as run:
        page = context.new_page()
        page.goto(run.url)
        page.wait_for_selector("body[data-ready=true]")
        page.click("[data-testid=export-python]")
        page.wait_for_selector("[data-testid=export-confirm-dialog][open]")
        page.click("[data-testid=export-confirm-no]")
        page.wait_for_selector("[data-testid=export-confirm-dialog]", state="hidden")
        assert run.session.params is None
        page.click("[data-testid=export-python]")
        page.click("[data-testid=export-confirm-yes]")
        page.wait_for_selector("[data-testid=readonly-banner]", state="visible")
        assert run.session.params is not None and run.session.params["tau_decay"] == 0.6
        assert page.is_disabled("[data-testid=tau-decay-ms]")
        assert page.is_disabled("[data-testid=export-python]")
        assert page.is_enabled("[data-testid=export-download]")


def test_after_export_with_data_nothing_more_is_sent(context):
    with TuningRun(load_dataset(recording(8, n_cells=2), 30.0)) as run:
        page = context.new_page()
        page.goto(run.url)
        wait_all_fresh(page)
        page.click("[data-testid=export-python]")
        page.wait_for_selector("[data-testid=readonly-banner]", state="visible")
        assert "read-only" in page.text_content("[data-testid=readonly-banner]")
        sent = page.evaluate("window.calab.solver.sent")
        page.keyboard.press("ArrowRight")  # no effect any more
        assert page.evaluate("window.calab.solver.sent") == sent
        assert page.input_value("[data-testid=tau-decay-ms]") == "600"


def test_cells_with_nan_are_shown_with_a_notice(context):
    data = recording(9, n_cells=5, seconds=60.0)
    data[np.arange(5), 100 + 17 * np.arange(5)] = np.nan  # one NaN in every cell
    data[2, 900:960] = np.nan  # a 2-s gap in cell 2
    with TuningRun(load_dataset(data, 30.0)) as run:
        page = context.new_page()
        page.goto(run.url)
        wait_all_fresh(page)
        assert sorted(card_indices(page)) == [0, 1, 2, 3, 4]
        notice = page.text_content("[data-cell-index='2'] [data-testid=cell-notice]")
        assert "61 of 1800 samples are missing" in notice and "2.0 s" in notice
        assert "straight lines" in notice
        trace = chart_series(page, 2, "trace", 1)
        assert trace[930] is None and trace[899] is not None
        assert page.is_visible("[data-cell-index='0'] [data-testid=cell-notice]")


def test_a_file_too_large_for_a_tab_is_refused_before_reading(context, tmp_path):
    path = tmp_path / "big.npy"
    np.save(path, np.zeros((4, 100_000)))  # 3.2 MB, over a 1 MB limit
    with TuningRun(None, upload_limit=2**20) as run:
        page = context.new_page()
        page.goto(run.url)
        page.wait_for_selector("body[data-ready=true]")
        began = time.monotonic()
        page.set_input_files("[data-testid=file-input]", str(path))
        page.wait_for_selector("[data-testid=toast].show.error")
        assert time.monotonic() - began < 2.0 * load_slack()
        message = page.text_content("[data-testid=toast]")
        assert "big.npy is 3 MB" in message and "calab tune big.npy" in message
        assert run.session.pending_upload is None


def test_tune_cells_argument_chooses_the_cells(context):
    import threading

    import calab

    urls: list[str] = []
    import logging

    class Catcher(logging.Handler):
        def emit(self, record):
            urls.append(record.args[0])

    logger = logging.getLogger("calab.tune")
    handler = Catcher()
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", calab.tune(
        recording(10, n_cells=50, seconds=30.0), fs=30.0, open_browser=False, timeout=60,
        cells="3,17,40-42")), daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 30
        while not urls and time.monotonic() < deadline:
            time.sleep(0.02)
        page = context.new_page()
        page.goto(urls[0])
        wait_all_fresh(page)
        page.select_option("[data-testid=sort-cells]", "index")
        wait_all_fresh(page)
        assert card_indices(page) == [3, 17, 40, 41, 42]
        page.click("[data-testid=export-python]")
        thread.join(30)
        # the app opened at the suggestion (calab.suggest_params) and nothing was changed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            suggested = calab.suggest_params(recording(10, n_cells=50, seconds=30.0), 30.0)
        # (at the panel's precision: times to 0.1 ms)
        assert box["r"]["tau_decay"] == pytest.approx(round(suggested["tau_decay"], 4), rel=1e-9)
    finally:
        logger.removeHandler(handler)


def _npy_bytes(array) -> list[int]:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return list(buffer.getvalue())


# JS: for every chart of every card, the y tick labels' vertical extent (CSS px) relative to
# the chart's own canvas; a label sticking out of its canvas collides with the band above/below.
Y_LABELS_JS = """
() => {
  const out = [];
  for (const card of window.calab.state.cards.values()) {
    for (const [name, u] of Object.entries(card.charts)) {
      const axis = u.axes[1];
      const font = parseFloat(axis.font[0]) || 10;
      for (const value of axis._splits || []) {
        const y = u.bbox.top / devicePixelRatio + u.valToPos(value, 'y');
        out.push([name, y - font / 2, y + font / 2, u.height]);
      }
    }
  }
  return out;
}
"""


def test_tick_labels_stay_inside_their_plot_band(context):
    with TuningRun(load_dataset(recording(11, n_cells=4, seconds=60.0), 30.0)) as run:
        page = context.new_page()
        page.goto(run.url)
        wait_all_fresh(page)
        labels = page.evaluate(Y_LABELS_JS)
    assert len(labels) > 12  # every chart of every card has labelled ticks
    outside = [label for label in labels if label[1] < 0 or label[2] > label[3]]
    assert outside == [], outside
