"""Shared pieces of the browser tests of the app's features (kernel mode, pins, tabs, ...)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from browser_support import chromium_available, wait_all_fresh

# The marks of every browser test module: ``pytestmark = BROWSER_MARKS``.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium"),
]


def synthetic_traces(seed: int, n_cells: int = 8, seconds: float = 90.0, fs: float = 30.0,
                     noise: float | None = None):
    """Spiky traces of ``n_cells`` cells with different noise levels (so SNRs differ).

    With ``noise``, every cell has that noise level instead.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    events = (rng.random((n_cells, n)) < 0.6 / fs).astype(float) * rng.uniform(0.5, 2, (n_cells, 1))
    i = np.arange(int(3 * fs))
    kernel = np.exp(-i / (0.5 * fs)) - np.exp(-i / (0.05 * fs))
    clean = np.array([np.convolve(e, kernel)[:n] for e in events])
    scale = np.linspace(0.2, 1.5, n_cells)[:, None] if noise is None else noise
    return 5 * clean + rng.normal(size=clean.shape) * scale + 10


def new_page(browser, width: int = 1600, height: int = 1000):
    """A fresh context and page (own localStorage) with JavaScript errors collected."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  accept_downloads=True)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    return context, page


def card_indices(page) -> list[int]:
    """The cell index of every card on the page, in page order."""
    return page.eval_on_selector_all(
        "[data-testid=cell-card]", "els => els.map(e => Number(e.dataset.cellIndex))")


def number(page, testid: str) -> float:
    return float(page.input_value(f"[data-testid={testid}]"))


@contextlib.contextmanager
def app_page(browser, url: str | None = None, *, ready: str = "fresh",
             timeout_ms: float = 120_000, width: int = 1600, height: int = 1000):
    """A fresh page (``new_page``), at ``url`` when given, and ready there.

    ``ready="fresh"`` waits (up to ``timeout_ms``; the first solve may compile the solver)
    until every cell card is fresh; any other value is a selector to wait for. At the end
    the context is closed and, if the body passed, no JavaScript error may have occurred.
    """
    context, page = new_page(browser, width, height)
    try:
        if url is not None:
            page.goto(url)
            if ready == "fresh":
                wait_all_fresh(page, timeout_ms)
            else:
                page.wait_for_selector(ready)
        yield page
    finally:
        context.close()
    assert page.js_errors == [], f"JavaScript errors: {page.js_errors}"


@contextlib.contextmanager
def opened_app(browser, dataset, **page_options) -> Iterator[tuple]:
    """A real bridge serving ``dataset`` (``TuningRun``; ``None``: no data) and an
    ``app_page`` open on it: yields ``(page, run)``."""
    from calab.server.tune import TuningRun

    with TuningRun(dataset) as run, app_page(browser, run.url, **page_options) as page:
        yield page, run
