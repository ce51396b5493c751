"""Degrade, never die: a channel that cannot reach its platform is retried with backoff and
shown as degraded in ``/healthz``, ``/metrics`` and the log, while the web chat keeps answering."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import running_bot
from bot.config import Settings, TelegramSettings, WebSettings
from bot.health import CONNECTED, DEGRADED, ChannelHealth, keep_trying
from testkit.fakes.telegram import FakeTelegramServer
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, TOKEN, free_port
from testkit.webchat_harness import WebVisitor
from testkit.whatsapp_harness import whatsapp_bot, whatsapp_settings


def settings_for(tmp_path: Path, telegram_url: str) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'baraza.db'}",
        surveys_directory=FORMS,
        pseudonym_key=PSEUDONYM_KEY,
        telegram=TelegramSettings(token=TOKEN, base_url=telegram_url, max_retries=1, poll_timeout=1),
        web=WebSettings(host="127.0.0.1", port=0),
    )


async def health_of(base: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as client, client.get(f"{base}/healthz") as response:
        return response.status, await response.json()


async def metrics_of(base: str) -> str:
    async with aiohttp.ClientSession() as client, client.get(f"{base}/metrics") as response:
        return await response.text()


async def test_telegram_unreachable_leaves_the_web_chat_answering_and_says_degraded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port()  # nobody listens there: connections are refused
    settings = settings_for(tmp_path, f"http://127.0.0.1:{closed}/bot")
    before = asyncio.all_tasks()
    with caplog.at_level(logging.WARNING):
        async with running_bot(settings) as bot:
            base = f"http://127.0.0.1:{bot.web_port}"
            async with aiohttp.ClientSession() as client:
                replies = await WebVisitor(client, base).post(text="/start")
            assert replies and replies[0]["text"], "the web chat answers"
            status, body = await health_of(base)
            assert status == 200
            assert body["status"] == "degraded" and body["database"] == "ok"
            assert body["channels"] == {"web": "connected", "telegram": DEGRADED}
            assert "cannot connect" in body["reasons"]["telegram"]
            assert 'baraza_channel_up{channel="telegram"} 0.0' in await metrics_of(base)
            assert bot.telegram is not None and not bot.telegram.application.running
    assert any("telegram channel degraded" in record.getMessage() for record in caplog.records)
    assert not [record for record in caplog.records if record.exc_info], "no traceback in the log"
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set(), "the retrying outlived the bot"


async def test_telegram_that_fails_at_start_is_connected_on_a_later_try(tmp_path: Path) -> None:
    async with FakeTelegramServer() as server:
        server.fail_next("getMe", count=2, error_code=502)  # the first try and its retry
        settings = replace(settings_for(tmp_path, server.base_url), telegram=replace(
            settings_for(tmp_path, server.base_url).telegram, base_file_url=server.base_file_url
        ))  # fmt: skip
        async with running_bot(settings) as bot:
            base = f"http://127.0.0.1:{bot.web_port}"
            assert (await health_of(base))[1]["channels"]["telegram"] == DEGRADED
            await server.wait_for_call("getUpdates", timeout=10)  # tried again a second later
            status, body = await health_of(base)
            assert (status, body["status"], body["channels"]["telegram"]) == (200, "ok", CONNECTED)
            assert "reasons" not in body
            assert 'baraza_channel_up{channel="telegram"} 1.0' in await metrics_of(base)


async def test_a_refused_whatsapp_token_is_degraded_and_the_web_chat_still_answers(tmp_path: Path) -> None:
    async with FakeGraphServer() as graph:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'baraza.db'}",
            surveys_directory=FORMS,
            pseudonym_key=PSEUDONYM_KEY,
            whatsapp=replace(whatsapp_settings(graph), access_token="revoked-token"),
            web=WebSettings(host="127.0.0.1", port=0),
        )
        async with running_bot(settings) as bot:
            base = f"http://127.0.0.1:{bot.web_port}"
            for _ in range(100):
                status, body = await health_of(base)
                if body["channels"]["whatsapp"] != "starting":
                    break
                await asyncio.sleep(0.05)
            assert status == 200 and body["status"] == "degraded"
            assert body["channels"]["whatsapp"] == DEGRADED
            assert "access token was refused" in body["reasons"]["whatsapp"]
            async with aiohttp.ClientSession() as client:
                assert await WebVisitor(client, base).post(text="/start")
        assert graph.calls_to("check"), "the token was checked"


async def test_keep_trying_waits_longer_after_each_failure_until_it_connects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr("bot.health.asyncio.sleep", sleep)
    health = ChannelHealth("test")
    attempts = 0

    async def connect() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 5:
            raise ConnectionRefusedError

    await keep_trying(health, connect, lambda error: f"refused ({type(error).__name__})", first_delay=1.0)
    assert attempts == 5 and pauses == [1.0, 2.0, 4.0, 8.0]
    assert health.state.state == CONNECTED and health.state.reason is None


async def test_telegram_lost_while_polling_is_degraded_then_connected_again(tmp_path: Path) -> None:
    async with FakeTelegramServer() as server:
        settings = settings_for(tmp_path, server.base_url)
        async with running_bot(settings) as bot:
            assert bot.telegram is not None
            health = bot.telegram.health
            assert health.state.state == CONNECTED
            server.fail_next("getUpdates", count=2, error_code=502)
            server.fail_next("getMe", count=2, error_code=502)  # the first probe (and its retry) fails too
            for _ in range(200):
                if health.state.state == DEGRADED:
                    break
                await asyncio.sleep(0.05)
            assert health.state.state == DEGRADED and health.state.reason is not None
            for _ in range(300):
                if health.state.state == CONNECTED:
                    break
                await asyncio.sleep(0.05)
            assert health.state.state == CONNECTED, "the probe found Telegram back"


async def test_a_whatsapp_token_revoked_later_is_degraded_then_checked_until_it_works(tmp_path: Path) -> None:
    async with FakeGraphServer() as graph, whatsapp_bot(graph, f"sqlite+aiosqlite:///{tmp_path / 'w.db'}") as bot:
        assert bot.whatsapp is not None
        health = bot.whatsapp.health
        for _ in range(100):
            if health.state.state == CONNECTED:
                break
            await asyncio.sleep(0.05)
        assert health.state.state == CONNECTED
        right = graph.access_token
        graph.access_token = "rotated-by-meta"  # our token is refused from now on
        await graph.user("15550001111").send_text("/start")
        for _ in range(100):
            if health.state.state == DEGRADED:
                break
            await asyncio.sleep(0.05)
        assert health.state.state == DEGRADED and "access token was refused" in (health.state.reason or "")
        checks = len(graph.calls_to("check"))
        graph.access_token = right  # the office puts the right token back (here: Meta accepts it again)
        for _ in range(200):
            if health.state.state == CONNECTED:
                break
            await asyncio.sleep(0.05)
        assert health.state.state == CONNECTED and len(graph.calls_to("check")) > checks
