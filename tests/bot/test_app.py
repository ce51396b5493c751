"""The wiring of bot/app.py: the parts stop in reverse, whether the start completes or not;
``baraza run`` settles its heap before taking updates.
(An unreachable Telegram no longer stops the start: tests/bot/test_degrade.py.)"""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select

from bot.app import running_bot
from bot.config import Settings, StartupError, TelegramSettings, WebSettings
from storage.driver_sql import DriverStatement
from storage.models import ContactRow
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, TOKEN, bot_settings, free_port


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


async def test_baraza_run_settles_its_start_heap_before_the_first_poll_not_after(
    tmp_path: Path, server: FakeTelegramServer
) -> None:
    # The full collection holds the loop for about 0.1 s: made after the polling began, it held
    # back the first updates of a restart (bench.load's first answers waited that long).
    full_collections: list[float] = []

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full_collections.append(time.monotonic())

    threshold = gc.get_threshold()
    gc.callbacks.append(on_collection)
    try:
        async with running_bot(bot_settings(server, await copy_migrated_sqlite(tmp_path / "b.db")), settle_heap=True):
            first_poll = (await server.wait_for_call("getUpdates")).time
            assert gc.get_freeze_count() > 0, "the start heap is left out of later collections"
    finally:
        gc.callbacks.remove(on_collection)
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert full_collections and full_collections[0] < first_poll


async def test_baraza_run_compiles_the_databases_statements_before_the_first_poll(
    tmp_path: Path, server: FakeTelegramServer
) -> None:
    # Compiling the survey steps' statements took the first /start after a start some 15 ms more
    # than the next ones; a burst of updates at a restart waited for it.
    _made_before_the_start = DriverStatement(select(ContactRow.id).where(ContactRow.id == bindparam("contact_id")))
    settings = bot_settings(server, await copy_migrated_sqlite(tmp_path / "w.db"))
    async with running_bot(settings, warm_up=True) as bot:
        await server.wait_for_call("getUpdates")
        assert DriverStatement.compile_all(bot.database.engine.dialect) == 0, "compiled at start"
