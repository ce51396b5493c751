"""The shipped survey answered in the web chat with the real engine: stored like Telegram's."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import RunningBot, running_bot
from bot.config import Settings, WebSettings
from storage.exports.files import export_responses
from surveys.model import Survey
from testkit.exports import EVERY_RESPONSE_JOINED
from testkit.telegram_harness import FORMS, NO_FLOOD_LIMIT, PSEUDONYM_KEY
from tests.bot.channels.webchat.test_webchat import CHROMIUM, CHROMIUM_ARGS, _async_playwright_or_skip


@pytest.fixture
async def web_bot(database_url: str) -> AsyncIterator[RunningBot]:
    settings = Settings(
        database_url=database_url,
        surveys_directory=FORMS,
        pseudonym_key=PSEUDONYM_KEY,
        web=WebSettings(port=0),
        flood=NO_FLOOD_LIMIT,  # the browser clicks faster than people
    )
    async with running_bot(settings) as bot:
        yield bot


class WebVisitor:
    """One browser session speaking the page's JSON protocol."""

    def __init__(self, client: aiohttp.ClientSession, base: str) -> None:
        self.client = client
        self.base = base
        self.count = 0
        self.last: list[dict[str, Any]] = []

    async def post(self, **body: str) -> list[dict[str, Any]]:
        self.count += 1
        async with self.client.post(f"{self.base}/api/messages", json={"id": f"m{self.count}", **body}) as response:
            assert response.status == 200, await response.text()
            self.last = (await response.json())["messages"]
        return self.last

    async def press(self, label: str) -> list[dict[str, Any]]:
        for message in reversed(self.last):
            for row in message["buttons"]:
                for button in row:
                    text = button["label"]
                    if text == label or text.endswith(f" {label}") or text.startswith(f"{label} "):
                        return await self.post(payload=button["payload"])
        raise LookupError(f"no button {label!r}")


async def test_web_chat_survey_is_stored_and_exported_like_telegram(web_bot: RunningBot, usat: Survey) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        visitor = WebVisitor(client, f"http://127.0.0.1:{web_bot.web_port}")
        greeting = await visitor.post(payload="resume")
        assert greeting[0]["text"].startswith("Hello!")
        await visitor.press("User satisfaction survey 2026")
        await visitor.press("Academic or researcher")
        await visitor.post(text="weekly")
        await visitor.press("Research or teaching")
        replies = await visitor.press("Done")
        assert replies[0]["replaces_pressed"]
        await visitor.post(text="1,2")
        for score in "54321":
            await visitor.press(score)
        replies = await visitor.post(text="lots")
        assert replies[0]["text"] == "Please type a whole number, for example 12."
        await visitor.post(text="12")
        await visitor.press("Skip")
        replies = await visitor.post(text="Keep up the good work")
        assert replies[-1]["text"].startswith("Thank you!")

    out = io.StringIO()
    await export_responses(web_bot.database, usat, EVERY_RESPONSE_JOINED, "csv", out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["channel"] == "web" and row["complete"] == "true"
    assert (row["user_group"], row["frequency"], row["purposes"], row["topics"]) == (
        "academic",
        "weekly",
        "research",
        "prices labour",
    )
    assert [row[f"sat_{n}"] for n in ("relevance", "timeliness", "accessibility", "clarity", "overall")] == list(
        "54321"
    )
    assert (row["releases_used"], row["last_use"], row["comments"]) == ("12", "", "Keep up the good work")


async def test_reloading_the_page_resumes_at_the_same_question(web_bot: RunningBot) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        visitor = WebVisitor(client, f"http://127.0.0.1:{web_bot.web_port}")
        await visitor.post(text="/survey usat2026")
        await visitor.press("Media")
        replies = await visitor.post(payload="resume")
        assert replies[-1]["text"].startswith("2/12 · How often")


async def test_a_person_answers_in_a_real_browser(web_bot: RunningBot, tmp_path: Path) -> None:
    async_playwright = _async_playwright_or_skip()
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
            await page.screenshot(path=str(tmp_path / "survey.png"))
            await page.reload()
            await expect(log).to_contain_text("3/12 · What do you use our statistics for?")
        finally:
            await browser.close()
