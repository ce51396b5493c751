"""The web chat page's own words in the conversation's language (issue 17, item 7), in headless
Chromium at phone width in French: the location placeholder, the file-size warning, "text too
long" and "too many requests" (real refusals of the server), and the "Notify me" button of
push.js, drawn in the page's button style. The words come from the ``interface`` texts the
server sends with each answer (catalogue keys ``webchat_*``); the embed panel's "Close" is in
tests/browser/test_webchat_embed_browser.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import RunningBot
from bot.config import WebLimits
from bot.limits import Rate
from handlers.texts import Texts
from storage.media import MediaSettings
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip
from testkit.media import picture
from testkit.webchat_harness import web_chat_bot

pytestmark = pytest.mark.browser

FR = Texts("fr")
FIELD_VISIT = """
id: fieldvisit
title: Field visit
questions:
  - {type: image, name: stall, label: Photo of the market stall}
  - {type: geopoint, name: where, label: Where is the stall}
"""
LIMIT = 200_000
#: Twelve messages of one session at once, then hardly any: the thirteenth is refused (429).
SESSION_BURST = 12
LIMITS = WebLimits(chat_per_session=Rate(SESSION_BURST, 0.001))


@pytest.fixture
async def french_bot(database_url: str, tmp_path: Path) -> AsyncIterator[RunningBot]:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "fieldvisit.yaml").write_text(FIELD_VISIT, encoding="utf-8")
    media = MediaSettings(directory=tmp_path / "media", max_bytes=LIMIT)
    async with web_chat_bot(database_url, surveys_directory=forms, media=media, limits=LIMITS) as bot:
        yield bot


async def test_the_pages_own_words_are_french_in_a_french_conversation(french_bot: RunningBot, tmp_path: Path) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    (tmp_path / "film.mp4").write_bytes(bytes(2 * LIMIT))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(f"http://127.0.0.1:{french_bot.web_port}/")
            await expect(page.locator("html")).to_have_attribute("lang", "fr")
            log = page.get_by_role("log")
            box = page.get_by_label("Votre message")

            # push.js: "Notify me" in French, a button like the page's others (not the browser's grey).
            notify = page.get_by_role("button", name=FR("webchat_notify_offer"))
            await expect(notify).to_be_visible()
            assert FR("webchat_notify_offer") == "M’avertir"
            style = await notify.evaluate(
                "b => { const s = getComputedStyle(b); return [s.borderTopLeftRadius, s.backgroundColor,"
                " s.color, s.fontWeight, b.getBoundingClientRect().height]; }"
            )
            assert style[:4] == ["12px", "rgb(255, 255, 255)", "rgb(11, 87, 164)", "600"], style
            assert style[4] >= 44, "a thumb-sized button"

            await box.fill("/survey fieldvisit")
            await box.press("Enter")
            await expect(log).to_contain_text("Photo of the market stall")

            # A file over the limit is refused in the page, in French.
            await page.locator(".answer-tools input[type=file]").last.set_input_files(str(tmp_path / "film.mp4"))
            warning = FR("webchat_file_too_large").format(size="391 KB", limit="195 KB")
            assert warning.startswith("Ce fichier est trop volumineux")
            await expect(log.locator(".msg.notice").last).to_have_text(warning)

            # The location question: the box asks for latitude and longitude in French.
            await page.locator(".answer-tools input[type=file]").last.set_input_files(
                files=[{"name": "stall.png", "mimeType": "image/png", "buffer": picture(320, 200, "PNG")}]
            )
            await expect(log).to_contain_text("Where is the stall")
            await expect(box).to_have_attribute("placeholder", FR("webchat_geo_placeholder"))

            # Longer than a message may be (the box's maxlength bypassed, as a paste by script could):
            # the server refuses it and the page says so in French.
            await page.evaluate("document.getElementById('message-input').value = 'x'.repeat(5000)")
            await box.press("Enter")
            await expect(page.get_by_text(FR("webchat_text_too_long")).last).to_be_visible()

            # Too fast: the session's burst is spent, the server answers 429, the page says wait.
            too_fast = page.get_by_text(FR("webchat_too_many_requests"))
            for number in range(SESSION_BURST + 2):
                await box.fill(f"-1.29, 36.{number}")
                await box.press("Enter")
                if await too_fast.count():
                    break
            await expect(too_fast.last).to_be_visible()
            assert problems == []
        finally:
            await browser.close()
