"""The wiring of bot/app.py: the parts stop in reverse, whether the start completes or not.
(An unreachable Telegram no longer stops the start: tests/bot/test_degrade.py.)"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import running_bot
from bot.config import Settings, StartupError, TelegramSettings, WebSettings
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


async def test_a_bot_that_cannot_take_its_port_stops_before_anything_and_leaves_no_task(tmp_path: Path) -> None:
    # The port is taken first: the start ends before the database is made, with no task left behind.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        web_port = taken.getsockname()[1]
        settings = settings_for(tmp_path, web_port, f"http://127.0.0.1:{closed_port()}/bot")
        before = asyncio.all_tasks()
        with pytest.raises(StartupError, match=r"BARAZA_WEB_PORT"):
            async with running_bot(settings):
                pytest.fail("the bot started on a taken port")
    await asyncio.sleep(0)
    assert not (tmp_path / "baraza.db").exists(), "the database was touched"
    assert asyncio.all_tasks() - before == set()


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
