"""Browser notifications in headless Chromium (issue 17, item 3): the page offers them, asks the
permission, registers the service worker, subscribes with the server's VAPID key and hands the
subscription to the server, which then pushes an answer to the fake push service.

Chromium's own ``pushManager.subscribe`` needs the browser vendor's push service (FCM), which
this machine cannot reach: the test replaces that one call with a subscription of the fake push
service (made with real keys), and checks the key the page passed to it. Everything before the
call (permission, service worker, key) and after it (the server's side) is real."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import RunningBot
from bot.keys import VAPID_KEY, read_key_file, vapid_public_key
from handlers import request_desk
from storage.repositories import Repositories
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip, save_screenshot
from testkit.fakes.webpush import FakePushService, fake_push_service
from testkit.webpush_harness import web_push_bot

pytestmark = pytest.mark.browser

STUB = """
window.__subscribeKeys = [];
PushManager.prototype.getSubscription = function () { return Promise.resolve(null); };
PushManager.prototype.subscribe = function (options) {
  window.__subscribeKeys.push(Array.from(new Uint8Array(options.applicationServerKey)));
  var subscription = %s;
  return Promise.resolve({ endpoint: subscription.endpoint, toJSON: function () { return subscription; } });
};
"""


@pytest.fixture
async def web_bot(database_url: str, tmp_path: Path) -> AsyncIterator[RunningBot]:
    async with web_push_bot(database_url, tmp_path / "baraza.keys") as bot:
        yield bot


@pytest.fixture
async def push_service() -> AsyncIterator[FakePushService]:
    async with fake_push_service() as service:
        yield service


async def test_the_page_turns_notifications_on_and_an_answer_is_pushed(
    web_bot: RunningBot, push_service: FakePushService, tmp_path: Path
) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    base = f"http://127.0.0.1:{web_bot.web_port}"
    subscription = push_service.subscribe()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            await context.grant_permissions(["notifications"], origin=base)
            await context.add_init_script(STUB % json.dumps(subscription))
            page = await context.new_page()
            await page.goto(base + "/")
            log = page.get_by_role("log")
            await expect(log).to_contain_text("Hello!")
            box = page.get_by_label("Your message")
            await box.fill("/request Monthly rainfall by district since 2015")
            await box.press("Enter")
            await expect(log).to_contain_text("#1")
            button = page.get_by_role("button", name="Notify me")
            await expect(button).to_be_visible()
            await button.click()
            await expect(page.get_by_role("button", name="Notifications on")).to_be_disabled()
            keys = await page.evaluate("window.__subscribeKeys")
            registered = await page.evaluate("navigator.serviceWorker.getRegistration('/').then(r => !!r)")
            await save_screenshot(page, tmp_path / "push-on.png")
        finally:
            await browser.close()
    public = vapid_public_key(read_key_file(tmp_path / "baraza.keys")[VAPID_KEY])
    assert [bytes(key) for key in keys] == [base64.urlsafe_b64decode(public + "=")]
    assert registered, "the service worker at /sw.js is registered for the whole chat"

    async with web_bot.database.transaction() as connection:
        await request_desk.answer(Repositories(connection), 1, "Here it is.", staff="amina", now=datetime.now(UTC))
    for _ in range(200):
        if push_service.received:
            break
        await asyncio.sleep(0.05)
    assert push_service.refusals == []
    assert "Here it is." in push_service.texts(subscription)[0]
