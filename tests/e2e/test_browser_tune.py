"""The tuning app in real headless Chromium, end to end through tune() and `calab tune`."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from browser_support import set_number, wait_all_fresh
from feature_support import BROWSER_MARKS, app_page, card_indices
from feature_support import synthetic_traces as varied_traces

from calab.io.export import load_export_params
from calab.server.tune import TuningRun

pytestmark = BROWSER_MARKS


def synthetic_traces(seed: int, n_cells: int = 8, seconds: float = 90.0, fs: float = 30.0):
    """Spiky traces, every cell with noise 0.4."""
    return varied_traces(seed, n_cells, seconds, fs, noise=0.4)


@pytest.fixture
def page(browser):
    with app_page(browser, width=1400, height=900) as page:
        yield page


@pytest.fixture
def announced_urls():
    urls: list[str] = []

    class Catcher(logging.Handler):
        def emit(self, record):
            urls.append(record.args[0])

    logger = logging.getLogger("calab.tune")
    handler, level = Catcher(), logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield urls
    logger.removeHandler(handler)
    logger.setLevel(level)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def tune_in_page(page, url: str) -> None:
    """Open the app, wait for fresh cards, set rise 100 ms, decay 450 ms, lambda 2.5, the filter.

    The app opens at the suggestion (calab.suggest_params), so every value is set here.
    """
    page.goto(url)
    wait_all_fresh(page)
    states = set_number(page, "tau-decay-ms", "450")
    assert states and "fresh" not in states  # the change made every card stale / solving
    wait_all_fresh(page)
    set_number(page, "tau-rise-ms", "100")
    wait_all_fresh(page)
    set_number(page, "lambda", "2.5")
    page.check("[data-testid=filter-enabled]")
    wait_all_fresh(page)


EXPECTED = {"tau_rise": 0.1, "tau_decay": 0.45, "lambda_": 2.5, "filter_enabled": True}


def test_tune_returns_the_values_set_in_the_browser_and_download_works(
    page, announced_urls, tmp_path
):
    import calab

    traces = synthetic_traces(1, n_cells=10)
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.setdefault("result", calab.tune(
            traces, fs=30.0, open_browser=False, timeout=120, cells=[1, 3, 4, 6, 8, 9])),
        daemon=True,
    )
    thread.start()
    wait_for(lambda: announced_urls)
    tune_in_page(page, announced_urls[0])
    assert sorted(card_indices(page)) == [1, 3, 4, 6, 8, 9]
    assert page.text_content("[data-testid=kernel-peak]").endswith("ms")

    with page.expect_download() as info:
        page.click("[data-testid=export-download]")
    download = info.value
    assert download.suggested_filename == f"catune-params-{time.strftime('%Y-%m-%d')}.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert load_export_params(saved) == {**EXPECTED, "fs": 30.0}
    assert json.loads(saved.read_text())["schema_version"] == "1.2.0"

    page.click("[data-testid=export-python]")
    thread.join(30)
    assert box["result"] == {**EXPECTED, "fs": 30.0}


def test_cli_tune_prints_the_values_set_in_the_browser(page, tmp_path):
    stem = tmp_path / "session"
    from calab.io.tuning import save_for_tuning

    save_for_tuning(synthetic_traces(2, n_cells=5), 20.0, stem)
    process = subprocess.Popen(
        [sys.executable, "-c", "from calab.cli import main; main()", "tune", str(stem),
         "--no-browser", "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stderr.readline()
        url = line.split("open ", 1)[1].strip()
        tune_in_page(page, url)
        assert sorted(card_indices(page)) == [0, 1, 2, 3, 4]
        page.click("[data-testid=export-python]")
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert json.loads(out) == {**EXPECTED, "fs": 20.0}


def test_dropping_a_file_loads_it_and_solves(page, tmp_path):
    recording = synthetic_traces(3, n_cells=4, seconds=40.0, fs=15.0).T  # time-first
    path = tmp_path / "dropped.npz"
    np.savez(path, F=recording, timestamps=np.arange(recording.shape[0]) / 15.0)
    with TuningRun(None) as run:
        page.goto(run.url)
        page.wait_for_selector("[data-testid=dropzone]", state="visible")
        assert page.locator("[data-testid=cell-card]").count() == 0
        page.set_input_files("[data-testid=file-input]", str(path))
        page.wait_for_selector("[data-testid=drop-dialog][open]")
        assert page.text_content("#drop-dims").startswith("4 cells × 600 time points")
        page.fill("[data-testid=drop-fs]", "15")
        page.click("[data-testid=drop-confirm]")
        wait_all_fresh(page)
        assert sorted(card_indices(page)) == [0, 1, 2, 3]
        np.testing.assert_array_equal(run.session.dataset.traces, recording.T)
        assert run.session.dataset.fs == 15.0
        assert "dropped.npz:F" in page.text_content("[data-testid=dataset-info]")


def test_dropping_via_a_drop_event(page, tmp_path):
    """A real drag-and-drop: a DataTransfer holding the .npy bytes, dispatched as `drop`."""
    buffer = io.BytesIO()
    np.save(buffer, synthetic_traces(4, n_cells=3, seconds=30.0))
    payload = list(buffer.getvalue())
    with TuningRun(None) as run:
        page.goto(run.url)
        page.wait_for_selector("[data-testid=dropzone]", state="visible")
        page.evaluate(
            """(bytes) => {
                const file = new File([new Uint8Array(bytes)], 'cells.npy');
                const data = new DataTransfer();
                data.items.add(file);
                window.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true}));
            }""",
            payload,
        )
        page.wait_for_selector("[data-testid=drop-dialog][open]")
        page.click("[data-testid=drop-confirm]")
        wait_all_fresh(page)
        assert sorted(card_indices(page)) == [0, 1, 2]
        assert run.session.dataset.fs == 30.0


def test_keyboard_nudge_and_undo(page):
    from calab.server.bridge_session import load_dataset

    with TuningRun(load_dataset(synthetic_traces(5, n_cells=2, seconds=30.0), 30.0)) as run:
        page.goto(run.url)
        wait_all_fresh(page)
        page.click("body", position={"x": 700, "y": 20})
        page.keyboard.press("ArrowRight")
        assert float(page.input_value("[data-testid=tau-decay-ms]")) == pytest.approx(630.0)
        wait_all_fresh(page)
        page.keyboard.press("Control+z")
        assert float(page.input_value("[data-testid=tau-decay-ms]")) == 600.0
        set_number(page, "tau-rise-ms", "900")  # above decay: kept below it
        assert float(page.input_value("[data-testid=tau-rise-ms]")) < 600.0
        wait_all_fresh(page)


def test_closing_the_page_ends_the_wait(browser, monkeypatch):
    """The page's heartbeat (from a worker) keeps tune() waiting; closing the tab ends it."""
    from calab.server import bridge_session

    monkeypatch.setattr(bridge_session, "HEARTBEAT_TIMEOUT_S", 4.0)  # 10 s in real use
    dataset = bridge_session.load_dataset(synthetic_traces(6, n_cells=2, seconds=20.0), 30.0)
    with TuningRun(dataset) as run:
        page = browser.new_page()
        page.goto(run.url)
        page.wait_for_selector("[data-testid=bridge-status][data-connected=true]")
        first = run.session.last_heartbeat
        assert first is not None
        wait_for(lambda: run.session.last_heartbeat > first, timeout=8)  # beats every 3 s
        assert run.wait(timeout=0.5) is None and run.outcome == "timeout"  # still alive
        page.close()
        began = time.monotonic()
        assert run.wait(timeout=30) is None
        assert run.outcome == "heartbeat-lost"
        assert time.monotonic() - began < 8
