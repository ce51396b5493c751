"""Onboarding and broadcasts over WhatsApp: consent given over WhatsApp, the shipped release
notice sent by the dispatcher through the fake Cloud API, an approved template for people
outside the 24-hour window, and status webhooks recorded on the deliveries."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import RunningBot
from bot.cli import broadcast as broadcast_cli
from bot.config import RegisterSettings
from handlers import broadcast_actions
from handlers.notices import Notice, load_notice_file, load_notice_text
from handlers.texts import Texts
from storage.broadcasts import BroadcastRepository
from storage.contacts_export import export_contacts_csv
from storage.database import Database
from storage.delivery_receipts import ReceiptRepository
from storage.models import ContactRow, DeliveryRow, FeedbackRow
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.whatsapp import FakeGraphServer, FakeWhatsAppUser, WaMessage
from testkit.telegram_harness import ROOT
from testkit.whatsapp_harness import whatsapp_bot

NOTICE = ROOT / "office" / "notices" / "cpi-2026-11.yaml"
TEMPLATE = "whatsapp_template: {name: cpi_release, language: en, parameters: [November 2026]}\n"


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphServer]:
    async with FakeGraphServer() as fake:
        fake.templates["cpi_release"] = 1
        yield fake


async def onboard(person: FakeWhatsAppUser) -> None:
    """Consent and profile over WhatsApp, following prices and health."""
    await person.send_text("/start")
    for label in ("Yes, I agree", "English", "Journalist or media", "North"):
        await person.press_label(label)
    await person.send_text("Daily News")
    for label in ("Prices and inflation", "Health", "Done"):
        await person.press_label(label)


def notice_with_template(tmp_path: Path) -> Notice:
    text = NOTICE.read_text(encoding="utf-8") + TEMPLATE
    return load_notice_text(text, str(tmp_path / "notice.yaml"), base_dir=NOTICE.parent)


async def store_broadcast(bot: RunningBot, notice: Notice, send_at: datetime | None = None) -> tuple[int, int]:
    """The broadcast of ``notice`` as ``baraza broadcast send`` stores it: its id and recipients."""
    async with bot.database.transaction() as connection:
        return await broadcast_actions.store_broadcast(
            connection, notice, created_by="test", now=datetime.now(UTC), send_at=send_at
        )


async def broadcast(bot: RunningBot, notice: Notice) -> int:
    broadcast_id, _ = await store_broadcast(bot, notice)
    assert bot.dispatcher is not None
    bot.dispatcher.wake()
    for _ in range(400):
        async with bot.database.transaction() as connection:
            summary = await BroadcastRepository(connection).summary(broadcast_id)
        if summary is not None and summary.status == "done":
            return broadcast_id
        await asyncio.sleep(0.05)
    raise TimeoutError("the broadcast did not finish")


async def deliveries(database: Database, broadcast_id: int) -> dict[str, Any]:
    """Each recipient's delivery row, by phone number."""
    table, contacts = DeliveryRow.__table__, ContactRow.__table__
    async with database.transaction() as connection:
        rows = await connection.execute(
            select(contacts.c.user_key, table)
            .join(contacts, contacts.c.id == table.c.contact_id)
            .where(table.c.broadcast_id == broadcast_id)
        )
        return {row.user_key: row for row in rows}


async def fall_silent(database: Database, person: FakeWhatsAppUser, days: int) -> None:
    """The person last wrote ``days`` ago, for the bot and for WhatsApp."""
    async with database.transaction() as connection:
        await connection.execute(
            update(ContactRow.__table__)
            .where(ContactRow.__table__.c.user_key == person.phone)
            .values(last_seen_at=datetime.now(UTC) - timedelta(days=days))
        )
    assert person.last_inbound_at is not None
    person.last_inbound_at -= days * 24 * 3600


def newest(person: FakeWhatsAppUser, kind: str) -> WaMessage:
    return next(m for m in reversed(person.messages) if m.kind == kind)


