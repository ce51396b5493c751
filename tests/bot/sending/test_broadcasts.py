"""Broadcasts: notice files, targeting, the durable dispatcher, /broadcast, replies to notices.

End to end with the real python-telegram-bot Application against the fake Bot API and real
databases (SQLite, and PostgreSQL when reachable). Contacts of the register are created
directly in the database: consent comes from onboarding, which is not what these tests are about.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, select

from bot.app import RunningBot, running_bot
from bot.cli.main import main
from bot.config import BroadcastSettings
from bot.sending.broadcast_rows import broadcast_sender
from bot.sending.channel_sender import NotSent
from bot.sending.rate import broadcast_rate_limiter
from handlers.context import DEFAULT_TOPICS, DEFAULT_USER_GROUPS
from handlers.messages import Outbound
from handlers.notices import Notice, NoticeFileError, load_notice_file, load_notice_text
from handlers.texts import RLM, Texts
from storage import audit
from storage.broadcasts import (
    BLOCKED,
    DONE,
    FAILED,
    PENDING,
    SENT,
    SKIPPED,
    UNKNOWN,
    Audience,
    BroadcastRepository,
)
from storage.database import Database
from storage.feedback import BROADCAST_REPLY, FeedbackRepository
from storage.models import BroadcastRow, ContactRow, DeliveryRow, FeedbackRow, SubscriptionRow
from testkit.broadcasts import CPI, create_broadcast, delivery_rows, sends_per_chat, summary_of, wait_until_finished
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.telegram import FakeTelegramServer
from testkit.register import Person, add_people
from testkit.telegram_harness import ROOT, bot_settings

contacts = cast(Table, ContactRow.__table__)
subscriptions = cast(Table, SubscriptionRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
broadcasts = cast(Table, BroadcastRow.__table__)
feedback = cast(Table, FeedbackRow.__table__)
EXAMPLE = ROOT / "office" / "notices" / "cpi-2026-11.yaml"


# --------------------------------------------------------------------------- helpers


@contextlib.asynccontextmanager
async def broadcasting_bot(
    server: FakeTelegramServer,
    database_url: str,
    *,
    per_second: float = 1000.0,
    concurrency: int = 8,
    admins: Iterable[tuple[str, str]] = (),
) -> AsyncIterator[RunningBot]:
    settings = replace(
        bot_settings(server, database_url),
        broadcast=BroadcastSettings(per_second, 1.0, concurrency),
        admins=frozenset(admins),
    )
    async with running_bot(settings) as bot:
        yield bot


# --------------------------------------------------------------------------- the notice file


def test_the_shipped_example_notice_is_valid() -> None:
    notice = load_notice_file(EXAMPLE, topics=DEFAULT_TOPICS, user_groups=DEFAULT_USER_GROUPS, surveys={"usat2026"})
    assert set(notice.languages) == {"en", "fr", "pt", "ar"}
    assert notice.audience.topics == ("prices",)
    assert [b.url or b.survey for b in notice.buttons] == ["https://stats.example.org/releases/cpi/2026-11", "usat2026"]
    arabic = notice.outbound("ar")
    assert arabic.text.startswith(RLM) and arabic.buttons[0][0].label == RLM + "فتح النشرة"
    assert notice.outbound("sw").text == notice.texts["en"], "a missing language gets the default"
    assert Notice.from_json(notice.to_json(), title=notice.title, audience=notice.audience) == replace(
        notice, send_at=None
    )


def test_notice_problems_are_reported_with_file_and_line(tmp_path: Path) -> None:
    text = """title: Test
default_language: en
text:
  fr: Bonjour
audience:
  topics: [prices, weather]
  colour: [blue]
buttons:
  - label: Open
    url: ftp://example.org
  - label: Survey
    survey: nosuchsurvey
  - label: Both
    url: https://example.org
    survey: usat2026
