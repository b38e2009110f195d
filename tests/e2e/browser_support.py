"""Headless Chromium helpers shared by the browser tests and the latency benchmark."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"

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


def maybe_screenshot(page, name: str) -> None:
    """Save a documentation screenshot when ``CALAB_DOC_SCREENSHOTS=1``."""
    if os.environ.get("CALAB_DOC_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOC_IMAGES / name), full_page=False)
