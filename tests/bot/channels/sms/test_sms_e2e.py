"""End to end by SMS: the real adapter on the bot's aiohttp server, fake Africa's Talking and Twilio
gateways on 127.0.0.1 (their send APIs and webhooks), and a real database (SQLite file, and
PostgreSQL when reachable)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.channels.sms.rendering import notice_segments
from bot.config import RegisterSettings
from bot.proxies import parse_networks
from common.sms_segments import segments_of
from handlers.broadcast_actions import preview_audience, reach_lines
from handlers.notices import Notice
from storage.broadcasts import SENT, Audience
from storage.database import Database
from storage.models import ContactRow, DeliveryRow
from surveys.model import Survey
from testkit.broadcasts import create_broadcast, wait_until_finished
from testkit.exports import comparable, export_rows
from testkit.fakes.indicators import sample_catalogue_url
from testkit.fakes.sms import FakeAfricasTalking, FakeSmsGateway, FakeTwilio, SmsRespondent
from testkit.fakes.survey_respondent import Respondent
from testkit.fakes.telegram import FakeTelegramServer
from testkit.paths import ROOT
from testkit.register import Person, add_people
from testkit.sms_harness import sms_bot
from testkit.telegram_harness import bot_in_process


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


@pytest.fixture
async def africastalking() -> AsyncIterator[FakeAfricasTalking]:
    async with FakeAfricasTalking() as fake:
        yield fake


def sqlite_url(tmp_path: Path, name: str = "db.sqlite") -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}"


async def contacts_of(database: Database) -> list[ContactRow]:
    async with database.transaction() as connection:
        return list(await connection.execute(select(ContactRow.__table__)))


async def test_the_survey_by_sms_with_wrong_inputs_gives_the_same_export_as_over_telegram(
    twilio: FakeTwilio, database_url: str, usat: Survey, tmp_path: Path
) -> None:
    count = 20
    sms_people = [SmsRespondent(twilio.user(f"+25470000{i:04d}"), i, usat) for i in range(count)]  # type: ignore[arg-type]
    async with sms_bot(twilio, database_url):

        async def answer(respondent: Respondent) -> None:
            await respondent.open()
            await respondent.answer_until()

        await asyncio.gather(*(answer(r) for r in sms_people))
    assert all(r.finished for r in sms_people)
    sms_rows = await export_rows(database_url, usat)

    telegram_url = sqlite_url(tmp_path, "telegram.sqlite")
    async with FakeTelegramServer() as telegram, bot_in_process(telegram, telegram_url):
        telegram_people = [Respondent(telegram.user(5000 + i), i, usat) for i in range(count)]
        await asyncio.gather(*(answer(r) for r in telegram_people))
    telegram_rows = await export_rows(telegram_url, usat)

    assert len(sms_rows) == count
    assert {row["channel"] for row in sms_rows} == {"sms"}
    assert comparable(sms_rows) == comparable(telegram_rows)
    questions = [q.name for q in usat.data_questions]
    expected = sorted(tuple(r.expected[name] for name in questions) for r in sms_people)
    assert sorted(tuple(row[name] for name in questions) for row in sms_rows) == expected
    phones = {person.user.phone for person in sms_people}  # type: ignore[attr-defined]
    assert not phones & {row["respondent"] for row in sms_rows}, "exports never show phone numbers"
    # Every message within 3 segments, and the replies all accepted by the gateway.
    assert all(sms.segments <= 3 for sms in twilio.sent)
    assert {status for _, status in twilio.webhook_answers} == {200}


async def test_the_survey_by_africas_talking_stores_the_answers(
    africastalking: FakeAfricasTalking, tmp_path: Path, usat: Survey
) -> None:
    url = sqlite_url(tmp_path)
    people = [SmsRespondent(africastalking.user(f"+25471100{i:04d}"), i, usat) for i in range(3)]  # type: ignore[arg-type]
    async with sms_bot(africastalking, url):
        await asyncio.gather(*(r.open() for r in people))
        await asyncio.gather(*(r.answer_until() for r in people))
    rows = await export_rows(url, usat)
    assert sorted(row["user_group"] for row in rows) == sorted(r.expected["user_group"] for r in people)
    # The documented fields: username, to, message (and the apiKey header, checked by the fake).
    assert {tuple(sorted(form)) for form in africastalking.requests} == {("message", "to", "username")}


async def test_a_forged_twilio_webhook_is_refused_and_nothing_is_processed(twilio: FakeTwilio, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    async with sms_bot(twilio, url) as bot, aiohttp.ClientSession() as client:
        form = twilio.incoming_form("+254700000001", "/start usat2026", "SM" + "9" * 32)
        signed = twilio.signed(twilio.incoming_url, form)
        forged = [
            {},  # no signature
            {"X-Twilio-Signature": "AAAA" + signed["X-Twilio-Signature"][4:]},  # a wrong one
            twilio.signed(twilio.incoming_url + "?other=1", form),  # signed for another address
            {"X-Twilio-Signature": "\udcff"},  # bytes that are no text
        ]
        for headers in forged:
            async with client.post(twilio.incoming_url, data=form, headers=headers) as response:
                assert response.status == 403
        tampered = [(name, "/stop" if name == "Body" else value) for name, value in form]
        async with client.post(twilio.incoming_url, data=tampered, headers=signed) as response:
            assert response.status == 403, "a changed parameter breaks the signature"
        assert await contacts_of(bot.database) == []
        assert twilio.sent == []
        async with client.post(twilio.incoming_url, data=form, headers=signed) as response:
            assert response.status == 200 and "<Response>" in await response.text()
        assert len(await contacts_of(bot.database)) == 1


async def test_africas_talking_callbacks_need_the_secret_path_and_an_allowed_address(
    africastalking: FakeAfricasTalking, tmp_path: Path
) -> None:
    form = {"from": "+254700000001", "to": "21525", "text": "hello", "id": "ATIn_1", "date": "2026-12-07 09:00:00"}
    async with sms_bot(africastalking, sqlite_url(tmp_path)) as bot, aiohttp.ClientSession() as client:
        base = africastalking.webhook_base
        async with client.post(f"{base}/africastalking/{'x' * 24}/incoming", data=form) as response:
            assert response.status == 404
        async with client.post(f"{base}/africastalking/{africastalking.webhook_secret}/incoming", data={}) as response:
            assert response.status == 400
        assert await contacts_of(bot.database) == []
    async with sms_bot(africastalking, sqlite_url(tmp_path, "b.sqlite"), allowed_ips=parse_networks(["10.0.0.0/8"])):
        _, status = await africastalking.deliver_incoming("+254700000001", "hello")
        assert status == 403, "127.0.0.1 is not in sms.allowed_ips"
    async with sms_bot(africastalking, sqlite_url(tmp_path, "c.sqlite"), allowed_ips=parse_networks(["127.0.0.0/8"])):
        _, status = await africastalking.deliver_incoming("+254700000001", "hello")
        assert status == 200 and africastalking.sent_to("+254700000001")


async def test_a_message_delivered_twice_is_applied_once(twilio: FakeTwilio, tmp_path: Path, usat: Survey) -> None:
    url = sqlite_url(tmp_path)
    async with sms_bot(twilio, url):
        person = twilio.user("+254700000001")
        await person.send_text("/start usat2026")
        message_id = await person.send_text("9")  # Citizen
        replies = len(person.bot_messages)
        assert await twilio.redeliver(person.phone, "9", message_id) == 200
        # The redelivery changes nothing; it repeats where the person is.
        assert person.bot_messages[-1].text.startswith("2/12 - ")
        assert len(person.bot_messages) <= replies + 1
    (row,) = await export_rows(url, usat)
    assert row["user_group"] == usat.question("user_group").choices[8].name


async def test_stop_and_arret_opt_out_of_sms_and_help_answers_the_offices_help_text(
    twilio: FakeTwilio, tmp_path: Path
) -> None:
    help_text = "Demoland Statistics: reply STOP to stop, or call 0800 123 456."
    async with sms_bot(twilio, sqlite_url(tmp_path), help_text=help_text) as bot:
        amina, baraka = twilio.user("+254700000001"), twilio.user("+254700000002")
        assert [m.text for m in await amina.send_text_and_wait("HELP")] == [help_text]
        await amina.send_text("STOP")
        await baraka.send_text("Arrêt")
        assert all(row.opted_out_at is not None for row in await contacts_of(bot.database))
        await amina.send_text("START")
        opted = {row.user_key: row.opted_out_at for row in await contacts_of(bot.database)}
        assert opted["+254700000001"] is None and opted["+254700000002"] is not None


NOTICE = Notice(
    title="Labour force survey",
    texts={
        "en": "The labour force survey results are out: unemployment fell to 5.2% in the third quarter.",
        "fr": "Les résultats de l'enquête sur la population active sont publiés : le chômage est de 5,2 %.",
        "ar": "نتائج مسح القوى العاملة متاحة الآن: انخفضت البطالة إلى 5.2٪ في الربع الثالث من العام.",
    },
    default_language="en",
    audience=Audience(topics=("labour",)),
)


def sms_people(count: int, start: int = 254_700_000_000) -> list[Person]:
    languages = ("en", "fr", "ar")
    return [Person(start + i, languages[i % 3], "citizen", topics=("labour",), channel="sms") for i in range(count)]


async def test_a_broadcast_by_sms_counts_segments_right_for_english_french_and_arabic(
    twilio: FakeTwilio, tmp_path: Path
) -> None:
    # English fits one GSM-7 message; the French "ê" makes it UCS-2 (67 a segment); Arabic is UCS-2.
    expected = {"en": 1, "fr": 2, "ar": 2}
    assert {language: segments_of(text) for language, text in NOTICE.texts.items()} == expected
    people = sms_people(9)
    async with sms_bot(twilio, sqlite_url(tmp_path)) as bot:
        await add_people(bot.database, people)
        async with bot.database.transaction() as connection:
            preview = await preview_audience(connection, NOTICE.audience, NOTICE.languages, "en")
        lines = reach_lines(preview.reach, notice_segments(NOTICE, 3))
        assert lines == ["SMS: 9 can receive it; 9 recipients × 1–2 segments by language"]
        broadcast_id, _ = await create_broadcast(bot.database, NOTICE)
        assert bot.dispatcher is not None
        bot.dispatcher.wake()
        summary = await wait_until_finished(bot.database, broadcast_id)
    assert summary.count(SENT) == 9
    by_phone = {sms.to: sms for sms in twilio.sent}
    for person in people:
        sms = by_phone[f"+{person.user_id}"]
        assert sms.segments == expected[str(person.language)], (person.language, sms.text)
    assert sum(sms.segments for sms in twilio.sent) == 3 * (1 + 2 + 2)


@pytest.mark.parametrize("gateway_kind", ["twilio", "africastalking"])
async def test_delivery_reports_are_recorded_on_deliveries_once(gateway_kind: str, tmp_path: Path) -> None:
    gateway: FakeSmsGateway = FakeTwilio() if gateway_kind == "twilio" else FakeAfricasTalking()
    async with gateway, sms_bot(gateway, sqlite_url(tmp_path)) as bot:
        gateway.auto_reports = True
        await add_people(bot.database, sms_people(3))
        broadcast_id, _ = await create_broadcast(bot.database, NOTICE)
        assert bot.dispatcher is not None
        bot.dispatcher.wake()
        await wait_until_finished(bot.database, broadcast_id)

        async def rows() -> list[DeliveryRow]:
            async with bot.database.transaction() as connection:
                return list(await connection.execute(select(DeliveryRow.__table__)))

        for _ in range(100):
            if all(row.delivered_at is not None for row in await rows()):
                break
            await asyncio.sleep(0.05)
        first = await rows()
        assert all(row.delivered_at is not None and row.status == SENT for row in first)
        # A report sent again (a gateway retrying) changes nothing; a failure after sending is recorded.
        delivered, failed = gateway.sent[0].message_id, gateway.sent[1].message_id
        await gateway.report(delivered, "delivered" if gateway_kind == "twilio" else "Success")
        if gateway_kind == "twilio":
            await gateway.report(failed, "undelivered", ErrorCode="30003")
        else:
            await gateway.report(failed, "Failed", failureReason="UserInBlacklist")
        after = {row.message_key: row for row in await rows()}
    before = {row.message_key: row for row in first}
    assert after[delivered].delivered_at == before[delivered].delivered_at
    assert after[failed].status == "failed" and after[failed].error
    assert {status for _, status in gateway.webhook_answers} == {200}


async def test_the_gateway_send_rate_is_never_exceeded_in_any_one_second_window(
    twilio: FakeTwilio, tmp_path: Path
) -> None:
    rate = 20  # segments a second, as Twilio counts them
    async with sms_bot(twilio, sqlite_url(tmp_path), messages_per_second=float(rate)) as bot:
        await add_people(bot.database, sms_people(24))
        broadcast_id, _ = await create_broadcast(bot.database, NOTICE)
        assert bot.dispatcher is not None
        bot.dispatcher.wake()
        # People writing meanwhile: their replies share the same gateway rate.
        talkers = [twilio.user(f"+25479900{i:04d}") for i in range(4)]
        await asyncio.gather(*(person.send_text("/help") for person in talkers))
        await wait_until_finished(bot.database, broadcast_id, within=60)
    segments = sum(sms.segments for sms in twilio.sent)
    assert segments >= 8 * 5 + 4
    busiest = twilio.most_in_one_second()
    print(f"{segments} segments; the busiest one-second window held {busiest} (rate {rate})")
    assert busiest <= rate


async def test_consent_the_register_a_lookup_and_a_data_request_by_sms(twilio: FakeTwilio, tmp_path: Path) -> None:
    url = await sample_catalogue_url(sqlite_url(tmp_path))
    register = RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml")
    async with sms_bot(twilio, url, register=register) as bot:
        person = twilio.user("+254700000001")
        consent = (await person.send_text_and_wait("/start"))[-1]
        assert consent.button_texts == ["Yes, I agree", "No, thank you"]
        for reply in ("1", "1", "9", "2", "skip", "1 2"):  # yes; English; public; North; no organisation; topics
            await person.send_text(reply)
        assert person.replies[0].text.startswith("Thank you, you are registered!")
        (contact,) = await contacts_of(bot.database)
        assert contact.consent_at is not None and contact.language == "en" and contact.region == "north"
        (figure,) = await person.send_text_and_wait("/data unemplyment rate womn northern")
        lines = figure.text.split("\n")
        assert lines[:3] == ["Unemployment rate", "Northern - Female", "13.6 % in 2024 (estimated)"]
        assert "Chart" not in figure.text and "CSV" not in figure.text, "no chart or file by SMS"
        assert figure.button_texts == ["Useful", "Not useful"] and segments_of(figure.text) <= 3
        assert (await person.send_text_and_wait("1"))[0].text.startswith("Thank you")
        (request,) = await person.send_text_and_wait("/request bicycles per village")
        assert "registered as #1" in request.text


async def test_gateway_errors_are_retried_stops_mark_the_contact_blocked_and_a_refused_token_degrades(
    twilio: FakeTwilio, tmp_path: Path
) -> None:
    async with sms_bot(twilio, sqlite_url(tmp_path)) as bot:
        person = twilio.user("+254700000001")
        # A 503 and a 429 (Twilio 20429) certainly did not send: tried again, the reply arrives once.
        twilio.fail_next(1, 503, {"code": 20500, "message": "Internal Server Error", "status": 503})
        twilio.fail_next(1, 429, {"code": 20429, "message": "Too Many Requests", "status": 429})
        replies = await person.send_text_and_wait("/help")
        assert [m.text for m in replies] == [sms.text for sms in twilio.sent] and person.statuses[-1] == 200
        assert replies[0].text.startswith("What I can do")
        # The person replied STOP to Twilio (21610): a broadcast marks them blocked, not retried.
        await add_people(bot.database, sms_people(2))
        twilio.fail_next(2, 400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400})
        broadcast_id, _ = await create_broadcast(bot.database, NOTICE)
        assert bot.dispatcher is not None
        bot.dispatcher.wake()
        summary = await wait_until_finished(bot.database, broadcast_id)
        assert summary.count("blocked") == 2
        assert sum(1 for row in await contacts_of(bot.database) if row.blocked_at is not None) == 2
        # A refused auth token shows on /healthz.
        assert bot.sms is not None
        twilio.fail_next(1, 401, {"code": 20003, "message": "Authenticate", "status": 401})
        await person.send_text("/help")
        state = bot.sms.health.state
        assert not state.up and "refused the credentials" in (state.reason or "")


HOSTILE_BODIES = [
    (b"\xff\xfe\x00=\xff", "application/x-www-form-urlencoded"),
    (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    (b'{"from": "+254700000001"}', "application/json"),
    (b"id=&from=", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize("gateway_kind", ["twilio", "africastalking"])
async def test_malformed_webhook_calls_get_a_4xx_never_a_500(gateway_kind: str, tmp_path: Path) -> None:
    gateway: FakeSmsGateway = FakeTwilio() if gateway_kind == "twilio" else FakeAfricasTalking()
    async with gateway, sms_bot(gateway, sqlite_url(tmp_path)) as bot, aiohttp.ClientSession() as client:
        base = gateway.webhook_base
        if isinstance(gateway, FakeAfricasTalking):
            urls = [f"{base}/africastalking/{gateway.webhook_secret}/{kind}" for kind in ("incoming", "delivery")]
        else:
            urls = [f"{base}/twilio", f"{base}/twilio/status"]
        for url in urls:
            for body, content_type in HOSTILE_BODIES:
                async with client.post(url, data=body, headers={"Content-Type": content_type}) as response:
                    assert 400 <= response.status < 500 or (response.status == 200 and url.endswith("delivery"))
        assert await contacts_of(bot.database) == []
