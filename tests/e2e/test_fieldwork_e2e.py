"""Fieldwork end to end: a stratified sample invited over Telegram and WhatsApp, people who answer,
stop halfway, break off, refuse, never open or land in a full quota cell, two reminder rounds with the clock moved forward
(never slept), and the report's counts and rates against figures computed by hand from the same events.

The real bot (python-telegram-bot against the fake Bot API, the WhatsApp channel against the fake
Graph API) runs in this process; its durable sender and WhatsApp sender read a movable clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, select

from bot.app import running_bot
from bot.channels.whatsapp.sender import WhatsAppSender
from bot.config import BroadcastSettings, FieldworkSettings
from handlers.invitations import (
    Disposition,
    QuietHours,
    build_report,
    disposition_rows,
    invitation_notice,
    invite,
    queue_due_reminders,
)
from handlers.notices import WhatsAppTemplate
from handlers.quotas import quota_report
from storage.database import Database
from storage.models import ContactRow, DeliveryRow, InvitationRow
from surveys.loader import load_survey_directory
from testkit.broadcasts import wait_until_finished
from testkit.fakes.telegram import FakeTelegramServer, FakeUser
from testkit.fakes.whatsapp import FakeGraphServer, FakeWhatsAppUser
from testkit.register import Person, add_people
from testkit.telegram_harness import bot_settings
from testkit.whatsapp_harness import WEBHOOK_PATH, whatsapp_settings

pytestmark = pytest.mark.e2e

contacts = cast(Table, ContactRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
invitations = cast(Table, InvitationRow.__table__)

FORM = """id: fw
title: Household conditions
intro: Thank you for taking part.
reminders:
  - {after: 2d, text: "Our short survey is still open: 4 questions."}
  - {after: 5d, text: "Last reminder: the survey closes soon."}
quotas:
  - {by: region, targets: {east: 2}}
questions:
  - {type: integer, name: q1, label: "Rooms in the household"}
  - {type: integer, name: q2, label: "People in the household"}
  - {type: integer, name: q3, label: "Children under five"}
  - {type: integer, name: q4, label: "Working adults"}
"""
# The figures: 400 contacts, a sample of 150 stratified by channel (98 Telegram, 52 WhatsApp).
TELEGRAM, WHATSAPP = 260, 140
SILENT = tuple(900_000 + i for i in range(0, WHATSAPP, 10))  # silent for 30 hours: outside the window
SAMPLE, SEED = 150, 19
EAST_TARGET = 2
THANKED = "We already have all the answers we need from people like you"
NO_QUIET = QuietHours("UTC", None, None)
QUIET = 0.1


class MovedClock:
    """The real clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def tg_answer(user: FakeUser, start: str, answers: int) -> None:
    await user.press_and_wait(start, quiet=QUIET)
    for value in range(answers):
        await user.send_text_and_wait(str(value + 1), quiet=QUIET)


async def wa_answer(user: FakeWhatsAppUser, answers: int) -> None:
    await user.press_label("Start the survey")
    for value in range(answers):
        await user.send_text(str(value + 1))


async def recipients(database: Database, broadcast_id: int) -> set[str]:
    async with database.reading() as connection:
        rows = await connection.execute(
            select(contacts.c.user_key)
            .select_from(deliveries.join(contacts, contacts.c.id == deliveries.c.contact_id))
            .where(deliveries.c.broadcast_id == broadcast_id)
        )
        return {str(row.user_key) for row in rows}


async def finish(database: Database, broadcast_id: int, wake: Callable[[], None]) -> None:
    wake()
    await wait_until_finished(database, broadcast_id, within=20)


