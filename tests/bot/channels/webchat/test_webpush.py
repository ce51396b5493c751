"""Browser notifications for the web chat (issue 17, item 3): the VAPID key is made once and
kept like the other keys; a browser's subscription is kept per contact; notices and answers to
requests reach it through the durable sender, encrypted (aes128gcm) and signed (VAPID JWT), as
the fake push service of ``testkit.fakes.webpush`` checks; the reach counts web-chat users with
notifications as reachable and names those without."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.app import RunningBot
from bot.channels.webchat.push import WebPushSender, parse_subscription
from bot.keys import VAPID_KEY, new_vapid_key, read_key_file, vapid_public_key
from bot.sending.channel_sender import Rejected
from handlers import request_desk
from handlers.messages import Outbound
from handlers.notices import Notice
from storage.broadcasts import WEB_NO_PUSH, Audience, BroadcastRepository
from storage.database import Database
from storage.repositories import Repositories
from storage.webpush import PushSubscription
from testkit.fakes.webpush import FakePushService, fake_push_service
from testkit.register import Person, add_people
from testkit.webchat_harness import WebVisitor
from testkit.webpush_harness import web_push_bot


@pytest.fixture
async def push_service() -> AsyncIterator[FakePushService]:
    async with fake_push_service() as service:
        yield service


@pytest.fixture
async def web_bot(database_url: str, tmp_path: Path) -> AsyncIterator[RunningBot]:
    async with web_push_bot(database_url, tmp_path / "keys" / "baraza.keys") as bot:
        yield bot


async def test_a_subscribed_browser_gets_the_answer_to_a_request_encrypted_and_signed(
    web_bot: RunningBot, push_service: FakePushService, tmp_path: Path
) -> None:
    # The key: generated once into the key file (0600), its public half served to the page.
    key_file = tmp_path / "keys" / "baraza.keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private_key = read_key_file(key_file)[VAPID_KEY]
    base = f"http://127.0.0.1:{web_bot.web_port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{base}/api/push/key") as response:
            assert (await response.json())["key"] == vapid_public_key(private_key)
        subscription = push_service.subscribe()
        async with client.post(f"{base}/api/push/subscribe", json=subscription) as response:
            assert response.status == 403, "no conversation yet: nothing to attach it to"
        visitor = WebVisitor(client, base)
        await visitor.post(payload="resume")
        await visitor.post(text="/request Monthly rainfall by district since 2015")
        async with client.post(f"{base}/api/push/subscribe", json=subscription) as response:
            assert response.status == 200, await response.text()
        replies = await visitor.post(text="/request GDP by region")
        assert "#2" in replies[0]["text"] and "will answer you here" in replies[0]["text"], "the answer will be sent"
        async with client.get(f"{base}/sw.js") as response:
            assert response.status == 200 and "showNotification" in await response.text()

    async with web_bot.database.transaction() as connection:
        repos = Repositories(connection)
        number = 1
        result = await request_desk.answer(
            repos, number, "The rainfall series is on our website.", staff="amina", now=datetime.now(UTC)
        )
    assert result.notified, "a web-chat person with notifications can be told"
    for _ in range(200):
        if push_service.received:
            break
        await asyncio.sleep(0.05)
    assert push_service.refusals == []
    (message,) = push_service.received
    assert "The rainfall series is on our website." in message.text
    assert message.vapid_key == vapid_public_key(private_key)
    assert message.claims["aud"] == push_service.origin and message.ttl > 0

    # A notice: once the person consented, a broadcast reaches the browser through the dispatcher.
    async with web_bot.database.transaction() as connection:
        (contact_id,) = [row[0] for row in await connection.exec_driver_sql("SELECT id FROM contacts")]
        await Repositories(connection).contacts.give_consent(contact_id, datetime.now(UTC))
        _, recipients = await BroadcastRepository(connection).create(
            title="CPI",
            notice=Notice("CPI", {"en": "Consumer prices rose 7.1% in October."}, "en").to_json(),
            audience=Audience(),
            languages=("en",),
            default_language="en",
            created_by="amina",
            now=datetime.now(UTC),
        )
    assert recipients == 1
    assert web_bot.dispatcher is not None
    web_bot.dispatcher.wake()
    for _ in range(200):
        if len(push_service.received) == 2:
            break
        await asyncio.sleep(0.05)
    assert "Consumer prices rose 7.1% in October." in push_service.received[-1].text


async def test_the_sender_drops_a_browser_the_push_service_calls_gone(
    database: Database, push_service: FakePushService
) -> None:
    ids = await add_people(database, [Person(1, channel="web")])
    browser = push_service.subscribe()
    async with database.transaction() as connection:
        subscription = parse_subscription(browser, insecure_loopback=True)
        await Repositories(connection).webpush.subscribe(ids[1], subscription, datetime.now(UTC))
    sender = WebPushSender(database, new_vapid_key(), subject="mailto:stats@example.org")
    assert await sender.send("1", Outbound(text="New CPI figures"), cache_key="b1") == "webpush:1"
    assert push_service.texts(browser)[0].startswith('{"title": "Baraza", "body": "New CPI figures"')
    push_service.gone.add(browser["endpoint"].rsplit("/", 1)[1])
    with pytest.raises(Rejected):
        await sender.send("1", Outbound(text="Again"), cache_key="b2")
    async with database.reading() as connection:
        assert await Repositories(connection).webpush.count(ids[1]) == 0, "the gone subscription is forgotten"
    with pytest.raises(Rejected):
        await sender.send("1", Outbound(text="Again"), cache_key="b3")


def test_only_https_push_services_are_accepted_from_a_page() -> None:
    good = {"endpoint": "https://push.example.org/x", "keys": {"p256dh": "BA", "auth": "aa"}}
    assert parse_subscription(good) == PushSubscription("https://push.example.org/x", "BA", "aa")
    for endpoint in ("http://127.0.0.1:9/x", "file:///etc/passwd", "https:///nohost"):
        with pytest.raises(ValueError):
            parse_subscription({**good, "endpoint": endpoint})
    with pytest.raises(ValueError):
        parse_subscription({"endpoint": "https://push.example.org/x", "keys": {}})


async def test_reach_counts_web_chat_users_with_notifications_and_names_the_others(database: Database) -> None:
    ids = await add_people(
        database, [Person(1, channel="web"), Person(2, channel="web"), Person(3, channel="web", consent=False)]
    )
    async with database.transaction() as connection:
        subscription = PushSubscription("https://push.example.org/one", "BA", "aa")
        await Repositories(connection).webpush.subscribe(ids[1], subscription, datetime.now(UTC))
    async with database.reading() as connection:
        repository = BroadcastRepository(connection)
        reach = await repository.reach(Audience())
        size = await repository.audience_size(Audience())
    (web,) = reach.channels
    assert (web.channel, web.reached, dict(web.left_out)) == ("web", 1, {"no consent": 1, WEB_NO_PUSH: 1})
    assert size == 1, "the broadcast's deliveries go to the browser that accepted notifications"

    # /delete_my_data: the browser's subscription goes with the contact.
    async with database.transaction() as connection:
        await Repositories(connection).contacts.erase(ids[1], "pseudonym")
    async with database.reading() as connection:
        assert await Repositories(connection).webpush.for_chat("1") == []
        assert (await connection.exec_driver_sql("SELECT count(*) FROM webpush_subscriptions")).scalar() == 0


async def test_without_notifications_the_notice_is_shown_once_at_the_next_visit(
    web_bot: RunningBot, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{web_bot.web_port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        visitor = WebVisitor(client, base)
        await visitor.post(payload="resume")
        async with web_bot.database.transaction() as connection:
            (contact_id,) = [row[0] for row in await connection.exec_driver_sql("SELECT id FROM contacts")]
            await Repositories(connection).contacts.give_consent(contact_id, datetime.now(UTC))
        texts = [m["text"] for m in await visitor.post(payload="resume")]
        assert not any("Consumer prices" in text for text in texts)
        async with web_bot.database.transaction() as connection:
            repository = BroadcastRepository(connection)
            for title, text in (("CPI", "Consumer prices rose 7.1% in October."), ("GDP", "GDP grew 3.2%.")):
                await repository.create(
                    title=title,
                    notice=Notice(title, {"en": text}, "en").to_json(),
                    audience=Audience(),
                    languages=("en",),
                    default_language="en",
                    created_by="amina",
                    now=datetime.now(UTC),
                )
        texts = [m["text"] for m in await visitor.post(payload="resume")]
        assert texts[:2] == ["Consumer prices rose 7.1% in October.", "GDP grew 3.2%."], texts
        texts = [m["text"] for m in await visitor.post(payload="resume")]
        assert not any("Consumer prices" in text or "GDP" in text for text in texts), "shown once"
