"""The web chat's first day (issue 17) in headless Chromium at phone and desktop width: link
buttons, retired buttons, ticks, edited replies, the page in the conversation's language, a
lookup before the privacy question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import IndicatorSettings, RegisterSettings
from catalogue.loading import SourceSpec
from handlers.messages import RESUME_PAYLOAD, Button, Inbound, Outbound
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip
from testkit.webchat_harness import serve_webchat, web_chat_bot

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "office" / "indicators"
WIDTHS = [pytest.param((390, 844), id="phone"), pytest.param((1280, 800), id="desktop")]


class ReleaseNotice:
    """A core that greets with a release notice and its link button; records what it gets."""

    def __init__(self) -> None:
        self.inbounds: list[Inbound] = []
        self.url = ""

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        self.inbounds.append(inbound)
        if inbound.payload == RESUME_PAYLOAD:
            link = Button("Open the release", "", url=self.url)
            return [Outbound("Consumer prices, October 2026: 7.1%", buttons=((link,),))]
        return [Outbound(f"unexpected: {inbound.payload!r}")]


async def _browser(playwright: Any, size: tuple[int, int], locale: str = "en-GB") -> Any:
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=locale)
    return browser, context


@pytest.mark.parametrize("size", WIDTHS)
async def test_the_release_link_opens_in_a_new_tab_and_posts_nothing(size: tuple[int, int]) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    core = ReleaseNotice()
    async with serve_webchat(core) as url, async_playwright() as playwright:  # type: ignore[arg-type]
        core.url = f"{url}static/chat.css?release=2026-10"
        browser, context = await _browser(playwright, size)
        try:
            page = await context.new_page()
            await page.goto(url)
            link = page.get_by_role("link", name="Open the release")
            await expect(link).to_be_visible()
            async with context.expect_page() as opened:
                await link.click()
            tab = await opened.value
            await tab.wait_for_load_state()
            assert tab.url == core.url
            await page.wait_for_timeout(300)
            assert [inbound.payload for inbound in core.inbounds] == [RESUME_PAYLOAD]  # no post for the link
            await expect(page.get_by_role("log")).not_to_contain_text("Something went wrong")
        finally:
            await browser.close()


@pytest.mark.parametrize("size", WIDTHS)
async def test_old_buttons_retire_ticks_are_not_echoed_and_edits_read_after_the_press(
    database_url: str, size: tuple[int, int]
) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    async with web_chat_bot(database_url) as bot, async_playwright() as playwright:
        browser, context = await _browser(playwright, size)
        try:
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{bot.web_port}/")
            log = page.get_by_role("log")
            listing = log.locator(".msg.bot").filter(has_text="User satisfaction survey 2026")
            await listing.get_by_role("button", name="User satisfaction survey 2026").click()
            await expect(log).to_contain_text("1/12 · Which best describes you?")
            # The list's buttons are answered: greyed, disabled, not pressable any more.
            old = listing.get_by_role("button", name="User satisfaction survey 2026")
            await expect(old).to_be_disabled()
            assert await old.evaluate("el => getComputedStyle(el).borderStyle") == "dashed"

            await page.get_by_role("button", name="Teacher, lecturer or student").click()
            await expect(log).to_contain_text("2/12 · How often")
            # The closed question ("→ Teacher, lecturer or student") reads after what the person pressed.
            order = await log.evaluate(
                """log => Array.from(log.children).map(el =>
                    (el.classList.contains('user') ? 'you: ' : 'bot: ') + el.querySelector('.text').textContent)"""
            )
            pressed = order.index("you: Teacher, lecturer or student")
            closed = next(
                i
                for i, line in enumerate(order)
                if line == "bot: Which best describes you?\n→ Teacher, lecturer or student"
            )
            assert pressed < closed, order

            box = page.get_by_label("Your message")
            await box.fill("weekly")
            await box.press("Enter")
            await expect(log).to_contain_text("3/12 · What do you use our statistics for?")
            users_before = await log.locator(".msg.user").count()
            question = log.locator(".msg.bot").filter(has_text="3/12 · What do you use")
            await question.get_by_role("button", name="Research or teaching").click()
            await expect(question.get_by_role("button", name="✅ Research or teaching")).to_be_visible()
            await page.wait_for_timeout(200)
            # The tick shows in the question itself; no "◻️ Research or teaching" bubble.
            assert await log.locator(".msg.user").count() == users_before
            await expect(log.locator(".msg.user").filter(has_text="◻️")).to_have_count(0)
            await expect(question.get_by_role("button", name="✅ Research or teaching")).to_be_enabled()
        finally:
            await browser.close()


@pytest.mark.parametrize("size", WIDTHS)
async def test_the_page_speaks_french_and_a_figure_is_found_before_the_privacy_question(
    database_url: str, size: tuple[int, int]
) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    indicators = IndicatorSettings(DEMO / "metadata.yaml", (SourceSpec("*.csv"),), DEMO)
    register = RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml")
    async with (
        web_chat_bot(database_url, register=register, indicators=indicators) as bot,
        async_playwright() as playwright,
    ):
        browser, context = await _browser(playwright, size, locale="fr-FR")
        try:
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{bot.web_port}/")
            log = page.get_by_role("log")
            consent = log.locator(".msg.bot").filter(has=page.get_by_role("button", name="Oui, j'accepte"))
            await expect(consent).to_have_count(1)
            await expect(page.locator("html")).to_have_attribute("lang", "fr")
            await expect(page.locator("html")).to_have_attribute("dir", "ltr")
            box = page.get_by_label("Votre message")
            await expect(box).to_have_attribute("placeholder", "Tapez votre réponse")
            await expect(page.get_by_role("button", name="Envoyer")).to_be_visible()

            await box.fill("inflation")
            await page.get_by_role("button", name="Envoyer").click()
            await expect(log.locator(".msg.bot").filter(has_text="Demoland")).not_to_have_count(0)
            # The privacy question again, below the answer; the first one's buttons are retired.
            await expect(consent).to_have_count(2)
            await expect(consent.first.get_by_role("button", name="Oui, j'accepte")).to_be_disabled()
            await expect(consent.last.get_by_role("button", name="Oui, j'accepte")).to_be_enabled()
        finally:
            await browser.close()


async def test_arabic_turns_the_page_right_to_left(database_url: str) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    async with web_chat_bot(database_url) as bot, async_playwright() as playwright:
        browser, context = await _browser(playwright, (390, 844), locale="ar")
        try:
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{bot.web_port}/")
            await expect(page.locator("html")).to_have_attribute("dir", "rtl")
            await expect(page.locator("html")).to_have_attribute("lang", "ar")
            await expect(page.get_by_role("button", name="إرسال")).to_be_visible()
        finally:
            await browser.close()
