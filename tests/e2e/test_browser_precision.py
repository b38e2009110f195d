"""The parameter boxes show times to 0.1 ms and lambda to 4 significant digits, and the solver
gets exactly what they show: typed, suggested, reset, undone, restored after a reload, resumed
from an export."""

from __future__ import annotations

import json

import pytest
from browser_support import set_number, wait_all_fresh
from feature_support import BROWSER_MARKS, number, opened_app, synthetic_traces

from calab.server.bridge_session import load_dataset

pytestmark = BROWSER_MARKS
FS = 30.0


def record_solves(page) -> list[dict]:
    """The bodies of the page's main solve requests (not the pins'), as sent."""
    bodies: list[dict] = []

    def seen(request) -> None:
        if request.url.endswith("/api/v1/solve") and request.method == "POST":
            body = json.loads(request.post_data)
            if not str(body.get("session", "")).startswith("pins-"):
                bodies.append(body)

    page.on("request", seen)
    return bodies


def assert_shown_is_sent(page, bodies: list[dict]) -> tuple[float, float, float]:
    """The boxes hold at most 0.1-ms / 4-digit values, and the last solve sent exactly them."""
    wait_all_fresh(page)
    rise, decay = number(page, "tau-rise-ms"), number(page, "tau-decay-ms")
    lam = number(page, "lambda")
    for ms in (rise, decay):
        assert ms == round(ms, 1), ms
    assert lam == float(f"{lam:.4g}"), lam
    last = bodies[-1]
    assert last["tau_rise"] == pytest.approx(rise / 1000, rel=1e-12)
    assert last["tau_decay"] == pytest.approx(decay / 1000, rel=1e-12)
    assert last["lambda"] == pytest.approx(lam, rel=1e-12)
    return rise, decay, lam


def test_shown_precision_is_what_the_solver_gets(browser, tmp_path):
    dataset = load_dataset(synthetic_traces(51, n_cells=4, seconds=60.0), FS, suggest=True)
    assert dataset.suggestion is not None
    with opened_app(browser, dataset, ready="body[data-ready=true]") as (page, _run):
        bodies = record_solves(page)
        page.reload()  # record from the first solve on
        suggested = assert_shown_is_sent(page, bodies)
        assert suggested[1] == round(1000 * dataset.suggestion["tau_decay"], 1)

        set_number(page, "tau-decay-ms", "451.29371")
        assert number(page, "tau-decay-ms") == 451.3
        set_number(page, "lambda", "0.1234567")
        assert number(page, "lambda") == 0.1235
        typed = assert_shown_is_sent(page, bodies)
        assert bodies[-1]["tau_decay"] == 0.4513 and bodies[-1]["lambda"] == 0.1235

        page.select_option("[data-testid=param-mode]", "peak-fwhm")
        assert number(page, "t-peak-ms") == round(number(page, "t-peak-ms"), 1)
        set_number(page, "t-peak-ms", "123.456")
        assert_shown_is_sent(page, bodies)
        page.select_option("[data-testid=param-mode]", "rise-decay")

        page.click("[data-testid=undo]")
        assert assert_shown_is_sent(page, bodies) == typed
        page.click("[data-testid=suggestion-reset]")
        assert assert_shown_is_sent(page, bodies) == suggested

        set_number(page, "tau-decay-ms", "451.29371")
        wait_all_fresh(page)
        page.wait_for_timeout(400)  # persist.js saves 200 ms after a change
        page.reload()
        assert assert_shown_is_sent(page, bodies)[1] == 451.3

        export = {"schema_version": "1.2.0", "parameters": {
            "tau_rise_s": 0.0234567, "tau_decay_s": 0.3456789, "lambda": 0.0987654321,
            "sampling_rate_hz": FS, "filter_enabled": False}}
        path = tmp_path / "old-export.json"
        path.write_text(json.dumps(export))
        page.set_input_files("[data-testid=resume-export]", str(path))
        page.wait_for_function("() => document.body.dataset.resumed")
        assert assert_shown_is_sent(page, bodies) == (23.5, 345.7, 0.09877)
