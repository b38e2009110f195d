"""Headless Chromium helpers shared by the browser tests and the latency benchmark."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# JS: resolve once every cell card is present and fresh (watching attribute changes).
ALL_FRESH_JS = """
() => new Promise((resolve) => {
  const done = () => {
    const cards = [...document.querySelectorAll('[data-testid=cell-card]')];
    return cards.length > 0 && cards.every((c) => c.dataset.state === 'fresh');
  };
  if (done()) { resolve(true); return; }
  const observer = new MutationObserver(() => {
    if (done()) { observer.disconnect(); resolve(true); }
  });
  observer.observe(document.body, { attributes: true, subtree: true, childList: true,
                                     attributeFilter: ['data-state'] });
})
"""


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


@contextlib.contextmanager
def headless_browser() -> Iterator[object]:
    """A playwright Chromium browser (the system one, never a download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def set_number(page, testid: str, value: str) -> list[str]:
    """Type a value into a number input and fire ``change`` (as the app expects).

    Returns the cards' ``data-state`` values right after the event was handled.
    """
    return page.eval_on_selector(
        f"[data-testid={testid}]",
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('change', {bubbles: true}));"
        " return [...document.querySelectorAll('[data-testid=cell-card]')]"
        ".map((c) => c.dataset.state); }",
        value,
    )


def wait_all_fresh(page, timeout_ms: float = 30_000) -> None:
    """Wait until every cell card is ``data-state="fresh"``."""
    page.wait_for_function(
        "() => { const c = [...document.querySelectorAll('[data-testid=cell-card]')];"
        " return c.length > 0 && c.every((e) => e.dataset.state === 'fresh'); }",
        timeout=timeout_ms,
    )


# JS: move the decay slider with `input` events at `hz` for `ms` (and, when `minRefreshes` is
# given, on until every card was redrawn that often, at most 20 s), then release it (`change`).
# Returns per-card refresh counts during the drag, the requests the page sent, and the time
# from release until every card is fresh.
DRAG_JS = """
async ({ ms, hz, first, minRefreshes = 0 }) => {
  const slider = document.getElementById('tau-decay-slider');
  const cards = () => [...document.querySelectorAll('[data-testid=cell-card]')];
  const count = () => cards().map((c) => Number(c.dataset.refreshes || 0));
  const before = count();
  const sentBefore = window.calab.solver ? window.calab.solver.sent : 0;
  const dims = [];
  let k = 0;
  const began = performance.now();
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      slider.value = String(first + k);
      slider.dispatchEvent(new Event('input', { bubbles: true }));
      k += 1;
      if (k % 10 === 0) {
        const chart = cards()[0].querySelector('.chart');
        dims.push([cards()[0].dataset.state, Number(getComputedStyle(chart).opacity)]);
      }
      const elapsed = performance.now() - began;
      const enough = count().every((n, i) => n - before[i] >= minRefreshes);
      if ((elapsed >= ms && enough) || elapsed >= 20000) { clearInterval(timer); resolve(); }
    }, 1000 / hz);
  });
  const dragMs = performance.now() - began;
  const during = count().map((n, i) => n - before[i]);
  const released = performance.now();
  slider.dispatchEvent(new Event('change', { bubbles: true }));
  await (""" + ALL_FRESH_JS + """)();
  return { events: k, dragMs, during, settleMs: performance.now() - released, dims,
           sent: (window.calab.solver ? window.calab.solver.sent : 0) - sentBefore,
           maxInFlight: window.calab.solver ? window.calab.solver.maxInFlight : 0 };
}
"""


def load_slack() -> float:
    """How much slower than a quiet machine this one is now (>= 1): the 1-minute load
    average per core. Timing assertions of the browser tests scale their bounds by it;
    the benchmark reports the raw figures instead."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
