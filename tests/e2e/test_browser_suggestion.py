"""``calab.tune()`` opens the app at ``calab.suggest_params``'s values, marks them, resets."""

from __future__ import annotations

import math
import queue
import threading
import warnings

import numpy as np
import pytest
from browser_support import wait_all_fresh
from feature_support import BROWSER_MARKS, app_page, number

import calab
from calab.server import tune as tune_module

pytestmark = BROWSER_MARKS

FS = 30.0
SLIDER_STEPS = 1000
RANGES = {"rise": (1.0, 1000.0), "decay": (10.0, 10000.0), "lambda": (1e-3, 100.0)}

# JS: per card, the largest deconvolved activity shown (uPlot's data of the activity chart).
ACTIVITY_MAX_JS = """
() => [...window.calab.state.cards.values()].map((card) => {
  const values = card.charts.activity.data[1] || [];
  let top = 0;
  for (const v of values) if (Number.isFinite(v) && v > top) top = v;
  return top;
})
"""


def _log_position(value: float, lo: float, hi: float) -> int:
    clamped = min(hi, max(lo, value))
    return round((math.log(clamped) - math.log(lo)) / (math.log(hi) - math.log(lo)) * SLIDER_STEPS)


def _slider_positions(params: dict) -> dict[str, int]:
    """Where the app's log-scale sliders put these parameters (params.js, in Python)."""
    lam = params["lambda_"]
    lam_position = 0 if lam <= 0 else 1 + round(
        _log_position(lam, *RANGES["lambda"]) / SLIDER_STEPS * (SLIDER_STEPS - 1))
    return {"rise": _log_position(1000 * params["tau_rise"], *RANGES["rise"]),
            "decay": _log_position(1000 * params["tau_decay"], *RANGES["decay"]),
            "lambda": lam_position}


def _shown(page) -> dict[str, float]:
    return {"tau_rise": number(page, "tau-rise-ms") / 1000,
            "tau_decay": number(page, "tau-decay-ms") / 1000,
            "lambda_": number(page, "lambda")}


def _panel_precision(params: dict) -> dict[str, float]:
    """The parameters as the panel shows and sends them: times to 0.1 ms, lambda to 4
    significant digits (params.js roundParams)."""
    return {"tau_rise": round(params["tau_rise"], 4), "tau_decay": round(params["tau_decay"], 4),
            "lambda_": float(f"{params['lambda_']:.4g}")}


def _assert_at(page, expected: dict) -> None:
    shown = _shown(page)
    rounded = _panel_precision(expected)
    for key in ("tau_rise", "tau_decay", "lambda_"):
        assert shown[key] == pytest.approx(rounded[key], rel=1e-9), key


@pytest.fixture(scope="module")
def recording():
    """A simulated GCaMP6f recording in dF/F units (no offset, unit scale)."""
    return calab.simulate(num_cells=24, duration_s=300.0, fs=FS, indicator="gcamp6f", seed=16)


@pytest.fixture
def tuning(recording, monkeypatch):
    """``calab.tune(traces, fs)`` running in a thread: yields its URL and the result queue."""
    urls: queue.Queue = queue.Queue()
    results: queue.Queue = queue.Queue()
    monkeypatch.setattr(tune_module, "announce", urls.put)

    def run() -> None:
        results.put(calab.tune(recording.traces, fs=FS, open_browser=False, timeout=600))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield urls.get(timeout=120), results
    thread.join(timeout=30)


