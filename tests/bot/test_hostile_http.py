"""Malformed input over HTTP is a 4xx, never a 500 (issue 18, finding 6).

The whole bot runs (web chat, Telegram webhook, WhatsApp webhook, SMS and USSD callbacks, results
pages, dashboard, health and metrics)
and every route it serves gets hostile requests written byte by byte on a raw socket: bytes that
are not UTF-8 in cookies and headers, a CSRF field with non-ASCII characters, JSON nested 5,000
deep, ids too large for the database, both without a session and signed in as an editor.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.admin.auth import LOGIN_COOKIE, SESSION_COOKIE, cookie_key, sign
from bot.app import RunningBot, running_bot
from bot.proxies import parse_networks
from storage.staff import StaffRepository
from testkit.admin import PASSWORD
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.sms import FakeAfricasTalking
from testkit.fakes.telegram import FakeTelegramServer
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.sms_harness import sms_settings
from testkit.telegram_harness import bot_settings, free_port
from testkit.ussd_harness import ussd_settings
from testkit.whatsapp_harness import whatsapp_settings

SECRET = "s3cret-token"
NESTED = b"[" * 5000 + b"]" * 5000
NESTED_OBJECT = b'{"a":' * 2500 + b"1" + b"}" * 2500  # 15 KB: under the web chat's 16 KB
BAD_BYTES = b"\xff\xfe\xc3("
HUGE = "99999999999999999999"
# What the dynamic parts of a route are filled with: a large number, non-ASCII, a plain value.
FILLERS = (HUGE, "%FF%FE", "%C3%A9", "1")


async def raw_request(port: int, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> int:
    """The status of one HTTP/1.1 request written byte by byte (no client library tidies it up)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [f"{method} {path} HTTP/1.1".encode(), f"Host: 127.0.0.1:{port}".encode(), b"Connection: close"]
        head += [name + b": " + value for name, value in headers]
        head.append(f"Content-Length: {len(body)}".encode())
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
        match = re.match(rb"HTTP/1\.[01] (\d{3})", status_line)
        assert match is not None, (method, path, status_line)
        return int(match.group(1))
    finally:
        writer.close()


@dataclasses.dataclass
class Target:
    bot: RunningBot
    port: int
    #: The cookie of a signed-in editor.
    admin_cookie: str


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[Target]:
    async with FakeTelegramServer() as telegram, FakeGraphServer() as graph, FakeAfricasTalking() as sms_gateway:
        port = free_port()
        settings = bot_settings(
            telegram,
            await copy_migrated_sqlite(tmp_path / "hostile.db"),
            port,
            mode="webhook",
            webhook_secret=SECRET,
            webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
        )
        # 127.0.0.1 is a trusted proxy: the forwarded headers below are read, not ignored.
        web_settings = dataclasses.replace(settings.web, trusted_proxies=parse_networks(["127.0.0.1"]))
        # SMS (Africa's Talking, whose callbacks 127.0.0.1 may call) and USSD: their routes too.
        sms = sms_settings(sms_gateway, port, allowed_ips=parse_networks(["127.0.0.1"]))
        settings = dataclasses.replace(
            settings, whatsapp=whatsapp_settings(graph), web=web_settings, sms=sms, ussd=ussd_settings()
        )
        async with running_bot(settings) as bot:
            database = bot.database
            async with database.transaction() as connection:
                staff = StaffRepository(connection)
                await staff.add("editor1", PASSWORD, "editor", datetime.now(UTC))
                token = await staff.open_session("editor1", datetime.now(UTC))
            cookie = sign(await cookie_key(database, None), token)
            yield Target(bot, port, cookie)


