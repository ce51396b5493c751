"""``kill -9`` of ``baraza run`` in the middle of a reminder round, then a restart: no reminder twice.

The invitations went out three days ago; ``baraza survey remind`` (a real process) queues reminder 1
and the real ``baraza run`` child process sends it at a limited rate through the fake Bot API. The
bot is killed mid-round, restarted, and finishes the round: every non-completer has the reminder
exactly once, except the rows in flight at the kill (``unknown``: not resent). Running ``remind``
again queues nothing.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, select, update

from common.clock import utc_now
from handlers.invitations import QuietHours, invite
from storage.broadcasts import DONE
from storage.database import Database
from storage.deliveries import SENT, UNKNOWN
from storage.models import BroadcastRow, DeliveryRow, ParticipationRow
from surveys.loader import load_survey_directory
from testkit.broadcasts import delivery_rows, sends_per_chat, wait_until_finished
from testkit.fakes.telegram import FakeTelegramServer
from testkit.register import Person, add_people
from testkit.telegram_harness import ROOT, BotProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]  # kill -9 of the bot process

broadcasts = cast(Table, BroadcastRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
participations = cast(Table, ParticipationRow.__table__)

CONTACTS, COMPLETED = 240, 40
RATE, CONCURRENCY = 100, 8
HELD, HELD_SECONDS = 3, 0.5
FORM = """id: fw
title: Household conditions
reminders:
  - {after: 2d, text: "Our short survey is still open."}
questions:
  - {type: integer, name: q1, label: "Rooms in the household"}
"""


async def remind(config: Path, database_url: str) -> str:
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "--config", str(config), "survey", "remind", "fw",
        cwd=ROOT,
        env={**os.environ, "BARAZA_DATABASE_URL": database_url, "BARAZA_LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(command.communicate(), timeout=30)
    assert command.returncode == 0, output.decode()
    return output.decode()


async def test_kill_9_mid_reminder_round_sends_no_reminder_twice(database_url: str, tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "fw.yaml").write_text(FORM, encoding="utf-8")
    survey = load_survey_directory(forms)["fw"]
    people = [Person(40_000 + i, "en", "public") for i in range(CONTACTS)]
    database = Database(database_url)
    await database.migrate()
    ids = await add_people(database, people)
    # The invitations went out three days ago; some people finished the survey since.
    async with database.transaction() as connection:
        round_ = await invite(
            connection,
            survey,
            quiet=QuietHours("UTC", None, None),
            created_by="test",
            now=utc_now() - timedelta(days=3),
        )
        await connection.execute(
            update(deliveries).where(deliveries.c.broadcast_id == round_.broadcast_id).values(status=SENT)
        )
        await connection.execute(update(broadcasts).where(broadcasts.c.id == round_.broadcast_id).values(status=DONE))
        await connection.execute(
            participations.insert(),
            [
                {"contact_id": ids[p.user_id], "survey_id": "fw", "completed": 1, "last_completed_at": utc_now()}
                for p in people[:COMPLETED]
            ],
        )
    async with FakeTelegramServer() as server:
        for person in people:
            server.user(person.user_id)
        bot = BotProcess(server, database_url, tmp_path, forms=forms)
        bot.config.write_text(
            bot.config.read_text()
            + f"broadcast: {{messages_per_second: {RATE}, concurrency: {CONCURRENCY}}}\n"
            + "fieldwork: {quiet_hours: none, reminders_every_minutes: 0}\n"
        )
        await bot.start()
        try:
            queued = await remind(bot.config, database_url)
            assert f"survey fw: reminder 1 queued for {CONTACTS - COMPLETED}" in queued, queued
            reminder_id = round_.broadcast_id + 1
            await server.wait_for_calls("sendMessage", (CONTACTS - COMPLETED) // 3)
            server.delay_next("sendMessage", HELD_SECONDS, count=HELD)  # in flight at the kill
            await server.wait_for_calls("sendMessage", len(server.calls_to("sendMessage")) + HELD)
            bot.kill()
            await asyncio.sleep(0.2)
            sent_before_kill = len(server.calls_to("sendMessage"))
            await asyncio.sleep(HELD_SECONDS)
            assert len(server.calls_to("sendMessage")) == sent_before_kill, "a killed bot sends nothing"
            await bot.start()
            summary = await wait_until_finished(database, reminder_id, within=30)
            again = await remind(bot.config, database_url)
        finally:
            await bot.stop()
        received = sends_per_chat(server)
        rows = await delivery_rows(database, reminder_id)
        async with database.reading() as connection:
            reminder_broadcasts = (await connection.scalars(select(broadcasts.c.id))).all()
    await database.dispose()

    assert "survey fw: no reminder due" in again, again
    assert len(reminder_broadcasts) == 2, "the invitation and one reminder round"
    non_completers = {p.user_id for p in people[COMPLETED:]}
    assert set(rows) == non_completers, "exactly the non-completers"
    duplicates = {user: count for user, count in received.items() if count > 1}
    unknown = [u for u, row in rows.items() if row.status == UNKNOWN]
    silent_losses = [u for u, row in rows.items() if received[u] == 0 and row.status != UNKNOWN]
    print(f"killed after {sent_before_kill} sends; unknown {len(unknown)}; duplicates {len(duplicates)}")
    assert duplicates == {}
    assert silent_losses == []
    assert HELD <= len(unknown) <= CONCURRENCY
    assert not set(received) & {p.user_id for p in people[:COMPLETED]}, "no reminder to those who finished"
    assert summary.count(SENT) + summary.count(UNKNOWN) == CONTACTS - COMPLETED
