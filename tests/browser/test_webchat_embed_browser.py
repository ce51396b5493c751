"""The web chat embedded in another website with its one-line snippet, in headless Chromium.

The website is a second aiohttp server on another port, reached as ``localhost`` (another site
than the chat on ``127.0.0.1``), allowed in ``web.embed.allowed_origins``; the same page reached
as ``127.0.0.1:<its port>`` is an origin that is not allowed, and the browser refuses the frame.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from bot.config import EmbedSettings
from handlers.texts import Texts
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip
from testkit.telegram_harness import free_port
from testkit.webchat_harness import web_chat_bot

WIDTHS = [pytest.param((390, 844), id="phone"), pytest.param((1280, 800), id="desktop")]

SITE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Demoland Statistics</title></head>
<body><h1>Demoland Statistics Office</h1>
<div id="chat"></div>
{snippet}
</body></html>"""


@asynccontextmanager
async def website(port: int, snippet: str) -> AsyncIterator[None]:
    """The office's website on 127.0.0.1:``port``: one page with the snippet."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=SITE.format(snippet=snippet), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def _context(playwright: Any, size: tuple[int, int]) -> tuple[Any, Any]:
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    return browser, context


@pytest.mark.parametrize("size", WIDTHS)
async def test_the_snippet_embeds_the_chat_inline_on_an_allowed_site_and_not_elsewhere(
    database_url: str, size: tuple[int, int]
) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    site_port = free_port()
    allowed = f"http://localhost:{site_port}"
    look = EmbedSettings(
        allowed_origins=(allowed,), office_name="Demoland Statistics", colour="#7a1f5c", greeting="Ask us for a figure"
    )
    async with web_chat_bot(database_url, embed=look) as bot, async_playwright() as playwright:
        snippet = (
            f'<script src="http://127.0.0.1:{bot.web_port}/embed.js" data-mode="inline" '
            'data-target="#chat" data-height="560" async></script>'
        )
        async with website(site_port, snippet):
            browser, context = await _context(playwright, size)
            try:
                page = await context.new_page()
                await page.goto(f"{allowed}/")
                chat = page.frame_locator("iframe[data-baraza-chat=inline]")
                log = chat.get_by_role("log")
                await chat.get_by_role("button", name="User satisfaction survey 2026").click()
                await expect(log).to_contain_text("1/12 · Which best describes you?")
                await expect(chat.get_by_role("heading", name="Demoland Statistics")).to_be_visible()
                await expect(chat.locator(".tagline")).to_have_text("Ask us for a figure")
                header = chat.locator(".app-header")
                assert await header.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(122, 31, 92)"
                # The conversation is kept across visits (the session cookie works in the frame).
                await page.reload()
                await expect(chat.get_by_role("log")).to_contain_text("1/12 · Which best describes you?")
                frame_box = await page.locator("iframe[data-baraza-chat]").bounding_box()
                assert frame_box is not None and frame_box["width"] <= size[0] and frame_box["height"] >= 500

                # The same page on an origin that is not allowed: the browser refuses the frame.
                refused = await context.new_page()
                await refused.goto(f"http://127.0.0.1:{site_port}/")
                await refused.wait_for_selector("iframe[data-baraza-chat]", state="attached")
                await refused.wait_for_timeout(1000)
                frame = refused.frames[1] if len(refused.frames) > 1 else None
                assert frame is not None
                assert await frame.locator("#log").count() == 0, frame.url
            finally:
                await browser.close()


@pytest.mark.parametrize("size", WIDTHS)
async def test_the_bubble_opens_the_chat_in_a_panel(database_url: str, size: tuple[int, int]) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    site_port = free_port()
    allowed = f"http://localhost:{site_port}"
    look = EmbedSettings(allowed_origins=(allowed,), office_name="Demoland Statistics", greeting="Questions?")
    async with web_chat_bot(database_url, embed=look) as bot, async_playwright() as playwright:
        snippet = f'<script src="http://127.0.0.1:{bot.web_port}/embed.js" async></script>'
        async with website(site_port, snippet):
            browser, context = await _context(playwright, size)
            try:
                page = await context.new_page()
                await page.goto(f"{allowed}/")
                bubble = page.get_by_role("button", name="Demoland Statistics: Questions?")
                await expect(bubble).to_be_visible()
                await expect(page.locator("iframe[data-baraza-chat]")).to_have_count(0)  # loaded on demand
                await bubble.click()
                chat = page.frame_locator("iframe[data-baraza-chat=bubble]")
                await expect(chat.get_by_role("button", name="User satisfaction survey 2026")).to_be_visible()
                panel = await page.locator("[data-baraza-panel]").bounding_box()
                assert panel is not None
                if size[0] < 480:
                    assert panel["width"] == size[0]  # the whole phone screen
                else:
                    assert panel["width"] == 380 and panel["x"] + panel["width"] <= size[0]
                await page.get_by_role("button", name="Close Demoland Statistics").click()
                await expect(page.locator("[data-baraza-panel]")).to_be_hidden()
            finally:
                await browser.close()


async def test_the_panels_close_button_speaks_the_conversations_language(database_url: str) -> None:
    """A French visitor: the chat in the frame is French, and it tells the host page its word for
    "Close" (the only thing the frame says to the page), so the panel's button reads "Fermer"."""
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    site_port = free_port()
    allowed = f"http://localhost:{site_port}"
    look = EmbedSettings(allowed_origins=(allowed,), office_name="Demoland Statistics", greeting="Questions?")
    async with web_chat_bot(database_url, embed=look) as bot, async_playwright() as playwright:
        snippet = f'<script src="http://127.0.0.1:{bot.web_port}/embed.js" async></script>'
        async with website(site_port, snippet):
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
                page = await context.new_page()
                await page.goto(f"{allowed}/")
                await page.get_by_role("button", name="Demoland Statistics: Questions?").click()
                chat = page.frame_locator("iframe[data-baraza-chat=bubble]")
                await expect(chat.locator("html")).to_have_attribute("lang", "fr")
                close = page.get_by_role("button", name=f"{Texts('fr')('webchat_close')} Demoland Statistics")
                await expect(close).to_be_visible()
                await close.click()
                await expect(page.locator("[data-baraza-panel]")).to_be_hidden()
            finally:
                await browser.close()
