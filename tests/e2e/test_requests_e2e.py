"""Data requests end to end over the fake Bot API with the real python-telegram-bot Application.

A question that matches nothing becomes a ticket; staff answer it with ``baraza requests`` (a
separate process on the same database, as in an office) or with ``/reply`` in the chat; the
person receives the answer in the chat through the outbox of ``baraza run``. And ``kill -9`` of
``baraza run`` while an answer is in flight: the row becomes ``unknown`` and is not sent twice.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import running_bot
from handlers.texts import Texts
from storage.database import Database
from storage.deliveries import SENDING, SENT, UNKNOWN
from storage.outbox_messages import OutboxMessage
from storage.repositories import Repositories
from storage.requests import REQUEST
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import FORMS, ROOT, BotProcess, bot_settings

FR, EN = Texts("fr"), Texts("en")
ADMIN = 8199


async def baraza(config: Path, database_url: str, *arguments: str) -> str:
    """Run ``baraza --config CONFIG ARGUMENTS`` as its own process; returns its output (exit status 0 required)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "--config", str(config), *arguments,
        cwd=ROOT,
        env={**os.environ, "BARAZA_DATABASE_URL": database_url, "BARAZA_LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()
    return output.decode()


def ticket_number(text: str) -> int:
    return int(text.split("#", 1)[1].split(".", 1)[0])


async def outbox_rows(database: Database, contact_id: int) -> list[OutboxMessage]:
    async with database.reading() as connection:
        return await Repositories(connection).outbox.for_contact(contact_id)


async def test_an_unknown_question_becomes_a_ticket_answered_from_the_cli_and_the_user_receives_it(
    server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> None:
    user, admin = server.user(8100, language_code="fr"), server.user(ADMIN, language_code="en")
    config = tmp_path / "config.yaml"
    config.write_text(f"surveys: {{directory: {FORMS}}}\n")
    settings = replace(bot_settings(server, database_url), admins=frozenset({("telegram", str(ADMIN))}))
    async with running_bot(settings) as bot:
        offer = await user.send_text_and_wait("Taux de chômage par district en 2025 ?")
        assert offer[-1].text == FR("request_offer")
        assert offer[-1].button_texts == [FR("button_request_send"), FR("button_request_no")]
        created = await user.press_and_wait(FR("button_request_send"))
        number = ticket_number(created[-1].text or "")
        assert created[-1].text == FR("request_created", number=str(number))

        # The team, in another process on the same database.
        listing = await baraza(config, database_url, "requests", "list")
        assert f"#{number}" in listing and "unmatched" in listing and "Taux de chômage par district" in listing
        await baraza(config, database_url, "requests", "progress", str(number), "--staff", "amina")
        told = await user.wait_for_message(lambda m: m.text == FR("request_in_progress_notice", number=str(number)))
        assert told.buttons == []
        answer = "Les chiffres par district sont dans le tableau 4 de l'annuaire :\nhttps://stats.example.org/emploi"
        output = await baraza(config, database_url, "requests", "reply", str(number), answer, "--staff", "amina")
        assert f"data request #{number}: answered by amina, now answered" in output
        received = await user.wait_for_message(
            lambda m: m.text == FR("request_answer_notice", number=str(number), answer=answer)
        )
        assert received.from_bot

        shown = await baraza(config, database_url, "requests", "show", str(number))
        assert "status      answered" in shown and "assigned    amina" in shown and answer.splitlines()[1] in shown
        assert shown.count(" sent ") == 2, shown  # the in-progress notice and the answer, both delivered
        mine = await user.send_text_and_wait("/my_requests")
        assert FR("request_status_answered") in (mine[-1].text or "") and "tableau 4" in (mine[-1].text or "")

        # An admin answers in the chat.
        await user.send_text_and_wait("/request Population par âge et par sexe, recensement 2019")
        second = ticket_number(user.bot_messages[-1].text or "")
        listed = await admin.send_text_and_wait("/requests")
        assert f"#{second}" in (listed[-1].text or "") and f"#{number}" not in (listed[-1].text or "")
        done = await admin.send_text_and_wait(f"/reply {second} Voir le tableau P2 du recensement.")
        assert done[-1].text == EN("reply_sent", number=str(second))
        await user.wait_for_message(
            lambda m: (
                m.text == FR("request_answer_notice", number=str(second), answer="Voir le tableau P2 du recensement.")
            )
        )
        assert bot.outbox is not None
    database = Database(database_url)
    try:
        async with database.reading() as connection:
            counts = await Repositories(connection).outbox.counts()
    finally:
        await database.dispose()
    assert counts[SENT] == 3 and sum(counts.values()) == 3
    answers = [
        m
        for m in user.bot_messages
        if (m.text or "").startswith(FR("request_answer_notice", number="", answer="")[:12])
    ]
    assert len(answers) == 2, "each answer once"

    stats = await baraza(config, database_url, "requests", "stats")
    assert "by status      open 0 · in progress 0 · answered 2 · closed 0" in stats
    assert "time to first answer (2 answered)" in stats


@pytest.mark.slow  # kill -9 of the bot process
async def test_kill_9_while_an_answer_is_in_flight_leaves_it_unknown_and_never_sends_it_twice(
    server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> None:
    user = server.user(8200, language_code="en")
    database = Database(database_url)
    await database.migrate()
    try:
        async with database.transaction() as connection:
            repos = Repositories(connection)
            contact = await repos.contacts.touch("telegram", "8200", "8200", "en", datetime.now(UTC))
            ticket = await repos.requests.create(
                contact_id=contact.id, channel="telegram", language="en", user_group=None,
                source=REQUEST, text="Imports of rice by month", now=datetime.now(UTC),
            )  # fmt: skip
        bot = BotProcess(server, database_url, tmp_path)
        await bot.start()
        try:
            held = 1.5
            server.delay_next("sendMessage", held)
            await baraza(bot.config, database_url, "requests", "reply", str(ticket.id), "First answer")
            deadline = time.monotonic() + 20
            while not server.calls_to("sendMessage"):
                assert time.monotonic() < deadline, "the answer never left"
                await asyncio.sleep(0.02)
            bot.kill()  # the answer reached Telegram; its reply had not come back
            assert [row.status for row in await outbox_rows(database, contact.id)] == [SENDING]
            await asyncio.sleep(held + 0.5)  # the held message arrives after all
            assert [m.text for m in user.bot_messages] == [
                EN("request_answer_notice", number=str(ticket.id), answer="First answer")
            ]

            await bot.start()
            deadline = time.monotonic() + 20
            while (await outbox_rows(database, contact.id))[0].status != UNKNOWN:
                assert time.monotonic() < deadline, "the row in flight was not recovered"
                await asyncio.sleep(0.05)
            # A later answer goes out normally, and the unknown one is not sent again.
            await baraza(bot.config, database_url, "requests", "reply", str(ticket.id), "Second answer")
            await user.wait_for_message(
                lambda m: m.text == EN("request_answer_notice", number=str(ticket.id), answer="Second answer")
            )
        finally:
            await bot.stop()
        assert [m.text for m in user.bot_messages] == [
            EN("request_answer_notice", number=str(ticket.id), answer="First answer"),
            EN("request_answer_notice", number=str(ticket.id), answer="Second answer"),
        ]
        assert len(server.calls_to("sendMessage")) == 2
        assert [row.status for row in await outbox_rows(database, contact.id)] == [UNKNOWN, SENT]
        assert "1 outbox message(s) were being sent when the bot stopped: marked unknown" in bot.log.read_text()
        assert "First answer" not in bot.log.read_text(), "no message texts in the log"
    finally:
        await database.dispose()