async def test_a_release_notice_reaches_whatsapp_contacts_in_and_outside_the_24_hour_window(
    graph: FakeGraphServer, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml")
    async with whatsapp_bot(graph, database_url, register=register) as bot:
        amina, baraka = graph.user("254722000001", name="Amina"), graph.user("254722000002", name="Baraka")
        await onboard(amina)
        await onboard(baraka)
        await fall_silent(bot.database, baraka, days=3)

        # Staff are told before sending who a notice without a template cannot reach.
        with_template = tmp_path / "with-template.yaml"
        with_template.write_text(NOTICE.read_text(encoding="utf-8") + TEMPLATE, encoding="utf-8")
        for path in (NOTICE, with_template):
            options = {"dry_run": True, "at": None, "wait": False, "confirm": False}
            assert await broadcast_cli.send(bot.settings, path, **options) == 0  # type: ignore[arg-type]
        notes = capsys.readouterr().err
        assert notes.count("WhatsApp contact(s) last wrote more than 24 hours ago") == 1
        assert "note: 1 WhatsApp contact(s)" in notes

        first = await broadcast(bot, notice_with_template(tmp_path))
        rows = await deliveries(bot.database, first)
        assert {phone: row.status for phone, row in rows.items()} == {amina.phone: "sent", baraka.phone: "sent"}

        # Within the window: the notice as the core renders it; the web link is in the text.
        notice = newest(amina, "button")
        assert notice.text.startswith("📈 Consumer price index, November 2026")
        assert "Open the release: https://stats.example.org/releases/cpi/2026-11" in notice.text
        assert notice.button_texts == ["Tell us what you think (2 min)"] and notice.titles == ["1"]
        assert rows[amina.phone].message_key == notice.message_id
        # Outside it: the approved template named in the notice.
        template = newest(baraka, "template")
        assert (template.text, template.template_parameters) == ("cpi_release", ["November 2026"])
        assert not any(m.kind == "button" and m.text.startswith("📈") for m in baraka.messages)

        # Status webhooks: delivered and read for Amina, failed after sent for Baraka.
        assert await graph.send_status(notice.message_id, "delivered") == 200
        assert await graph.send_status(notice.message_id, "read") == 200
        assert await graph.send_status(template.message_id, "failed", error_code=131026) == 200
        rows = await deliveries(bot.database, first)
        assert rows[amina.phone].status == "sent"
        assert rows[amina.phone].delivered_at is not None and rows[amina.phone].read_at is not None
        assert rows[baraka.phone].status == "failed" and "131026" in rows[baraka.phone].error
        async with bot.database.transaction() as connection:
            assert await ReceiptRepository(connection).counts(first) == {"delivered": 1, "read": 1}

        # A notice without a template cannot reach Baraka, and the delivery says why.
        second = await broadcast(bot, load_notice_file(NOTICE))
        rows = await deliveries(bot.database, second)
        assert rows[amina.phone].status == "sent"
        assert rows[baraka.phone].status == "failed"
        assert "24-hour window" in rows[baraka.phone].error and "whatsapp_template" in rows[baraka.phone].error

        # The notice's survey button starts the survey on WhatsApp.
        replies = await amina.press_label("Tell us what you think (2 min)")
        # The register already gave her user group: the survey starts at the next question.
        assert "How often do you use our statistics?" in replies[-1].text


async def test_free_form_messages_that_whatsapp_reports_failed_are_marked_failed(
    graph: FakeGraphServer, tmp_path: Path
) -> None:
    """The bot thinks the person wrote lately; WhatsApp disagrees and reports 131047 afterwards."""
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    register = RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml")
    async with whatsapp_bot(graph, url, register=register) as bot:
        person = graph.user("254722000003")
        await onboard(person)
        assert person.last_inbound_at is not None
        person.last_inbound_at -= 2 * 24 * 3600  # WhatsApp's view only
        broadcast_id = await broadcast(bot, load_notice_file(NOTICE))
        for _ in range(200):
            row = (await deliveries(bot.database, broadcast_id))[person.phone]
            if row.status == "failed":
                break
            await asyncio.sleep(0.05)
        assert row.status == "failed" and "131047" in row.error


async def test_a_failure_reported_before_the_send_is_recorded_still_marks_the_delivery(
    graph: FakeGraphServer, tmp_path: Path
) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    register = RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml")
    async with whatsapp_bot(graph, url, register=register) as bot:
        person = graph.user("254722000004")
        await onboard(person)
        notice = load_notice_file(NOTICE)
        # Sent tomorrow: the dispatcher leaves it alone.
        broadcast_id, recipients = await store_broadcast(bot, notice, send_at=datetime.now(UTC) + timedelta(days=1))
        assert recipients == 1
        # WhatsApp's report comes first; the dispatcher commits the message id a moment later.
        assert await graph.send_status("wamid.LATE", "failed", error_code=131026) == 200
        async with bot.database.transaction() as connection:
            await connection.execute(
                update(DeliveryRow.__table__)
                .where(DeliveryRow.__table__.c.broadcast_id == broadcast_id)
                .values(status="sent", message_key="wamid.LATE")
            )
        for _ in range(200):
            row = (await deliveries(bot.database, broadcast_id))[person.phone]
            if row.status == "failed":
                break
            await asyncio.sleep(0.05)
        assert row.status == "failed" and "131026" in row.error


async def test_whatsapp_contacts_are_exported_by_channel_and_phone_numbers_never_reach_logs_or_exports(
    graph: FakeGraphServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    register = RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml")
    caplog.set_level(logging.INFO)  # the production level (libraries' debug logs show SQL parameters)
    caplog.set_level(logging.DEBUG, logger="bot")
    async with whatsapp_bot(graph, url, register=register) as bot:
        person = graph.user("254722000005")
        await onboard(person)
        graph.fail_next("messages", code=130429)  # a retry is logged
        await person.send_text_and_wait("/help")
        assert await graph.post_webhook(person._message("text", {"text": {"body": "x"}}), signature=None) == 401
        await broadcast(bot, load_notice_file(NOTICE))
        out = io.StringIO()
        await export_contacts_csv(bot.database, bot.engine.pseudonymizer, out)
    (row,) = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert (row["channel"], row["organisation"]) == ("whatsapp", "Daily News")
    assert set(row["topics"].split()) == {"prices", "health"}
    assert person.phone not in out.getvalue()
    assert caplog.records, "something was logged"
    assert not any(person.phone in record.getMessage() for record in caplog.records)


async def test_a_notice_picture_is_uploaded_once_and_sent_to_everyone_by_its_media_id(
    graph: FakeGraphServer, tmp_path: Path
) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    register = RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml")
    (tmp_path / "cpi.png").write_bytes(b"\x89PNG a chart")
    text = "title: CPI\ntext: Prices rose by 0.4%.\nimage: cpi.png\naudience: {topics: [prices]}\n"
    notice = load_notice_text(text, str(tmp_path / "notice.yaml"), base_dir=tmp_path)
    async with whatsapp_bot(graph, url, register=register) as bot:
        people = [graph.user(f"25472200010{n}") for n in range(3)]
        for person in people:
            await onboard(person)
        await broadcast(bot, notice)
    assert len(graph.calls_to("media")) == 1
    pictures = [newest(person, "image") for person in people]
    assert {picture.raw["image"]["id"] for picture in pictures} == set(graph.media)
    assert all(p.text == "Prices rose by 0.4%." and p.media and p.media.content == b"\x89PNG a chart" for p in pictures)


async def test_an_admin_broadcasts_from_whatsapp_and_a_reply_to_the_notice_is_kept(
    graph: FakeGraphServer, tmp_path: Path
) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    register = RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml")
    admin_phone = "254722000200"
    async with whatsapp_bot(graph, url, register=register, admins=frozenset({("whatsapp", admin_phone)})) as bot:
        reader, admin = graph.user("254722000201"), graph.user(admin_phone)
        await onboard(reader)
        await admin.send_text_and_wait("/broadcast")
        preview = await admin.send_text_and_wait("The CPI for November is out: https://stats.example.org")
        assert preview[0].text == "The CPI for November is out: https://stats.example.org"
        confirmed = await admin.press_label("✅ Send to 1")
        created = confirmed[-1].text
        assert created.startswith("📣 The notice is on its way to 1 people (broadcast ")
        broadcast_id = int(created.split("(broadcast ")[1].split(")")[0])
        for _ in range(200):
            rows = await deliveries(bot.database, broadcast_id)
            if rows[reader.phone].status == "sent":
                break
            await asyncio.sleep(0.05)
        assert newest(reader, "text").text == "The CPI for November is out: https://stats.example.org"
        thanks = await reader.send_text_and_wait("Why did transport prices fall?")
        assert [m.text for m in thanks] == [Texts("en")("broadcast_reply_thanks")]
        async with bot.database.transaction() as connection:
            kept = (await connection.execute(select(FeedbackRow.__table__))).all()
        assert [(row.broadcast_id, row.channel, row.text) for row in kept] == [
            (broadcast_id, "whatsapp", "Why did transport prices fall?")
        ]
