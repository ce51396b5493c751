"""The web chat against an attacker (issue 18): planted session cookies (finding 1), the scheme and
client address behind a trusted proxy (finding 2), per-client limits (finding 9). Real HTTP on
127.0.0.1 in front of the scripted stand-in core."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import metrics
from bot.app import running_bot
from bot.channels.webchat.adapter import SESSION_COOKIE, add_webchat_routes, session_user_key
from bot.config import Settings, WebLimits, WebSettings
from bot.limits import Rate
from bot.proxies import HSTS, forwarded_middleware, parse_networks
from handlers.messages import RESUME_PAYLOAD, MessageProcessor
from storage.repositories import Repositories
from testkit.fakes.scripted_survey import ScriptedSurvey
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY

Client = TestClient[web.Request, web.Application]
SHARED_KEY = secrets.token_bytes(32)


async def shared_key() -> bytes:
    return SHARED_KEY


@asynccontextmanager
async def chat(
    processor: ScriptedSurvey, *, trusted: Sequence[str] = (), limits: WebLimits | None = None, **kwargs: Any
) -> AsyncIterator[Client]:
    """The web chat behind the forwarded-headers middleware, as ``baraza run`` serves it."""
    app = web.Application(middlewares=[forwarded_middleware(parse_networks(trusted))])
    add_webchat_routes(app, cast(MessageProcessor, processor), limits=limits, **kwargs)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def post(client: Client, message_id: str, headers: dict[str, str] | None = None) -> web.StreamResponse:
    async with client.post(
        "/api/messages", json={"id": message_id, "payload": RESUME_PAYLOAD}, headers=headers or {}
    ) as response:
        await response.read()
        return response  # type: ignore[return-value]


def cookie_of(response: Any) -> str:
    found = re.search(rf"{SESSION_COOKIE}=([^;]+)", response.headers.get("Set-Cookie", ""))
    assert found is not None, response.headers
    return found.group(1)


async def test_a_planted_cookie_is_replaced_never_adopted() -> None:
    """Finding 1: any well-formed cookie was adopted, so whoever planted it could read the
    victim's /profile later. Now only cookies the server signed are sessions."""
    processor = ScriptedSurvey()
    planted = [
        "A" * 43,  # the old format: a bare token
        f"{'B' * 43}.{'C' * 43}",  # the new format with a made-up signature
    ]
    async with chat(processor) as victim:
        for value in planted:
            victim.session.cookie_jar.clear()
            victim.session.cookie_jar.update_cookies({SESSION_COOKIE: value})
            response = await post(victim, f"m-{value[:2]}")
            assert response.status == 200
            issued = cookie_of(response)
            assert issued != value and not issued.startswith(value.partition(".")[0])
            assert processor.inbounds[-1].user_key != session_user_key(value.partition(".")[0])
            # The server's own cookie is kept from then on.
            again = await post(victim, f"n-{value[:2]}")
            assert processor.inbounds[-1].user_key == processor.inbounds[-2].user_key
            assert cookie_of(again) == issued


async def test_two_browsers_planting_the_same_cookie_get_two_sessions() -> None:
    processor = ScriptedSurvey()
    async with chat(processor) as attacker, chat(processor) as victim:
        for client in (attacker, victim):
            client.session.cookie_jar.update_cookies({SESSION_COOKIE: "Z" * 43})
            await post(client, "1")
    assert processor.inbounds[0].user_key != processor.inbounds[1].user_key


async def test_workers_sharing_the_key_share_the_sessions() -> None:
    processor = ScriptedSurvey()
    async with chat(processor, session_key=shared_key) as first, chat(processor, session_key=shared_key) as second:
        cookie = cookie_of(await post(first, "1"))
        second.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
        await post(second, "2")
    assert processor.inbounds[0].user_key == processor.inbounds[1].user_key


