"""``kill -9`` of ``baraza run`` while it sends a "you said, we did" summary, then a restart.

Two people answer the survey through the real bot (fake Bot API) and press Yes and No at its
end; 200 more respondents' answers are seeded (asked, said no, never answered, opted out or
blocked since, some outside the register). A real ``baraza survey feedback`` process stores the
summary; the real ``baraza run`` child process sends it at a limited rate, is killed mid-way and
restarted. Exactly the respondents who opted in and can still receive messages get it, once
each, except the rows in flight at the kill (``unknown``: not resent): no duplicates, no losses.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, select

from common.clock import utc_now
from storage.database import Database
from storage.deliveries import SENT, UNKNOWN
from storage.models import AuditEventRow, ParticipationRow, ResultsOptInRow
from testkit.broadcasts import delivery_rows, sends_per_chat, wait_until_finished
from testkit.fakes.telegram import FakeTelegramServer
from testkit.register import Person, add_people
from testkit.telegram_harness import ROOT, BotProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]  # kill -9 of the bot process

participations = cast(Table, ParticipationRow.__table__)
optins = cast(Table, ResultsOptInRow.__table__)
audit_events = cast(Table, AuditEventRow.__table__)

RATE, CONCURRENCY = 100, 8
HELD, HELD_SECONDS = 3, 0.5
FORM = """id: fb
title: Household conditions
offer_feedback: true
questions:
  - {type: integer, name: rooms, label: "Rooms in the household"}
"""
SUMMARY = """title: What we did with the household survey
default_language: en
text:
  en: You said the rooms are too few; the housing programme now counts rooms per person.
  fr: Vous avez dit que les pièces manquaient ; le programme de logement compte désormais les pièces par personne.
"""


async def test_kill_9_mid_feedback_reaches_exactly_the_opted_in_once_each(database_url: str, tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "fb.yaml").write_text(FORM, encoding="utf-8")
    (tmp_path / "summary.yaml").write_text(SUMMARY, encoding="utf-8")
    chatting = [Person(50_000, "en", "citizen"), Person(50_001, "fr", "citizen")]
    wanting = [Person(51_000 + i, "fr" if i % 4 == 0 else "en", "citizen") for i in range(150)]
    # Opted in, but outside the register (no consent to news): their opt-in is for this message.
    unregistered = [Person(52_000 + i, "en", consent=False) for i in range(15)]
    gone = [Person(53_000 + i, "en", opted_out=i % 2 == 0, blocked=i % 2 == 1) for i in range(10)]
    declining = [Person(54_000 + i, "en") for i in range(20)]
    silent = [Person(55_000 + i, "en") for i in range(15)]  # completed, never pressed a button
    others = [Person(56_000 + i, "en") for i in range(20)]  # registered, did not answer the survey
    everyone = chatting + wanting + unregistered + gone + declining + silent + others
    database = Database(database_url)
    await database.migrate()
    ids = await add_people(database, everyone)
    now = utc_now()
    respondents = wanting + unregistered + gone + declining + silent
    async with database.transaction() as connection:
        await connection.execute(
            participations.insert(),
            [
                {"contact_id": ids[p.user_id], "survey_id": "fb", "completed": 1, "last_completed_at": now}
                for p in respondents
            ],
        )
        await connection.execute(
            optins.insert(),
            [
                {"survey_id": "fb", "contact_id": ids[p.user_id], "response_id": None, "wants": 1, "answered_at": now}
                for p in wanting + unregistered + gone
            ]
            + [
                {"survey_id": "fb", "contact_id": ids[p.user_id], "response_id": None, "wants": 0, "answered_at": now}
                for p in declining
            ],
        )
    expected = {p.user_id for p in [chatting[0], *wanting, *unregistered]}
    async with FakeTelegramServer() as server:
        for person in everyone:
            server.user(person.user_id, language_code=person.language or "en")
        bot = BotProcess(server, database_url, tmp_path, forms=forms)
        bot.config.write_text(
            bot.config.read_text() + f"broadcast: {{messages_per_second: {RATE}, concurrency: {CONCURRENCY}}}\n"
        )
        await bot.start()
        try:
            # Two people answer through the chat: the first says yes, the second no.
            for person, button in zip(chatting, ("Yes, tell me", "Non, merci"), strict=True):
                user = server.users[person.user_id]
                await user.send_text_and_wait("/survey fb")
                await user.send_text_and_wait("3")
                assert user.last_message is not None and user.last_message.find_button(button), user.messages
                await user.press_and_wait(button)
            before = {p.user_id: len(server.users[p.user_id].bot_messages) for p in chatting}
            command = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli.main", "--config", str(bot.config),
                "survey", "feedback", "fb", "--summary", str(tmp_path / "summary.yaml"), "--yes",
                cwd=ROOT,
                env={**os.environ, "BARAZA_DATABASE_URL": database_url, "BARAZA_LOG_LEVEL": "WARNING"},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            calls_before = len(server.calls_to("sendMessage"))
            await server.wait_for_calls("sendMessage", calls_before + len(expected) // 3)
            server.delay_next("sendMessage", HELD_SECONDS, count=HELD)  # in flight at the kill
            await server.wait_for_calls("sendMessage", len(server.calls_to("sendMessage")) + HELD)
            bot.kill()
            await asyncio.sleep(0.2)
            sent_before_kill = len(server.calls_to("sendMessage"))
            await asyncio.sleep(HELD_SECONDS)
            assert len(server.calls_to("sendMessage")) == sent_before_kill, "a killed bot sends nothing"
            await bot.start()
            output, _ = await asyncio.wait_for(command.communicate(), timeout=30)
            assert command.returncode == 0, output.decode()
            summary = await wait_until_finished(database, 1, within=30)
        finally:
            await bot.stop()
        received = sends_per_chat(server)
        for person in chatting:
            received[person.user_id] -= before[person.user_id]  # the survey's own messages
        rows = await delivery_rows(database, 1)
        async with database.reading() as connection:
            stored = {
                int(contact): bool(wants)
                for contact, wants in await connection.execute(select(optins.c.contact_id, optins.c.wants))
            }
            audited = (await connection.execute(select(audit_events.c.action, audit_events.c.details))).all()
    await database.dispose()

    text = output.decode()
    assert f"{len(expected) + len(gone)} respondent(s) asked" in text, text
    assert f"{len(expected)} can receive it" in text and "left out: 5 opted out, 5 blocked" in text, text
    assert stored[ids[chatting[0].user_id]] is True and stored[ids[chatting[1].user_id]] is False
    assert set(rows) == expected, "exactly the opted-in respondents who can receive it"
    duplicates = {user: count for user, count in received.items() if count > 1}
    unknown = [u for u, row in rows.items() if row.status == UNKNOWN]
    silent_losses = [u for u, row in rows.items() if received[u] == 0 and row.status != UNKNOWN]
    print(f"killed after {sent_before_kill} sends; unknown {len(unknown)}; duplicates {len(duplicates)}")
    assert duplicates == {}
    assert silent_losses == []
    assert HELD <= len(unknown) <= CONCURRENCY
    assert all(received[u] == 1 for u, row in rows.items() if row.status == SENT)
    assert not {u for u, count in received.items() if count > 0} - expected, "nobody else got a message"
    assert summary.count(SENT) + summary.count(UNKNOWN) == len(expected) and summary.status == "done"
    french = server.users[wanting[0].user_id].bot_messages[-1].text
    assert french.startswith("Vous avez dit"), french
    assert any(action == "broadcast_stored" and "fb" in details for action, details in audited)