async def test_invite_remind_twice_and_report(database_url: str, tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "fw.yaml").write_text(FORM, encoding="utf-8")
    survey = load_survey_directory(forms)["fw"]
    people = [
        Person(
            100 + i, "en", "media" if i % 4 == 0 else "public", "east" if i % 10 == 3 else "north" if i % 2 else "south"
        )
        for i in range(TELEGRAM)
    ] + [
        Person(
            900_000 + i, "en", "public", "north", channel="whatsapp", silent_hours=30 if 900_000 + i in SILENT else 0
        )
        for i in range(WHATSAPP)
    ]
    database = Database(database_url)
    await database.migrate()
    await add_people(database, people)
    await database.dispose()
    clock = MovedClock()
    async with FakeTelegramServer() as tg, FakeGraphServer() as graph:
        graph.templates["fw_reminder"] = 0
        tg_users = {str(p.user_id): tg.user(p.user_id) for p in people if p.channel == "telegram"}
        wa_users = {str(p.user_id): graph.user(str(p.user_id)) for p in people if p.channel == "whatsapp"}
        for key, wa_user in wa_users.items():
            wa_user.last_inbound_at = None if int(key) in SILENT else time.time()
        settings = replace(
            bot_settings(tg, database_url, forms=forms),
            whatsapp=whatsapp_settings(graph),
            broadcast=BroadcastSettings(1000.0, 100.0, 8),
            fieldwork=FieldworkSettings(NO_QUIET, 0, WhatsAppTemplate("fw_reminder", "en")),
        )
        async with running_bot(settings) as bot:
            graph.webhook_url = f"http://127.0.0.1:{bot.web_port}{WEBHOOK_PATH}"
            assert bot.dispatcher is not None
            bot.dispatcher.clock = clock
            wa_sender = bot.dispatcher.senders["whatsapp"]
            assert isinstance(wa_sender, WhatsAppSender)
            wa_sender.clock = clock
            db = bot.database

            # ---------------------------------------------------------------- invitations
            async with db.transaction() as connection:
                found = await invite(
                    connection,
                    survey,
                    notice=invitation_notice(survey),  # no template: the silent WhatsApp contacts miss it
                    size=SAMPLE,
                    stratify_by="channel",
                    seed=SEED,
                    quiet=NO_QUIET,
                    created_by="test",
                    now=clock(),
                )
            assert found.invited == SAMPLE and dict(found.strata) == {"telegram": 98, "whatsapp": 52}
            await finish(db, found.broadcast_id, bot.dispatcher.wake)
            invited = await recipients(db, found.broadcast_id)
            tg_invited = sorted(k for k in invited if k in tg_users)
            wa_invited = sorted(k for k in invited if k in wa_users)
            wa_silent = [k for k in wa_invited if int(k) in SILENT]
            wa_reached = [k for k in wa_invited if int(k) not in SILENT]
            assert wa_silent, "the seed puts a silent WhatsApp contact in the sample"
            assert all(tg_users[k].bot_messages for k in tg_invited)
            assert not any(tg_users[k].bot_messages for k in tg_users if k not in invited), "only the sample"
            assert not any(wa_users[k].bot_messages for k in wa_silent), "outside the window, no template"

            # Who does what. The east quota cell takes 2 completes: of the Telegram invitees in the
            # east, 2 complete, 3 more are screened out when they start, the others never open.
            # The other Telegram invitees: 25 complete, 15 halfway, 10 break off, 10 refuse, the rest never open.
            east = {str(p.user_id) for p in people if p.region == "east"}
            tg_east = [k for k in tg_invited if k in east]
            assert len(tg_east) >= EAST_TARGET + 4, "the seed puts enough people of the east in the sample"
            east_complete, east_screened, east_never = tg_east[:EAST_TARGET], tg_east[2:5], tg_east[5:]
            rest = [k for k in tg_invited if k not in east]
            tg_complete, tg_half, tg_break = rest[:25], rest[25:40], rest[40:50]
            tg_refuse, tg_never = rest[50:60], rest[60:]
            wa_complete, wa_half, wa_refuse, wa_never = (
                wa_reached[:12],
                wa_reached[12:16],
                wa_reached[16:22],
                wa_reached[22:],
            )
            await asyncio.gather(
                *(tg_answer(tg_users[k], "Start the survey", 4) for k in [*tg_complete, *east_complete]),
                *(tg_answer(tg_users[k], "Start the survey", 2) for k in tg_half),
                *(tg_answer(tg_users[k], "Start the survey", 1) for k in tg_break),
                *(tg_users[k].send_text_and_wait("/stop", quiet=QUIET) for k in tg_refuse),
            )
            for k in wa_complete:
                await wa_answer(wa_users[k], 4)
            for k in wa_half:
                await wa_answer(wa_users[k], 2)
            for k in wa_refuse:
                await wa_users[k].send_text("/stop")
            for k in east_screened:  # the east cell is full: thanked and screened out at the start
                shown = await tg_users[k].press_and_wait("Start the survey", quiet=QUIET)
                assert THANKED in (shown[-1].text or ""), [m.text for m in shown]

            # ---------------------------------------------------------------- reminder round 1 (day 2)
            async with db.transaction() as connection:
                assert await queue_due_reminders(connection, survey, now=clock(), quiet=NO_QUIET) == [], "not yet due"
            clock.offset = timedelta(days=2, minutes=1)
            in_quiet_hours = QuietHours(
                "UTC", (clock() - timedelta(hours=1)).time(), (clock() + timedelta(hours=1)).time()
            )
            async with db.transaction() as connection:
                assert await queue_due_reminders(connection, survey, now=clock(), quiet=in_quiet_hours) == []
            async with db.transaction() as connection:
                (first,) = await queue_due_reminders(
                    connection, survey, now=clock(), quiet=NO_QUIET, template=WhatsAppTemplate("fw_reminder", "en")
                )
            async with db.transaction() as connection:
                assert await queue_due_reminders(connection, survey, now=clock(), quiet=NO_QUIET) == [], "once"
            await finish(db, first.broadcast_id, bot.dispatcher.wake)
            non_completers = {*tg_half, *tg_break, *tg_never, *east_never, *wa_half, *wa_never}
            assert first.number == 1 and await recipients(db, first.broadcast_id) == non_completers

            # The reminder's button resumes a half-finished response at its question.
            resumed = tg_users[tg_half[0]]
            shown = await resumed.press_and_wait("Continue the survey", quiet=QUIET)
            assert "Children under five" in (shown[-1].text or ""), [m.text for m in shown]
            for value in (3, 4):
                await resumed.send_text_and_wait(str(value), quiet=QUIET)
            await tg_answer(tg_users[tg_never[0]], "Continue the survey", 4)
            completed_after_reminder = {tg_half[0], tg_never[0]}

            # ---------------------------------------------------------------- reminder round 2 (day 5)
            clock.offset = timedelta(days=5, minutes=2)
            async with db.transaction() as connection:
                (second,) = await queue_due_reminders(
                    connection, survey, now=clock(), quiet=NO_QUIET, template=WhatsAppTemplate("fw_reminder", "en")
                )
            await finish(db, second.broadcast_id, bot.dispatcher.wake)
            assert second.number == 2
            assert await recipients(db, second.broadcast_id) == non_completers - completed_after_reminder
            for k in [*wa_half, *wa_never]:  # days after their last message: the approved template
                assert wa_users[k].bot_messages[-1].kind == "template"
            for k in [*tg_complete, *east_complete, *east_screened, *tg_refuse, *wa_complete, *wa_refuse]:
                texts = [m.text or "" for m in (tg_users.get(k) or wa_users[k]).bot_messages]
                assert not any("reminder" in t.lower() or "still open" in t for t in texts), k

            # ---------------------------------------------------------------- the report
            async with db.reading() as connection:
                rows = await disposition_rows(connection, survey)
                cells = await quota_report(connection, survey)
    by_hand = {
        Disposition.COMPLETE: len(tg_complete) + len(east_complete) + len(wa_complete) + len(completed_after_reminder),
        Disposition.PARTIAL: len(tg_half) - 1 + len(wa_half),
        Disposition.BREAK_OFF: len(tg_break),
        Disposition.REFUSAL: len(tg_refuse) + len(wa_refuse),
        Disposition.NON_CONTACT: len(tg_never) - 1 + len(east_never) + len(wa_never),
        Disposition.NOT_DELIVERED: len(wa_silent),
        Disposition.SCREENED_OUT: len(east_screened),
    }
    report = build_report("fw", rows)
    assert {d: report.overall.n(d) for d in by_hand} == by_hand
    assert report.overall.total == SAMPLE
    i, p = by_hand[Disposition.COMPLETE], by_hand[Disposition.PARTIAL]
    r = by_hand[Disposition.REFUSAL] + by_hand[Disposition.BREAK_OFF]
    nc, u = by_hand[Disposition.NON_CONTACT], by_hand[Disposition.NOT_DELIVERED]
    ne = by_hand[Disposition.SCREENED_OUT]  # not eligible (AAPOR 4): out of every denominator, and lowers e
    assert report.overall.rr1 == pytest.approx(i / (i + p + r + nc + u))
    assert report.overall.rr2 == pytest.approx((i + p) / (i + p + r + nc + u))
    assert report.overall.coop1 == pytest.approx(i / (i + p + r))
    e = (i + p + r + nc) / (i + p + r + nc + ne)
    assert report.overall.rr3 == pytest.approx(i / (i + p + r + nc + e * u))
    east_cell = next(cell for cell in cells if cell.cell == ("east",))
    assert (east_cell.completes, east_cell.in_progress, east_cell.status) == (EAST_TARGET, 0, "full")
    assert report.by["channel"]["whatsapp"].n(Disposition.NOT_DELIVERED) == len(wa_silent)
    paradata = {row.disposition: row for row in rows}
    complete = paradata[Disposition.COMPLETE]
    assert complete.first_opened_at is not None and complete.duration_seconds is not None
    assert complete.device_language == "en"
    assert max(row.reminders_received for row in rows) == 2
