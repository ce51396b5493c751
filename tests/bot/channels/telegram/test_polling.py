"""Long polling on the fake Bot API (bot/channels/telegram/polling.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram import Bot
from telegram.error import TelegramError

from bot.channels.telegram.polling import LongPolling
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import TOKEN

ALLOWED = ["message", "callback_query"]


class Handled:
    """What the polling handed on, and a way to wait for it."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.errors: list[TelegramError] = []
        self.changed = asyncio.Event()

    async def handle(self, data: Any) -> None:
        text = data["message"]["text"]
        if text == "boom":
            raise RuntimeError("a bug in a handler")
        self.texts.append(text)
        self.changed.set()

    async def until(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.texts) < count:
                self.changed.clear()
                await self.changed.wait()


async def test_updates_are_handed_on_in_order_and_confirmed_at_stop(server: FakeTelegramServer) -> None:
    person = server.user(4242)
    handled = Handled()
    async with Bot(TOKEN, base_url=server.base_url) as bot:
        polling = LongPolling(bot, handled.handle, timeout=1, allowed_updates=ALLOWED, on_error=handled.errors.append)
        polling.start()
        for number in range(5):
            await person.send_text(str(number))
        await handled.until(5)
        await polling.stop()
        assert not polling.running
    assert handled.texts == ["0", "1", "2", "3", "4"]
    # Confirmed: a restart does not get them again.
    assert server.pending_updates == []


async def test_a_failing_bot_api_is_reported_and_polled_again(server: FakeTelegramServer) -> None:
    person = server.user(4242)
    handled = Handled()
    server.fail_next("getUpdates", count=1, error_code=502)
    async with Bot(TOKEN, base_url=server.base_url) as bot:
        polling = LongPolling(bot, handled.handle, timeout=1, allowed_updates=ALLOWED, on_error=handled.errors.append)
        polling.start()
        await person.send_text("after the failure")
        await handled.until(1)
        await polling.stop()
    assert len(handled.errors) == 1 and handled.texts == ["after the failure"]


async def test_a_handler_that_fails_is_logged_and_the_next_updates_still_come(
    server: FakeTelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    person = server.user(4242)
    handled = Handled()
    async with Bot(TOKEN, base_url=server.base_url) as bot:
        polling = LongPolling(bot, handled.handle, timeout=1, allowed_updates=ALLOWED, on_error=handled.errors.append)
        polling.start()
        await person.send_text("boom")
        await person.send_text("still here")
        await handled.until(1)
        await polling.stop()
    assert handled.texts == ["still here"]
    assert "error while handling a Telegram update" in caplog.text
    assert "boom" not in caplog.text  # never the person's text in the log
