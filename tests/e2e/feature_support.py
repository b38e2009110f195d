"""Shared pieces of the browser tests of the app's features (kernel mode, pins, tabs, ...)."""

from __future__ import annotations

import numpy as np


def synthetic_traces(seed: int, n_cells: int = 8, seconds: float = 90.0, fs: float = 30.0):
    """Spiky traces of ``n_cells`` cells with different noise levels (so SNRs differ)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    events = (rng.random((n_cells, n)) < 0.6 / fs).astype(float) * rng.uniform(0.5, 2, (n_cells, 1))
    i = np.arange(int(3 * fs))
    kernel = np.exp(-i / (0.5 * fs)) - np.exp(-i / (0.05 * fs))
    clean = np.array([np.convolve(e, kernel)[:n] for e in events])
    noise = rng.normal(size=clean.shape) * np.linspace(0.2, 1.5, n_cells)[:, None]
    return 5 * clean + noise + 10


def new_page(browser, width: int = 1600, height: int = 1000):
    """A fresh context and page (own localStorage) with JavaScript errors collected."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  accept_downloads=True)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    return context, page


def number(page, testid: str) -> float:
    return float(page.input_value(f"[data-testid={testid}]"))
