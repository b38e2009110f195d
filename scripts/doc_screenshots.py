"""Regenerate the tuning guide's screenshots (docs/images/tune-*.png).

Drives the real app in headless Chromium (/usr/bin/chromium) at 1600x1000 on recordings from
``calab.simulate`` (GCaMP6f, 30 Hz), opened at the parameters ``calab.suggest_params``
suggests, as ``calab tune`` does. Usage::

    python scripts/doc_screenshots.py            # every screenshot
    python scripts/doc_screenshots.py pins zoom  # only these scenes

Look at every image it writes before committing it.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from browser_support import headless_browser, set_number, wait_all_fresh  # noqa: E402

import calab  # noqa: E402
from calab.server.bridge_session import load_dataset  # noqa: E402
from calab.server.tune import TuningRun  # noqa: E402

IMAGES = ROOT / "docs" / "images"
VIEWPORT = {"width": 1600, "height": 1000}
FS = 30.0
SCENES: dict[str, Callable] = {}


def scene(function: Callable) -> Callable:
    SCENES[function.__name__] = function
    return function


def simulated(num_cells: int, minutes: float, seed: int) -> np.ndarray:
    return calab.simulate(num_cells=num_cells, duration_s=60.0 * minutes, fs=FS,
                          indicator="gcamp6f", seed=seed).traces


class Shot:
    """A page on a bridge serving ``data`` (None: the empty app), closed after use."""

    def __init__(self, browser, data, *, ready: str = "fresh", **run_options) -> None:
        self.browser, self.data, self.ready, self.run_options = browser, data, ready, run_options

    def __enter__(self):
        self.run = TuningRun(self.data, **self.run_options).__enter__()
        self.context = self.browser.new_context(viewport=VIEWPORT)
        self.context.add_init_script("localStorage.setItem('calab.tour', 'skipped')")
        page = self.context.new_page()
        page.goto(self.run.url)
        if self.ready == "fresh":
            wait_all_fresh(page, 120_000)
        else:
            page.wait_for_selector(self.ready)
        return page

    def __exit__(self, *exc) -> None:
        self.context.close()
        self.run.__exit__(*exc)


def save(page, name: str) -> None:
    page.evaluate("document.getElementById('toast').classList.remove('show')")  # passing notes
    page.wait_for_timeout(300)  # the toast fades, charts settle
    page.screenshot(path=str(IMAGES / name))
    print("wrote", IMAGES / name)


@scene
def main_view(browser, big) -> None:
    with Shot(browser, big) as page:
        save(page, "tune-app.png")
        box = page.locator("#tau-decay-slider").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] / 2)
        wait_all_fresh(page)
        save(page, "tune-suggestion.png")


@scene
def cells(browser, big) -> None:
    with Shot(browser, big) as page:
        page.select_option("[data-testid=card-size]", "0.7")  # the page with cell 150 fits
        set_number(page, "cell-goto", "150")
        page.wait_for_selector("[data-testid=cell-card][data-cell-index='150'][data-state=fresh]")
        wait_all_fresh(page)
        save(page, "tune-goto-cell.png")
        page.select_option("[data-testid=card-size]", "1")
        page.check("[data-testid=filter-enabled]")
        wait_all_fresh(page)
        save(page, "tune-filter-on.png")


@scene
def kernel(browser, big) -> None:
    with Shot(browser, big) as page:
        page.select_option("[data-testid=param-mode]", "peak-fwhm")
        wait_all_fresh(page)
        save(page, "tune-kernel-peak-fwhm.png")


@scene
def pins(browser, big) -> None:
    with Shot(browser, big) as page:
        page.select_option("[data-testid=window-length]", "30")  # dashed overlays readable
        wait_all_fresh(page)
        page.fill("[data-testid=pin-name]", "suggestion")
        page.click("[data-testid=pin]")
        lam = float(page.input_value("[data-testid=lambda]"))
        set_number(page, "lambda", str(round(4 * lam, 3)))
        wait_all_fresh(page)
        page.fill("[data-testid=pin-name]", "sparser")
        page.click("[data-testid=pin]")
        set_number(page, "lambda", str(round(lam / 4, 4)))
        wait_all_fresh(page)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=pinned-item] [data-value]')")
        page.locator("[data-testid=pinned-list]").scroll_into_view_if_needed()
        save(page, "tune-pins.png")


@scene
def tabs(browser, big) -> None:
    traces = simulated(12, 2.0, seed=7)
    t = np.arange(traces.shape[1]) / FS
    traces[4] += 0.15 * np.sin(2 * np.pi * 3.0 * t)  # a 3 Hz line in cell 4
    with Shot(browser, load_dataset(traces, FS, suggest=True)) as page:
        page.click("[data-testid=tab-metrics]")
        page.wait_for_selector("[data-testid=metrics-row]")
        page.wait_for_selector("[data-testid=metrics-table]:not([data-state=loading])")
        save(page, "tune-metrics.png")
        page.click("[data-testid=tab-spectrum]")
        page.fill("[data-testid=spectrum-cell]", "4")
        page.dispatch_event("[data-testid=spectrum-cell]", "change")
        page.wait_for_selector("#panel-spectrum[data-cell-index='4'][data-state=fresh]")
        save(page, "tune-spectrum.png")


@scene
def missing(browser, big) -> None:
    traces = simulated(6, 2.0, seed=8)
    traces[0, 300:420] = np.nan
    traces[2, 900:905] = np.nan
    with Shot(browser, load_dataset(traces, FS, suggest=True)) as page:
        save(page, "tune-nan-notice.png")


@scene
def dropped(browser, big) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session3_dff.npy"
        np.save(path, simulated(8, 1.0, seed=9).T)  # time-first: the dialog offers to transpose
        with Shot(browser, None, ready="body[data-ready=true]") as page:
            page.set_input_files("[data-testid=file-input]", str(path))
            page.wait_for_selector("[data-testid=drop-summary][data-state=ready]")
            save(page, "tune-drop-dialog.png")
        gappy = simulated(5, 40 / 60, seed=10)
        gappy[1, 10:13] = np.nan
        gappy[3, 50] = np.inf
        gappy[4, :] = np.nan
        path = Path(tmp) / "gappy.npy"
        np.save(path, gappy.T)
        with Shot(browser, None, ready="body[data-ready=true]") as page:
            page.set_input_files("[data-testid=file-input]", str(path))
            page.wait_for_selector("[data-testid=drop-summary][data-state=ready]")
            save(page, "tune-drop-validation.png")
        path = Path(tmp) / "big.npy"
        np.save(path, np.zeros((4, 100_000)))
        with Shot(browser, None, ready="body[data-ready=true]", upload_limit=2**20) as page:
            page.set_input_files("[data-testid=file-input]", str(path))
            page.wait_for_selector("[data-testid=toast].show.error")
            page.wait_for_timeout(400)  # the toast's fade-in
            page.screenshot(path=str(IMAGES / "tune-too-large.png"))  # while the message shows
            print("wrote", IMAGES / "tune-too-large.png")


@scene
def demo(browser, big) -> None:
    with Shot(browser, None, ready="body[data-ready=true]") as page:
        page.click("[data-testid=demo-load]")
        wait_all_fresh(page, 180_000)
        save(page, "tune-demo.png")


@scene
def tour(browser, big) -> None:
    with Shot(browser, big) as page:
        page.click("[data-testid=tour-start]")
        for _ in range(3):
            page.click("[data-testid=tour-next]")
        page.wait_for_selector("[data-testid=tour]:visible")
        save(page, "tune-tour.png")


@scene
def zoom(browser, big) -> None:
    with Shot(browser, big) as page:
        card = page.locator("[data-testid=cell-card]").first
        cell = int(card.get_attribute("data-cell-index"))
        start, end = (float(card.get_attribute(k)) for k in ("data-view-start", "data-view-end"))
        charts = f"window.calab.state.cards.get({cell}).charts"
        trace = page.evaluate(f"Array.from({charts}.trace.data[1])")
        peak = start + int(np.nanargmax(np.array(trace, dtype=float))) / FS
        box = card.locator(".chart-trace .u-over").bounding_box()
        at = lambda t: box["x"] + box["width"] * (t - start) / (end - start)  # noqa: E731
        y = box["y"] + box["height"] / 2
        page.mouse.move(at(peak - 0.8), y)
        page.mouse.down()
        page.mouse.move(at(peak + 1.7), y, steps=4)
        page.mouse.up()
        v0, v1 = (float(card.get_attribute(k)) for k in ("data-view-start", "data-view-end"))
        activity = np.array(page.evaluate(f"Array.from({charts}.activity.data[1])"), dtype=float)
        first = round((peak - 0.8 - start) * FS)
        event = start + (first + int(np.argmax(activity[first:first + round(FS)]))) / FS
        page.mouse.move(box["x"] + box["width"] * (event - v0) / (v1 - v0), y)  # on the event
        page.wait_for_selector("[data-testid=cell-card] [data-testid=hover-readout]:visible")
        page.screenshot(path=str(IMAGES / "tune-zoom-readout.png"))
        print("wrote", IMAGES / "tune-zoom-readout.png")


def main(names: list[str]) -> None:
    unknown = set(names) - set(SCENES)
    if unknown:
        raise SystemExit(f"unknown scenes {sorted(unknown)}; choose from {sorted(SCENES)}")
    IMAGES.mkdir(parents=True, exist_ok=True)
    big = load_dataset(simulated(200, 10.0, seed=17), FS, suggest=True)  # 200 cells, 10 minutes
    with headless_browser() as browser:
        for name in names or SCENES:
            SCENES[name](browser, big)


if __name__ == "__main__":
    main(sys.argv[1:])