def test_tune_opens_at_the_suggestion_marks_it_and_resets_to_it(browser, recording, tuning):
    url, results = tuning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        suggested = calab.suggest_params(recording.traces, FS)
    assert suggested["tau_rise"] < suggested["tau_decay"] and suggested["lambda_"] < 0.5
    # the first solve may compile the solver
    with app_page(browser, url, timeout_ms=180_000, width=1500, height=950) as page:
        _assert_at(page, suggested)
        assert min(page.evaluate(ACTIVITY_MAX_JS)) > 0.0  # every card shows some activity

        # the suggestion on each slider
        positions = _slider_positions(suggested)
        for name, position in positions.items():
            mark = page.locator(f"[data-testid=suggestion-mark-{name}]")
            assert mark.is_visible()
            assert int(mark.get_attribute("data-position")) == position
        assert page.is_hidden("[data-testid=suggestion-note]")  # a reliable suggestion
        assert "decay" in page.text_content("[data-testid=suggestion-values]")

        # move the decay slider to its far left, then reset: one undo step, re-solved
        box = page.locator("#tau-decay-slider").bounding_box()
        page.mouse.click(box["x"] + 3, box["y"] + box["height"] / 2)
        assert number(page, "tau-decay-ms") < 0.5 * 1000 * suggested["tau_decay"]
        wait_all_fresh(page)
        solves = page.evaluate("window.calab.solves")
        states = page.eval_on_selector(  # click, and the cards' states right after it
            "[data-testid=suggestion-reset]",
            "b => { b.click(); return [...document.querySelectorAll('[data-testid=cell-card]')]"
            ".map((c) => c.dataset.state); }")
        assert states and "fresh" not in states  # the reset re-solves every card
        _assert_at(page, suggested)
        wait_all_fresh(page)
        assert page.evaluate("window.calab.solves") > solves
        assert min(page.evaluate(ACTIVITY_MAX_JS)) > 0.0
        page.click("[data-testid=undo]")  # back to the moved slider in one step
        assert number(page, "tau-decay-ms") < 0.5 * 1000 * suggested["tau_decay"]
        assert number(page, "lambda") == _panel_precision(suggested)["lambda_"]
        page.click("[data-testid=redo]")
        _assert_at(page, suggested)

        # the marker sits where the slider's thumb goes for that value: click on it
        box = page.locator("#lambda-slider").bounding_box()
        mark = page.locator("[data-testid=suggestion-mark-lambda]").bounding_box()
        page.mouse.click(mark["x"] + mark["width"] / 2, box["y"] + box["height"] / 2)
        assert abs(int(page.input_value("#lambda-slider")) - positions["lambda"]) <= 3
        wait_all_fresh(page)

        # a kept session wins on a reload; the reset still offers the suggestion
        page.fill("[data-testid=lambda]", "0.5")
        page.dispatch_event("[data-testid=lambda]", "change")
        wait_all_fresh(page)
        page.wait_for_timeout(400)  # persist.js saves 200 ms after a change
        page.reload()
        wait_all_fresh(page)
        assert number(page, "lambda") == 0.5
        decay_ms = 1000 * _panel_precision(suggested)["tau_decay"]
        assert number(page, "tau-decay-ms") == pytest.approx(decay_ms, rel=1e-9)
        page.click("[data-testid=suggestion-reset]")
        _assert_at(page, suggested)
        wait_all_fresh(page)

        page.click("[data-testid=export-python]")
        page.wait_for_selector("[data-testid=readonly-banner]", state="visible")
        exported = results.get(timeout=30)
        for key in ("tau_rise", "tau_decay", "lambda_"):  # what was shown is what Python gets
            assert exported[key] == pytest.approx(_panel_precision(suggested)[key], rel=1e-9)


def test_unreliable_suggestion_is_noted(browser):
    """Pure noise: the suggestion is flagged, and the page says so next to the button."""
    from calab.server.bridge_session import load_dataset
    from calab.server.tune import TuningRun

    noise = np.random.default_rng(3).normal(size=(6, 900))
    dataset = load_dataset(noise, FS, suggest=True)
    assert dataset.suggestion is not None and dataset.suggestion["reliable"] is False
    with app_page(browser) as page, TuningRun(dataset) as run:
        page.goto(run.url)
        wait_all_fresh(page, 180_000)
        note = page.locator("[data-testid=suggestion-note]")
        assert note.is_visible() and note.text_content() == "uncertain"
        assert dataset.suggestion["reasons"][0] in note.get_attribute("title")
        assert number(page, "tau-decay-ms") == pytest.approx(
            1000 * dataset.suggestion["tau_decay"], rel=1e-5)


def test_calab_app_demo_and_dropped_file_open_at_their_suggestion(browser, recording, tmp_path):
    """``calab app``: the demo data, then a dropped .npy, each start at their own suggestion."""
    from calab.server.tune import TuningRun

    path = tmp_path / "dff.npy"
    np.save(path, recording.traces[:8])
    with app_page(browser) as page, TuningRun(None) as run:
        page.goto(run.url)
        page.wait_for_selector("body[data-ready=true]")
        assert page.is_hidden("[data-testid=suggestion]")  # no data, no suggestion
        page.click("[data-testid=demo-load]")
        wait_all_fresh(page, 180_000)
        demo = run.session.dataset.suggestion
        assert demo is not None
        _assert_at(page, {"tau_rise": demo["tau_rise"], "tau_decay": demo["tau_decay"],
                          "lambda_": demo["lambda"]})
        assert min(page.evaluate(ACTIVITY_MAX_JS)) > 0.0

        page.set_input_files("[data-testid=file-input]", str(path))
        page.wait_for_selector("[data-testid=drop-dialog][open]")
        page.click("[data-testid=drop-confirm]")
        page.wait_for_function("() => document.getElementById('dataset-info')"
                               ".textContent.includes('dff.npy')")
        wait_all_fresh(page)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = calab.suggest_params(recording.traces[:8], FS)
        _assert_at(page, expected)