def concrete_paths(bot: RunningBot) -> list[str]:
    """Every route of the running app, its dynamic parts filled with each hostile filler."""
    paths: set[str] = set()
    for resource in bot.web_runner.app.router.resources():
        canonical = resource.canonical
        for filler in FILLERS:
            paths.add(re.sub(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}", filler, canonical))
    paths.update({"/admin/requests/" + HUGE, "/admin/broadcasts/" + HUGE, "/admin/broadcasts/" + HUGE + "/cancel"})
    return sorted(paths)


def hostile_headers(admin_cookie: str | None) -> list[list[tuple[bytes, bytes]]]:
    signed_in = [(b"Cookie", f"{SESSION_COOKIE}={admin_cookie}".encode())] if admin_cookie else []
    return [
        [(b"Cookie", SESSION_COOKIE.encode() + b"=" + BAD_BYTES)],
        [(b"Cookie", b"baraza_session=" + BAD_BYTES + b"; " + LOGIN_COOKIE.encode() + b"=" + BAD_BYTES)],
        [(b"Cookie", LOGIN_COOKIE.encode() + b"=" + b"\xc3\xa9" * 43)],
        [(b"X-Telegram-Bot-Api-Secret-Token", BAD_BYTES), (b"Content-Type", b"application/json")],
        [(b"X-Hub-Signature-256", b"sha256=" + BAD_BYTES), (b"Content-Type", b"application/json")],
        [(b"Origin", BAD_BYTES), (b"Referer", BAD_BYTES), (b"Accept-Language", BAD_BYTES), *signed_in],
        [(b"X-Forwarded-For", BAD_BYTES), (b"X-Forwarded-Proto", BAD_BYTES), (b"Forwarded", BAD_BYTES), *signed_in],
        [(b"Content-Type", b"application/json"), *signed_in],
        [(b"Content-Type", b"application/x-www-form-urlencoded"), *signed_in],
        [(b"Forwarded", b"for=" + BAD_BYTES + b";proto=https, ;;=,"), (b"X-Forwarded-For", b"1.2.3.4, " + BAD_BYTES)],
    ]


def hostile_bodies() -> list[bytes]:
    return [
        b"",
        NESTED,
        NESTED_OBJECT,
        BAD_BYTES,
        b"csrf=%FF%FE&username=%FF&password=%C3%A9&action=answer&answer=%FF&title=x&text_en=x",
        "csrf=ééé&username=é&password=é".encode(),
        b'{"id": "1", "text": "' + BAD_BYTES + b'"}',
        b'{"id": ' + HUGE.encode() * 20 + b', "text": 1e999999}',
    ]


async def test_no_route_answers_500_to_malformed_input(target: Target) -> None:
    failures: list[str] = []
    paths = concrete_paths(target.bot)
    for served in ("/sms/", "/ussd/", "/results/"):
        assert any(path.startswith(served) for path in paths), f"no {served} route to try"
    for cookie in (None, target.admin_cookie):
        header_sets = hostile_headers(cookie)
        for path in paths:
            requests = [("GET", headers, b"") for headers in header_sets]
            # Every body with the content types that read it; every header set with a form.
            requests += [("POST", header_sets[7], body) for body in hostile_bodies()]
            requests += [("POST", header_sets[8], body) for body in hostile_bodies()]
            requests += [("POST", headers, hostile_bodies()[4]) for headers in header_sets[:7] + header_sets[9:]]
            for method, headers, body in requests:
                status = await raw_request(target.port, method, path, headers, body)
                if status >= 500:
                    failures.append(f"{status} {method} {path} {headers!r} {body[:40]!r}")
    assert not failures, "\n".join(sorted(set(failures))[:40])


async def test_each_reported_input_is_a_4xx(target: Target) -> None:
    """The inputs of the red-team report, one by one, each with the status it now gets."""
    port = target.port
    json = [(b"Content-Type", b"application/json")]
    assert await raw_request(port, "POST", "/api/messages", json, NESTED) == 400
    assert await raw_request(port, "POST", "/api/messages", json, NESTED_OBJECT) == 400
    bad_admin = [(b"Cookie", SESSION_COOKIE.encode() + b"=" + BAD_BYTES)]
    assert await raw_request(port, "GET", "/admin/", bad_admin) == 303  # to the sign-in form
    login_form = [
        (b"Cookie", f"{LOGIN_COOKIE}={'a' * 43}".encode()),
        (b"Content-Type", b"application/x-www-form-urlencoded"),
    ]
    form = "username=editor1&password=x&csrf=ééé".encode()
    assert await raw_request(port, "POST", "/admin/login", login_form, form) == 403
    signed_in = [(b"Cookie", f"{SESSION_COOKIE}={target.admin_cookie}".encode())]
    form_post = [*signed_in, (b"Content-Type", b"application/x-www-form-urlencoded")]
    assert await raw_request(port, "POST", "/admin/logout", form_post, "csrf=ééé".encode()) == 403
    secret = [(b"X-Telegram-Bot-Api-Secret-Token", BAD_BYTES), *json]
    assert await raw_request(port, "POST", "/telegram/webhook", secret, b"{}") == 401
    signature = [(b"X-Hub-Signature-256", b"sha256=" + BAD_BYTES), *json]
    assert await raw_request(port, "POST", "/whatsapp/webhook", signature, b"{}") == 401
    assert await raw_request(port, "GET", f"/admin/requests/{HUGE}", signed_in) == 404
    assert await raw_request(port, "GET", f"/admin/broadcasts/{HUGE}", signed_in) == 404
    assert await raw_request(port, "GET", "/admin/requests/999999999", signed_in) == 404
    # Signed correctly, nested deep: still a 400 after the checks pass.
    right = [(b"X-Telegram-Bot-Api-Secret-Token", SECRET.encode()), *json]
    assert await raw_request(port, "POST", "/telegram/webhook", right, NESTED) == 400
    app_secret = target.bot.settings.whatsapp.app_secret or ""
    mac = hmac.new(app_secret.encode(), NESTED, hashlib.sha256).hexdigest()
    signed = [(b"X-Hub-Signature-256", f"sha256={mac}".encode()), *json]
    assert await raw_request(port, "POST", "/whatsapp/webhook", signed, NESTED) == 400