image: missing.png
send_at: 2001-01-01 10:00
"""
    with pytest.raises(NoticeFileError) as caught:
        load_notice_text(
            text,
            "N.yaml",
            base_dir=tmp_path,
            topics=DEFAULT_TOPICS,
            user_groups=DEFAULT_USER_GROUPS,
            surveys={"usat2026"},
            now=datetime.now(UTC),
        )
    problems = [str(problem) for problem in caught.value.problems]
    assert "N.yaml:4: the text has no text in the default language 'en'" in problems
    assert any(p.startswith("N.yaml:6: 'weather' is not one of the topics") for p in problems)
    assert any(p.startswith("N.yaml:7: unknown key 'colour' in the audience") for p in problems)
    assert "N.yaml:10: the url of button 1 must start with https:// (or http://)" in problems
    assert "N.yaml:12: there is no survey 'nosuchsurvey' (surveys: usat2026)" in problems
    assert any(p.startswith("N.yaml:13: button 3 needs either a url") for p in problems)
    assert any(p.startswith("N.yaml:16: cannot read") and "missing.png" in p for p in problems)
    assert any(p.startswith("N.yaml:17: send_at 2001-01-01 10:00 UTC is in the past") for p in problems)
    assert [p.line for p in caught.value.problems] == sorted(p.line for p in caught.value.problems)


def test_notice_text_limits_and_attachment(tmp_path: Path) -> None:
    (tmp_path / "chart.png").write_bytes(b"\x89PNG fake picture")
    long = "x" * 1500
    with pytest.raises(NoticeFileError) as caught:
        load_notice_text(f"title: T\ntext: {long}\nimage: chart.png\n", "N.yaml", base_dir=tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        "N.yaml:2: the text in 'en' is 1500 characters long; Telegram's limit with a picture or document is 1024"
    ]
    notice = load_notice_text(
        "title: T\ntext: {en: Chart, pt: Gráfico}\nimage: chart.png\nsend_at: 2099-01-02 03:04 +02:00\n",
        "N.yaml",
        base_dir=tmp_path,
    )
    assert notice.attachment is not None and notice.attachment.mime_type == "image/png"
    assert notice.send_at == datetime(2099, 1, 2, 1, 4, tzinfo=UTC)
    assert Notice.from_json(notice.to_json()).attachment == notice.attachment


# --------------------------------------------------------------------------- targeting, end to end


TARGETED = {
    # user id: (person, expected language or None when not a recipient)
    7001: (Person(7001, "en", "media", topics=("prices",)), "en"),
    7002: (Person(7002, "fr", "media", topics=("prices", "labour")), "fr"),
    7003: (Person(7003, "ar", "media", topics=("prices",)), "ar"),
    7004: (Person(7004, "pt", "media", topics=("prices",)), "en"),  # no Portuguese text: the default
    7005: (Person(7005, None, "media", topics=("prices",)), "en"),
    7006: (Person(7006, "en", "media", topics=("prices",), consent=False), None),
    7007: (Person(7007, "en", "media", topics=("prices",), declined_later=True), None),
    7008: (Person(7008, "en", "media", topics=("prices",), opted_out=True), None),
    7009: (Person(7009, "en", "media", topics=("prices",), blocked=True), None),
    7010: (Person(7010, "en", "media", topics=("labour",)), None),
    7011: (Person(7011, "en", "academic", topics=("prices",)), None),
    7012: (Person(7012, "en", None, topics=("prices",)), None),
}


async def test_a_topic_and_a_group_reach_exactly_the_consenting_matching_contacts_once_in_their_language(
    server: FakeTelegramServer, database: Database, database_url: str
) -> None:
    for user_id in TARGETED:
        server.user(user_id)
    await add_people(database, [person for person, _ in TARGETED.values()])
    expected = {user_id: language for user_id, (_, language) in TARGETED.items() if language is not None}
    async with broadcasting_bot(server, database_url):
        broadcast_id, recipients = await create_broadcast(database, CPI)
        assert recipients == len(expected)
        summary = await wait_until_finished(database, broadcast_id)
    assert summary.count(SENT) == len(expected) and summary.outstanding == 0
    assert sends_per_chat(server) == Counter(dict.fromkeys(expected, 1))
    for user_id, language in expected.items():
        message = server.user(user_id).bot_messages[-1]
        wanted = CPI.texts[language]
        assert message.text == (RLM + wanted if language == "ar" else wanted)
        assert message.buttons[1] == [("Répondre" if language == "fr" else "Take the survey", "s:usat2026")], (
            "the survey button starts the survey"
        )
        assert message.reply_markup is not None
        assert message.reply_markup["inline_keyboard"][0][0]["url"] == "https://stats.example.org/cpi"
    rows = await delivery_rows(database, broadcast_id)
    assert {user_id: row.language for user_id, row in rows.items()} == expected
    assert all(row.status == SENT and row.sent_at and row.message_key and row.attempts == 1 for row in rows.values())
    assert all(row.chat_key is None for row in rows.values()), "no chat id is copied into the deliveries"


async def test_audience_filters_by_region_and_language_and_counts_languages(database: Database) -> None:
    await add_people(
        database,
        [
            Person(1, "en", "media", region="north"),
            Person(2, "fr", "citizen", region="north"),
            Person(3, "fr", "citizen", region="south"),
            Person(4, "ar", "citizen", region="north", opted_out=True),
        ],
    )
    async with database.transaction() as connection:
        repository = BroadcastRepository(connection)
        assert await repository.audience_size(Audience()) == 3
        assert await repository.audience_size(Audience(regions=("north",))) == 2
        assert await repository.audience_size(Audience(regions=("north",), languages=("fr",))) == 1
        assert await repository.audience_size(Audience(user_groups=("citizen", "media"), regions=("south",))) == 1
        assert await repository.audience_languages(Audience(), ("en", "ar"), "en") == {"en": 3}
        assert await repository.audience_languages(Audience(), ("en", "fr"), "en") == {"en": 1, "fr": 2}
        assert await repository.audience_size(Audience(channels=("web",))) == 0


# --------------------------------------------------------------------------- Telegram's answers


async def test_a_429_is_waited_out_and_the_message_sent_once(
    server: FakeTelegramServer, database: Database, database_url: str
) -> None:
    people = [Person(7100 + i, topics=("prices",), user_group="media") for i in range(4)]
    for person in people:
        server.user(person.user_id)
    await add_people(database, people)
    server.fail_next("sendMessage", error_code=429, retry_after=1)
    async with broadcasting_bot(server, database_url):
        broadcast_id, _ = await create_broadcast(database, CPI)
        summary = await wait_until_finished(database, broadcast_id)
    assert summary.count(SENT) == 4 and summary.count(FAILED) == summary.count(UNKNOWN) == 0
    calls = server.calls_to("sendMessage")
    refused = [call for call in calls if call.status == 429]
    assert len(refused) == 1
    retried = [c for c in calls if c.ok and c.params["chat_id"] == refused[0].params["chat_id"]]
    assert len(retried) == 1 and retried[0].time - refused[0].time >= 1.0, "retry_after is obeyed"
    assert sends_per_chat(server) == Counter({p.user_id: 1 for p in people})
    rows = await delivery_rows(database, broadcast_id)
    assert all(row.attempts == 1 and row.status == SENT for row in rows.values()), "a 429 is not an attempt"


async def test_a_403_marks_the_contact_blocked_and_later_notices_skip_them(
    server: FakeTelegramServer, database: Database, database_url: str
) -> None:
    people = [Person(7200 + i, topics=("prices",), user_group="media") for i in range(3)]
    for person in people:
        server.user(person.user_id)
    ids = await add_people(database, people)
    server.user(7201).block()
    async with broadcasting_bot(server, database_url):
        first, _ = await create_broadcast(database, CPI)
        summary = await wait_until_finished(database, first)
        assert (summary.count(SENT), summary.count(BLOCKED)) == (2, 1)
        rows = await delivery_rows(database, first)
        assert rows[7201].status == FAILED and rows[7201].error == BLOCKED
        async with database.transaction() as connection:
            blocked_at = await connection.scalar(select(contacts.c.blocked_at).where(contacts.c.id == ids[7201]))
        assert blocked_at is not None
        second, recipients = await create_broadcast(database, CPI)
        assert recipients == 2, "no more notices to someone who blocked the bot"
        await wait_until_finished(database, second)
    assert sends_per_chat(server) == Counter({7200: 2, 7202: 2})


async def test_a_server_error_is_retried_and_a_lost_answer_is_unknown_not_resent(
    server: FakeTelegramServer, tmp_path: Path
) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    database = Database(url)
    try:
        people = [Person(7300 + i, topics=("prices",), user_group="media") for i in range(2)]
        for person in people:
            server.user(person.user_id)
        await add_people(database, people)
        async with broadcasting_bot(server, url, concurrency=1):
            server.fail_next("sendMessage", error_code=502)  # Bad Gateway: Telegram did not take it
            server.drop_next("sendMessage", after_processing=True)  # delivered, but the answer is lost
            broadcast_id, _ = await create_broadcast(database, CPI)
            summary = await wait_until_finished(database, broadcast_id)
        assert (summary.count(SENT), summary.count(UNKNOWN)) == (1, 1)
        rows = await delivery_rows(database, broadcast_id)
        sent = next(row for row in rows.values() if row.status == SENT)
        unknown = next(row for row in rows.values() if row.status == UNKNOWN)
        assert sent.attempts == 1 and unknown.error.startswith("no answer")
        received = sends_per_chat(server)
        assert received == Counter(dict.fromkeys(rows, 1)), "each person has the notice exactly once"
        calls = Counter(int(call.params["chat_id"]) for call in server.calls_to("sendMessage"))
        assert sorted(calls.values()) == [1, 2], "the 502 was retried, the lost answer was not"
        # Staff may send the unknown ones again: that person then gets it a second time.
        async with database.transaction() as connection:
            assert await BroadcastRepository(connection).resend_unknown(broadcast_id) == 1
            assert (await BroadcastRepository(connection).summary(broadcast_id)).count(PENDING) == 1  # type: ignore[union-attr]
    finally:
        await database.dispose()


async def test_a_picture_is_uploaded_once_then_sent_by_its_file_id(server: FakeTelegramServer, tmp_path: Path) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    database = Database(url)
    try:
        picture = b"\x89PNG\r\n\x1a\n a chart of consumer prices"
        (tmp_path / "chart.png").write_bytes(picture)
        notice = load_notice_text(
            "title: Chart\ntext: {en: Prices in November, fr: Les prix en novembre}\nimage: chart.png\n"
            "buttons: [{label: {en: Open}, url: 'https://stats.example.org/cpi'}]\n",
            "N.yaml",
            base_dir=tmp_path,
        )
        people = [Person(7700 + i, "fr" if i % 2 else "en") for i in range(4)]
        for person in people:
            server.user(person.user_id)
        await add_people(database, people)
        async with broadcasting_bot(server, url, concurrency=4):
            broadcast_id, _ = await create_broadcast(database, notice)
            summary = await wait_until_finished(database, broadcast_id)
        assert summary.count(SENT) == 4
        calls = server.calls_to("sendPhoto")
        assert len(calls) == 4 and sum(1 for call in calls if "photo" in call.files) == 1, "one upload"
        for person in people:
            message = server.user(person.user_id).bot_messages[-1]
            assert message.media_type == "photo" and message.photo == picture
            assert message.text == ("Les prix en novembre" if person.language == "fr" else "Prices in November")
            assert message.buttons == [[("Open", None)]]
    finally:
        await database.dispose()


# --------------------------------------------------------------------------- the dispatcher alone


@dataclass
class FlakySender:
    """A channel that fails ``failures`` times with NotSent, then accepts."""

    failures: int
    channel: str = "telegram"
    calls: int = 0

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise NotSent("connection refused")
        return f"m{self.calls}"


async def test_errors_that_sent_nothing_are_retried_with_backoff_then_fail(tmp_path: Path) -> None:
    database = Database(await copy_migrated_sqlite(tmp_path / "db.sqlite"))
    try:
        await add_people(database, [Person(1), Person(2)])
        dispatcher = broadcast_sender(
            database, [FlakySender(failures=5)], BroadcastSettings(100, 100, 1), max_attempts=3, backoff=0.05
        )
        await dispatcher.start()
        broadcast_id, _ = await create_broadcast(database, replace(CPI, audience=Audience()))
        dispatcher.wake()
        summary = await wait_until_finished(database, broadcast_id, done=False)
        await dispatcher.stop()
        assert (summary.count(FAILED), summary.count(SENT)) == (1, 1)
        rows = await delivery_rows(database, broadcast_id)
        failed = next(row for row in rows.values() if row.status == FAILED)
        assert failed.error.startswith("not sent after 3 attempts")
    finally:
        await database.dispose()


async def test_a_clean_stop_puts_claimed_but_unsent_rows_back(tmp_path: Path) -> None:
    database = Database(await copy_migrated_sqlite(tmp_path / "db.sqlite"))
    try:
        await add_people(database, [Person(i) for i in range(1, 31)])
        sender = FlakySender(failures=0)
        dispatcher = broadcast_sender(database, [sender], BroadcastSettings(10, 1, 8))
        await dispatcher.start()
        broadcast_id, _ = await create_broadcast(database, replace(CPI, audience=Audience()))
        dispatcher.wake()
        await asyncio.sleep(0.5)
        await dispatcher.stop()
        summary = await summary_of(database, broadcast_id)
        assert summary.count(SENT) == sender.calls and 0 < sender.calls < 30
        assert summary.count(PENDING) == 30 - sender.calls and summary.count(UNKNOWN) == 0
    finally:
        await database.dispose()


async def test_the_rate_limiter_never_lets_more_than_the_rate_through_in_any_second() -> None:
    limiter = broadcast_rate_limiter(100, 1000)
    times: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < 1.6:
        await limiter.acquire(None)
        times.append(time.monotonic())
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    # Paced to leave room for arrival jitter (rate.ARRIVAL_SLACK): about 95 of the 100 in a second.
    assert 90 <= busiest <= 100
    assert len(times) >= 135


# --------------------------------------------------------------------------- scheduled, after a restart


async def test_a_scheduled_broadcast_goes_out_at_its_time_also_after_a_restart(
    server: FakeTelegramServer, database: Database, database_url: str
) -> None:
    people = [Person(7400 + i, topics=("prices",), user_group="media") for i in range(3)]
    for person in people:
        server.user(person.user_id)
    await add_people(database, people)
    send_at = datetime.now(UTC) + timedelta(seconds=2.5)
    async with broadcasting_bot(server, database_url):
        broadcast_id, _ = await create_broadcast(database, CPI, send_at=send_at)
        await asyncio.sleep(1.2)
        assert not server.calls_to("sendMessage"), "nothing before its time"
    await asyncio.sleep(max(0.0, (send_at - datetime.now(UTC)).total_seconds()) + 0.3)
    assert not server.calls_to("sendMessage")
    async with broadcasting_bot(server, database_url):
        await wait_until_finished(database, broadcast_id)
    calls = server.calls_to("sendMessage")
    assert sends_per_chat(server) == Counter({p.user_id: 1 for p in people})
    assert all(call.time >= calls[0].time for call in calls)
    rows = await delivery_rows(database, broadcast_id)
    assert all(row.sent_at.replace(tzinfo=UTC) >= send_at for row in rows.values())


# --------------------------------------------------------------------------- /broadcast and replies


async def test_only_admins_can_broadcast_from_the_chat_with_a_preview_then_confirm(
    server: FakeTelegramServer, database: Database, database_url: str
) -> None:
    people = [Person(7500, "fr", topics=("prices",)), Person(7501, "en", topics=("labour",)), Person(7502, "en")]
    for person in people:
        server.user(person.user_id, language_code=person.language or "en")
    await add_people(database, people)
    admin, someone = server.user(7599, language_code="en"), server.user(7598, language_code="en")
    async with broadcasting_bot(server, database_url, admins=[("telegram", "7599")]):
        refused = await someone.send_text_and_wait("/broadcast")
        assert [m.text for m in refused] == [Texts("en")("unknown_command", command="/broadcast")]
        assert [m.text for m in await someone.send_text_and_wait("/broadcast Hello all")] == [refused[0].text]

        asked = await admin.send_text_and_wait("/broadcast")
        assert asked[-1].text == Texts("en")("broadcast_ask_text")
        preview = await admin.send_text_and_wait("The CPI for November is out: https://stats.example.org")
        assert preview[0].text == "The CPI for November is out: https://stats.example.org"
        assert preview[-1].text == Texts("en")("broadcast_audience_all", count="3")
        assert "prices (1)" in preview[-1].button_texts and "✅ Send to 3" in preview[-1].button_texts
        narrowed = await admin.press_and_wait("prices (1)")
        assert narrowed[-1].text == Texts("en")("broadcast_audience_topic", count="1", topic="prices")
        assert not set(sends_per_chat(server)) & {7500, 7501, 7502}, "nothing is sent before Send"
        # A forged press from someone else changes nothing.
        forged = narrowed[-1].buttons[-1][0][1]
        assert forged is not None
        await someone.press_raw(forged, narrowed[-1].message_id)
        await someone.wait_until_quiet()
        confirmed = await admin.press_and_wait("✅ Send to 1")
        created = confirmed[-1].text or ""
        assert created.startswith("📣 The notice is on its way to 1 people (broadcast ")
        broadcast_id = int(created.split("(broadcast ")[1].split(")")[0])
        summary = await wait_until_finished(database, broadcast_id)
        assert summary.created_by == "telegram:7599" and summary.recipients == 1
        # /cancel while preparing another one sends nothing.
        await admin.send_text_and_wait("/broadcast Draft that is never sent")
        cancelled = await admin.send_text_and_wait("/cancel")
        assert cancelled[-1].text == Texts("en")("broadcast_cancelled")
    received = sends_per_chat(server)
    assert {user_id: received[user_id] for user_id in (7500, 7501, 7502)} == {7500: 1, 7501: 0, 7502: 0}
    assert server.user(7500).bot_messages[-1].text == "The CPI for November is out: https://stats.example.org"
    async with database.transaction() as connection:
        listed = await BroadcastRepository(connection).recent()
    assert [b.id for b in listed] == [broadcast_id], "drafts are not broadcasts"
    async with database.reading() as connection:
        (event,) = await audit.events(connection)
    assert (event.actor, event.action, event.target) == (
        "telegram:7599",
        audit.BROADCAST_STORED,
        f"broadcast:{broadcast_id}",
    )
    assert event.details["audience"] == "topics=prices" and event.details["recipients"] == "1"


async def test_a_reply_to_a_notice_is_kept_for_the_team_and_acknowledged(
    server: FakeTelegramServer, database: Database, database_url: str
) -> None:
    reader, stranger = server.user(7600, language_code="fr"), server.user(7601, language_code="en")
    await add_people(database, [Person(7600, "fr", "media", topics=("prices",))])
    async with broadcasting_bot(server, database_url):
        broadcast_id, _ = await create_broadcast(database, CPI)
        await wait_until_finished(database, broadcast_id)
        thanks = await reader.send_text_and_wait("Pourquoi le transport baisse-t-il ?")
        assert [m.text for m in thanks] == [Texts("fr")("broadcast_reply_thanks")]
        other = await stranger.send_text_and_wait("hello?")
        assert [m.text for m in other] == [Texts("en")("not_understood")]
        # A survey answer is not a reply: the survey gets it.
        await reader.send_text_and_wait("/survey usat2026")
        await reader.send_text_and_wait("/cancel")
    async with database.transaction() as connection:
        rows = (await connection.execute(select(feedback))).all()
    assert [(row.kind, row.broadcast_id, row.text, row.channel) for row in rows] == [
        (BROADCAST_REPLY, broadcast_id, "Pourquoi le transport baisse-t-il ?", "telegram")
    ]
    async with database.reading() as connection:
        found = [item async for item in FeedbackRepository(connection).stream(broadcast_id=broadcast_id)]
    assert found[0].sender.user_group == "media" and found[0].sender.language == "fr"


async def test_replies_are_only_linked_to_notices_of_the_last_seven_days(database: Database) -> None:
    ids = await add_people(database, [Person(1)])
    broadcast_id, _ = await create_broadcast(database, replace(CPI, audience=Audience()))
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        await connection.execute(deliveries.update().values(status=SENT, sent_at=now - timedelta(days=8)))
        await connection.execute(broadcasts.update().values(status=DONE, finished_at=now - timedelta(days=8)))
        repository = BroadcastRepository(connection)
        assert await repository.latest_received(ids[1], now - timedelta(days=7)) is None
        await connection.execute(deliveries.update().values(sent_at=now - timedelta(days=6)))
        await connection.execute(broadcasts.update().values(finished_at=now - timedelta(days=6)))
        assert await repository.latest_received(ids[1], now - timedelta(days=7)) == broadcast_id


# --------------------------------------------------------------------------- staff commands


async def test_people_who_stop_after_the_broadcast_was_created_are_skipped(database: Database) -> None:
    ids = await add_people(
        database, [Person(1, topics=("prices",)), Person(2, topics=("prices",)), Person(3, topics=("prices",))]
    )
    broadcast_id, recipients = await create_broadcast(database, replace(CPI, audience=Audience(topics=("prices",))))
    assert recipients == 3
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        await connection.execute(contacts.update().where(contacts.c.id == ids[1]).values(opted_out_at=now))
        await connection.execute(subscriptions.delete().where(subscriptions.c.contact_id == ids[2]))
        claim = await BroadcastRepository(connection).claim(["telegram"], 10, now)
    assert [delivery.contact_id for delivery in claim.deliveries] == [ids[3]]
    summary = await summary_of(database, broadcast_id)
    assert summary.count(SKIPPED) == 2
    rows = await delivery_rows(database, broadcast_id)
    assert {rows[1].error, rows[2].error} == {"opted out", "unsubscribed"}


def test_cli_dry_run_send_status_cancel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"

    async def setup() -> None:
        database = Database(await copy_migrated_sqlite(tmp_path / "db.sqlite"))
        await add_people(
            database, [Person(1, "fr", topics=("prices",)), Person(2, "ar", topics=("prices",)), Person(3)]
        )
        await database.dispose()

    asyncio.run(setup())
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {{url: '{url}'}}\nsurveys: {{directory: {ROOT / 'office' / 'surveys'}}}\n")
    base = ["--config", str(config), "broadcast"]
    assert main([*base, "send", str(EXAMPLE), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "audience: 2 contact(s): topics prices" in out and "languages: ar 1, fr 1" in out and "dry run" in out
    assert main([*base, "send", str(EXAMPLE), "--at", "2099-01-01 10:00 +00:00"]) == 0
    out = capsys.readouterr().out
    assert "broadcast 1: 2 message(s) stored, to be sent 2099-01-01 10:00 UTC" in out
    assert main([*base, "status", "1"]) == 0
    out = capsys.readouterr().out
    assert "status      scheduled" in out and "pending     2" in out and "audience    topics prices" in out
    assert main([*base, "cancel", "1"]) == 0
    assert "2 message(s) will not be sent" in capsys.readouterr().out
    assert main([*base, "status"]) == 0
    assert "cancelled" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\ntext: {fr: y}\n")
    assert main([*base, "send", str(bad)]) == 1
    assert f"{bad}:2: the text has no text in the default language 'en'" in capsys.readouterr().err
