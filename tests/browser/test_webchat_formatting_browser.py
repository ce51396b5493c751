"""Formatted survey texts in headless Chromium: the web chat draws the spans as <strong>, <em>
and <a> elements whose text is set as text, so an answer holding HTML stays text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import RunningBot
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip
from testkit.webchat_harness import web_chat_bot

FORM = """\
id: wording
title: Wording
questions:
  - {type: text, name: first_name, label: "What is your **first name**?"}
  - type: integer
    name: age
    label: "How old is _${first_name}_? See [the guide](https://nso.example/guide)"
"""
NAME = "<img src=x onerror=alert(1)>Ann"


@pytest.fixture
async def web_bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    forms = tmp_path / "surveys"
    forms.mkdir()
    (forms / "wording.yaml").write_text(FORM)
    async with web_chat_bot(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", surveys_directory=forms) as bot:
        yield bot


async def test_formatting_is_drawn_as_elements_and_answers_stay_text(web_bot: RunningBot) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{web_bot.web_port}/")
            log = page.get_by_role("log")
            box = page.get_by_label("Your message")
            await box.fill("/survey wording")
            await box.press("Enter")
            await expect(log).to_contain_text("1/2 · What is your first name?")
            await expect(log.locator("strong", has_text="first name")).to_have_count(1)
            await box.fill(NAME)
            await box.press("Enter")
            await expect(log).to_contain_text(f"2/2 · How old is {NAME}? See the guide")
            await expect(log.locator("em", has_text=NAME)).to_have_count(1)
            link = log.locator("a", has_text="the guide")
            await expect(link).to_have_attribute("href", "https://nso.example/guide")
            await expect(log.locator(".bubble img")).to_have_count(0)
        finally:
            await browser.close()