async def test_the_cookie_is_secure_and_hsts_sent_only_behind_a_trusted_tls_proxy() -> None:
    """Finding 2: X-Forwarded-Proto was ignored, so the cookie was never Secure behind TLS."""
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    async with chat(ScriptedSurvey(), trusted=["127.0.0.1"]) as client:
        page = await client.get("/", headers=https)
        assert re.search(r"(?i);\s*secure", page.headers["Set-Cookie"])
        assert page.headers["Strict-Transport-Security"] == HSTS
        api = await post(client, "1", https)
        assert re.search(r"(?i);\s*secure", api.headers["Set-Cookie"])
        assert api.headers["Strict-Transport-Security"] == HSTS
        plain = await client.get("/", headers={"X-Forwarded-Proto": "http"})
        assert not re.search(r"(?i);\s*secure", plain.headers["Set-Cookie"])
        assert "Strict-Transport-Security" not in plain.headers
    async with chat(ScriptedSurvey(), trusted=["10.0.0.0/8"]) as client:
        forged = await client.get("/", headers=https)  # 127.0.0.1 is not a trusted proxy here
        assert not re.search(r"(?i);\s*secure", forged.headers["Set-Cookie"])
        assert "Strict-Transport-Security" not in forged.headers


async def test_cookieless_posts_are_limited_per_address() -> None:
    """Finding 9: 30 cookie-less posts made 30 tickets in 0.1 s. With the default limits a
    client address opens 20 sessions at once, then one every 2 s."""
    processor = ScriptedSurvey()
    throttled = metrics.REGISTRY.get_sample_value("baraza_throttled_requests_total", {"limit": "new_sessions_per_address"})  # fmt: skip
    async with chat(processor, limits=WebLimits()) as client:
        statuses = []
        for number in range(30):
            client.session.cookie_jar.clear()
            response = await post(client, str(number))
            statuses.append(response.status)
            if response.status == 429:
                assert int(response.headers["Retry-After"]) >= 1
        client.session.cookie_jar.clear()
        page = await client.get("/")
        assert page.status == 429, "a page load without a cookie opens a session too"
    assert statuses.count(200) == WebLimits().new_sessions_per_address.burst
    assert len(processor.inbounds) == statuses.count(200)
    after = metrics.REGISTRY.get_sample_value("baraza_throttled_requests_total", {"limit": "new_sessions_per_address"})  # fmt: skip
    assert (after or 0) - (throttled or 0) == statuses.count(429) + 1


async def test_one_session_and_one_address_are_limited() -> None:
    limits = WebLimits(chat_per_session=Rate(5, 0.01), chat_per_address=Rate(8, 0.01))
    processor = ScriptedSurvey()
    async with chat(processor, trusted=["127.0.0.1"], limits=limits) as client:
        one = [(await post(client, f"s{n}", {"X-Forwarded-For": "203.0.113.1"})).status for n in range(8)]
        # The first post opens the session (counted as a new session), the next 5 are its burst.
        assert one == [200] * 6 + [429] * 2, "per session"
        client.session.cookie_jar.clear()
        others = []
        for number in range(5):
            client.session.cookie_jar.clear()
            others.append((await post(client, f"o{number}", {"X-Forwarded-For": "203.0.113.1"})).status)
        assert others == [200, 200, 429, 429, 429], "per address: 8 in all, whatever the session"
        elsewhere = await post(client, "x", {"X-Forwarded-For": "203.0.113.2"})
        assert elsewhere.status == 200, "another client behind the same proxy is not affected"


async def test_thirty_cookieless_requests_no_longer_make_thirty_tickets(database_url: str) -> None:
    """Finding 9 as reported, through the whole bot with its default limits: 30 cookie-less
    ``/request`` posts from one address made 30 tickets in 0.1 s."""
    settings = Settings(
        database_url=database_url, surveys_directory=FORMS, pseudonym_key=PSEUDONYM_KEY, web=WebSettings(port=0)
    )
    async with running_bot(settings) as bot, aiohttp.ClientSession() as client:  # no cookie jar kept
        statuses = []
        for number in range(30):
            async with client.post(
                f"http://127.0.0.1:{bot.web_port}/api/messages",
                json={"id": str(number), "text": "/request GDP by district for 2024"},
                headers={"Cookie": ""},
            ) as response:
                statuses.append(response.status)
            client.cookie_jar.clear()
        async with bot.database.reading() as connection:
            tickets = await Repositories(connection).requests.stats()
    burst = WebLimits().new_sessions_per_address.burst
    assert statuses.count(200) == burst and statuses.count(429) == 30 - burst
    assert sum(tickets.by_status.values()) == burst
