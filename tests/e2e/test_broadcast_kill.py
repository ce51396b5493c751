"""``kill -9`` of ``baraza run`` in the middle of a broadcast, then a restart.

The bot is a real ``baraza run`` child process sending to 300 contacts at a limited rate through
the fake Bot API; the broadcast is stored by a real ``baraza broadcast send`` process, which keeps
following the progress across the crash. After the restart every recipient has the notice exactly
once, except at most ``concurrency`` rows marked ``unknown`` (in flight at the kill: they may or may
not have arrived, and are not resent): no duplicates, no silent losses.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

import pytest

from storage.broadcasts import SENT, UNKNOWN
from storage.database import Database
from testkit.broadcasts import assert_each_once_after_kill, delivery_rows, sends_per_chat, wait_until_finished
from testkit.fakes.telegram import FakeTelegramServer
from testkit.register import Person, add_people
from testkit.telegram_harness import ROOT, BotProcess

pytestmark = pytest.mark.slow  # kill -9 of the bot process

CONTACTS = 300
RATE = 100  # messages a second: the broadcast takes about 3 s
CONCURRENCY = 8
HELD, HELD_SECONDS = 3, 0.5
NOTICE = """title: Kill test
default_language: en
text:
  en: The labour force survey results are out.
  fr: Les résultats de l'enquête sur la population active sont publiés.
audience: {topics: [labour]}
buttons:
  - {label: {en: Take the survey, fr: Répondre}, survey: usat2026}
"""


async def test_kill_9_mid_broadcast_then_restart_sends_each_notice_once(database_url: str, tmp_path: Path) -> None:
    chance = random.Random(20261126)
    people = [Person(30_000 + i, "fr" if i % 3 == 0 else "en", "citizen", topics=("labour",)) for i in range(CONTACTS)]
    outsiders = [Person(31_000 + i, "en", "citizen", topics=("prices",)) for i in range(20)]
    database = Database(database_url)
    await database.migrate()
    async with FakeTelegramServer() as server:
        for person in people + outsiders:
            server.user(person.user_id, language_code=person.language or "en")
        await add_people(database, people + outsiders)
        bot = BotProcess(server, database_url, tmp_path)
        bot.config.write_text(
            bot.config.read_text() + f"broadcast: {{messages_per_second: {RATE}, concurrency: {CONCURRENCY}}}\n"
        )
        notice = tmp_path / "NOTICE.yaml"
        notice.write_text(NOTICE)
        await bot.start()
        try:
            # `baraza broadcast send` stores everything, then follows while `baraza run` sends.
            command = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli.main", "--config", str(bot.config), "broadcast", "send", str(notice),
                cwd=ROOT,
                env={**os.environ, "BARAZA_DATABASE_URL": database_url, "BARAZA_LOG_LEVEL": "WARNING"},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            kill_after = chance.randint(CONTACTS // 5, CONTACTS // 2)
            await server.wait_for_calls("sendMessage", kill_after)
            # The next few sends reach Telegram but their answers are late: the kill catches them in flight.
            server.delay_next("sendMessage", HELD_SECONDS, count=HELD)
            await server.wait_for_calls("sendMessage", len(server.calls_to("sendMessage")) + HELD)
            bot.kill()
            await asyncio.sleep(0.2)  # requests already written before the kill are read by the server
            sent_before_kill = len(server.calls_to("sendMessage"))
            await asyncio.sleep(HELD_SECONDS)  # the held messages arrive after all
            assert len(server.calls_to("sendMessage")) == sent_before_kill, "a killed bot sends nothing"
            await bot.start()
            output, _ = await asyncio.wait_for(command.communicate(), timeout=30)
            assert command.returncode == 0, output.decode()
            summary = await wait_until_finished(database, 1, within=30)
        finally:
            await bot.stop()
        received = sends_per_chat(server)
        rows = await delivery_rows(database, 1)
    await database.dispose()

    text = output.decode()
    assert f"audience: {CONTACTS} contact(s): topics labour" in text
    assert f"broadcast 1: {summary.count(SENT)} sent" in text, text
    unknown = assert_each_once_after_kill(
        rows,
        received,
        audience={person.user_id for person in people},
        outsiders={person.user_id for person in outsiders},
        held=HELD,
        concurrency=CONCURRENCY,
        sent_before_kill=sent_before_kill,
    )
    assert summary.count(SENT) + summary.count(UNKNOWN) == CONTACTS and summary.status == "done"
    log = bot.log.read_text()
    if unknown:
        assert f"{len(unknown)} broadcast message(s) were being sent when the bot stopped: marked unknown" in log
