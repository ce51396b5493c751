"""The web chat page in headless Chromium, in front of a scripted two-question survey."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from handlers.messages import RESUME_PAYLOAD
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip, save_screenshot
from testkit.fakes.scripted_survey import CHART_ALT, GREETING, JOB_QUESTION, NAME_QUESTION, ScriptedSurvey
from testkit.webchat_harness import serve_webchat

SCREENSHOT = Path("/tmp/webchat.png")
SCREENSHOT_DESKTOP = Path("/tmp/webchat-desktop.png")


@pytest.mark.asyncio
async def test_page_in_headless_chromium() -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    processor = ScriptedSurvey()
    async with serve_webchat(processor) as url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="sw-KE")
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None,
            )

            await page.goto(url)
            log = page.get_by_role("log")
            bot = log.locator(".msg.bot")
            user = log.locator(".msg.user .text")
            box = page.get_by_label("Your message")

            # The resumed greeting, its line break kept, with its button.
            await expect(bot).to_have_count(1)
            greeting = bot.first
            await expect(greeting.locator(".text")).to_have_text(GREETING)
            assert await greeting.locator(".text").evaluate("el => getComputedStyle(el).whiteSpace") == "pre-wrap"
            assert await greeting.locator(".text").evaluate("el => el.innerText") == GREETING
            await expect(greeting.get_by_role("button", name="Start")).to_be_visible()
            resume = processor.inbounds[0]
            assert (resume.payload, resume.language_hint) == (RESUME_PAYLOAD, "sw-KE")

            # Pressing a button: its label as the user's message, the greeting updated in place.
            await greeting.evaluate("el => { el.dataset.marker = 'greeting'; }")
            await greeting.get_by_role("button", name="Start").click()
            await expect(user).to_have_text(["Start"])
            await expect(bot).to_have_count(2)
            await expect(bot.first).to_have_attribute("data-marker", "greeting")
            await expect(bot.first.locator(".text")).to_have_text(GREETING + "\n✓ Started")
            await expect(bot.first.get_by_role("button")).to_have_count(0)
            await expect(bot.nth(1).locator(".text")).to_have_text(NAME_QUESTION)

            # Typing an answer: shown on the right, focus back in the box.
            await box.fill("Amina")
            await box.press("Enter")
            await expect(user.nth(1)).to_have_text("Amina")
            await expect(box).to_have_value("")
            await expect(box).to_be_focused()
            question = bot.nth(2)
            await expect(question.locator(".text")).to_have_text(JOB_QUESTION)
            user_box = await user.nth(1).bounding_box()
            bot_box = await question.bounding_box()
            assert user_box and bot_box and user_box["x"] > bot_box["x"], "user right, bot left"

            await expect(question.get_by_role("button", name="No")).to_be_visible()
            await save_screenshot(page, SCREENSHOT)
            await page.set_viewport_size({"width": 1280, "height": 800})
            await save_screenshot(page, SCREENSHOT_DESKTOP)
            await page.set_viewport_size({"width": 360, "height": 740})
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360, "no sideways scroll"

            # Keyboard press on a choice: the question is closed in place, the thanks appended.
            await question.evaluate("el => { el.dataset.marker = 'job'; }")
            await question.get_by_role("button", name="Yes").focus()
            await page.keyboard.press("Enter")
            await expect(user.nth(2)).to_have_text("Yes")
            await expect(log.locator("[data-marker=job] .text")).to_have_text(f"{JOB_QUESTION}\n✓ Yes")
            await expect(log.locator("[data-marker=job] button")).to_have_count(0)
            await expect(bot).to_have_count(4)
            thanks = bot.nth(3)
            await expect(thanks.locator(".text")).to_have_text("Thank you, Amina! Here is your chart.")
            image = thanks.get_by_role("img", name=CHART_ALT)
            await expect(image).to_be_visible()
            assert await image.evaluate("img => img.complete && img.naturalWidth") == 120

            # Markup in a message is shown as text, never interpreted.
            await box.fill("<b>bold</b> <img src=x>")
            await page.get_by_role("button", name="Send").click()
            await expect(user.nth(3)).to_have_text("<b>bold</b> <img src=x>")
            await expect(bot).to_have_count(5)
            assert await log.locator("b").count() == 0
            await expect(box).to_be_focused()

            # Coming back: the same session, the page resumes where the user was.
            await page.reload()
            await expect(bot).to_have_count(1)
            await expect(bot.first.locator(".text")).to_have_text("Thank you, Amina! Here is your chart.")
            assert processor.inbounds[-1].user_key == resume.user_key
            assert problems == []
        finally:
            await browser.close()


@pytest.mark.asyncio
async def test_page_retries_once_with_the_same_id_then_shows_an_error() -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import Route, expect

    processor = ScriptedSurvey()
    posted_ids: list[str] = []
    fail_next = {"after_server": 1, "before_server": 0}

    async def flaky(route: Route) -> None:
        posted_ids.append(json.loads(route.request.post_data or "{}")["id"])
        if fail_next["after_server"]:
            # The server handles it, but the answer is lost on the way back.
            fail_next["after_server"] -= 1
            await route.fetch()
            await route.abort("connectionreset")
        elif fail_next["before_server"]:
            fail_next["before_server"] -= 1
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    async with serve_webchat(processor) as url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.route("**/api/messages", flaky)
            await page.goto(url)
            log = page.get_by_role("log")

            # The lost answer is fetched again with the same id; the greeting shows once.
            await expect(log.locator(".msg.bot")).to_have_count(1)
            await expect(log.locator(".msg.bot .text")).to_have_text(GREETING)
            assert len(posted_ids) == 2 and posted_ids[0] == posted_ids[1]
            assert len(processor.inbounds) == 2
            assert processor.inbounds[0].update_key == processor.inbounds[1].update_key

            # Both tries fail: an error line, the text back in the box; nothing reached the core.
            fail_next["before_server"] = 2
            box = page.get_by_label("Your message")
            await box.fill("hello")
            await box.press("Enter")
            await expect(log.locator(".msg.error")).to_contain_text("could not be sent")
            await expect(log.locator(".msg.user.failed")).to_contain_text("Not sent")
            await expect(box).to_have_value("hello")
            assert len(posted_ids) == 4 and posted_ids[2] == posted_ids[3] != posted_ids[0]
            assert len(processor.inbounds) == 2

            # The next send gets a fresh id and goes through.
            await page.get_by_role("button", name="Send").click()
            await expect(log.locator(".msg.bot")).to_have_count(2)
            assert len(posted_ids) == 5 and posted_ids[4] not in posted_ids[:4]
            ids = [inbound.update_key for inbound in processor.inbounds]
            assert ids[-1] not in ids[:-1]
            assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in posted_ids)
        finally:
            await browser.close()
