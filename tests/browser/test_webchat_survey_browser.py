"""The shipped survey answered by a person in headless Chromium, with the real engine behind the web chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import RunningBot
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip, save_screenshot
from testkit.webchat_harness import web_chat_bot


@pytest.fixture
async def web_bot(database_url: str) -> AsyncIterator[RunningBot]:
    async with web_chat_bot(database_url) as bot:
        yield bot


async def test_a_person_answers_in_a_real_browser(web_bot: RunningBot, tmp_path: Path) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(f"http://127.0.0.1:{web_bot.web_port}/")
            log = page.get_by_role("log")
            await page.get_by_role("button", name="User satisfaction survey 2026").click()
            await expect(log).to_contain_text("1/12 · Which best describes you?")
            await page.get_by_role("button", name="Citizen").click()
            await expect(log).to_contain_text("2/12 · How often")
            box = page.get_by_label("Your message")
            await box.fill("sometimes")
            await box.press("Enter")
            await expect(log).to_contain_text("Please press one of the buttons, or type a number from 1 to 5.")
            await box.fill("3")
            await box.press("Enter")
            await expect(log).to_contain_text("3/12 · What do you use our statistics for?")
            await save_screenshot(page, tmp_path / "survey.png")
            await page.reload()
            await expect(log).to_contain_text("3/12 · What do you use our statistics for?")
        finally:
            await browser.close()
