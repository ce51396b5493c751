"""The wiring of bot/app.py: the parts stop in reverse, whether the start completes or not."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from telegram.error import NetworkError

from bot.app import running_bot
from bot.config import Settings, TelegramSettings, WebSettings
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, TOKEN, free_port


def closed_port() -> int:
    """A port nobody listens on (bound and released: connections to it are refused)."""
    return free_port()


def settings_for(tmp_path: Path, web_port: int, telegram_url: str) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'baraza.db'}",
        surveys_directory=FORMS,
        pseudonym_key=PSEUDONYM_KEY,
        telegram=TelegramSettings(token=TOKEN, base_url=telegram_url, max_retries=1),
        web=WebSettings(host="127.0.0.1", port=web_port),
    )


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_a_bot_whose_telegram_is_unreachable_leaves_no_server_or_task_behind(tmp_path: Path) -> None:
    # The web server, the update pruning, the indicator keeper and the catalogue follower are
    # running when Telegram turns out to be unreachable: none of them may outlive the failure.
    web_port = free_port()
    settings = settings_for(tmp_path, web_port, f"http://127.0.0.1:{closed_port()}/bot")
    before = asyncio.all_tasks()
    with pytest.raises(NetworkError):
        async with running_bot(settings):
            pytest.fail("the bot started without its Telegram channel")
    await asyncio.sleep(0)  # let cancelled tasks finish
    assert port_is_free(web_port), "the web server still listens"
    assert asyncio.all_tasks() - before == set(), "a background task outlived the failed start"


async def test_a_bot_that_started_gives_back_its_port_and_tasks_when_stopped(tmp_path: Path) -> None:
    web_port = free_port()
    settings = replace(settings_for(tmp_path, web_port, ""), telegram=TelegramSettings())  # web chat only
    before = asyncio.all_tasks()
    async with running_bot(settings) as bot:
        assert bot.web_port == web_port and not port_is_free(web_port)
        assert bot.telegram is None and bot.dispatcher is None and bot.outbox is None
        assert asyncio.all_tasks() - before, "the background services run"
    await asyncio.sleep(0)
    assert port_is_free(web_port)
    assert asyncio.all_tasks() - before == set()
