"""Headless Chromium for the browser tests: where it is, how it is started, and Playwright or a skip."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from testkit import paths

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def async_playwright_or_skip() -> Any:
    """Playwright's ``async_playwright``; skips the test when Playwright or Chromium is missing
    (fails instead under CI, where the browser tests must run)."""
    reason = None
    async_playwright: Any = None
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        reason = "Playwright for Python is not installed (pip install playwright)"
    if reason is None and not os.access(CHROMIUM, os.X_OK):
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; the browser test must run in CI")
        pytest.skip(reason)
    return async_playwright


async def save_screenshot(page: Any, path: Any, *, full_page: bool = False, attempts: int = 3) -> bytes:
    """Save what ``page`` shows to ``path`` and return the PNG bytes.

    Chromium sometimes answers ``Page.captureScreenshot`` with "Unable to capture screenshot"
    when the machine is loaded (seen in CI on a full-page shot); the page itself is fine, so
    the shot is taken again after the next animation frame rather than failing the behaviour
    the test is about."""
    for attempt in range(1, attempts + 1):
        try:
            shot: bytes = await page.screenshot(path=str(path), full_page=full_page)
            return shot
        except Exception as error:  # playwright's Error: its module is imported lazily above
            if attempt == attempts or "Unable to capture screenshot" not in str(error):
                raise
            await page.evaluate("() => new Promise(requestAnimationFrame)")
    raise AssertionError("unreachable")


def screenshot_folder(tmp_path: Path) -> Path:
    """Where a test's pictures go: ``$BARAZA_SCREENSHOTS`` (relative to the repository; ``make
    screenshots`` sets it to refresh the documentation's pictures), else the test's own folder, so
    that running the tests never changes the checkout."""
    chosen = os.environ.get("BARAZA_SCREENSHOTS")
    folder = paths.ROOT / chosen if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
