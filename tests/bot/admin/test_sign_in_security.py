"""Signing in under attack (issue 18, findings 3, 4, 7 and 8), over HTTP against a real aiohttp
server on SQLite and PostgreSQL: parallel guesses never beat the lockout, the password check
does not stall the server, the limits per address and per name, one answer for every failure,
and failures logged and counted."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from sqlalchemy import update

from bot import metrics
from bot.admin.auth import LOGIN_COOKIE
from bot.admin.operations import add_operation_routes
from bot.admin.routes import add_admin_routes
from bot.config import WebLimits
from bot.proxies import forwarded_middleware, parse_networks
from handlers.context import Community
from storage.database import Database
from storage.staff import MAX_FAILED_ATTEMPTS, StaffRepository, staff_accounts
from surveys.model import Survey
from testkit.admin import PASSWORD, Client, csrf_of, sign_in
from testkit.passwords import cheap_password_hashes

NO_LIMITS = WebLimits(enabled=False)
# These tests count checks, locks and limits, not the hash's cost; the stall test writes its own slow hash.
pytestmark = pytest.mark.usefixtures(cheap_password_hashes.__name__)


async def serve(database: Database, surveys: dict[str, Survey], limits: WebLimits) -> TestClient[web.Request, web.Application]:  # fmt: skip
    app = web.Application(middlewares=[forwarded_middleware(parse_networks(["127.0.0.1"]))])
    add_operation_routes(app, database, lambda: {"web": True})
    add_admin_routes(app, database, surveys=surveys, community=Community(), limits=limits)
    return TestClient(TestServer(app))


@pytest.fixture
async def accounts(database: Database) -> Database:
    async with database.transaction() as connection:
        staff = StaffRepository(connection)
        await staff.add("editor1", PASSWORD, "editor", datetime.now(UTC))
        await staff.add("viewer1", PASSWORD, "viewer", datetime.now(UTC))
    return database


@pytest.fixture
async def client(accounts: Database, shipped_surveys: dict[str, Survey]) -> AsyncIterator[Client]:
    async with await serve(accounts, shipped_surveys, NO_LIMITS) as test_client:
        yield test_client


@pytest.fixture
async def limited(accounts: Database, shipped_surveys: dict[str, Survey]) -> AsyncIterator[Client]:
    async with await serve(accounts, shipped_surveys, WebLimits()) as test_client:
        yield test_client


def sign_in_count(outcome: str) -> float:
    return metrics.REGISTRY.get_sample_value("baraza_admin_sign_ins_total", {"outcome": outcome}) or 0.0


def checked_guesses() -> float:
    """Passwords compared with an account's hash so far (right or wrong)."""
    return sign_in_count("success") + sign_in_count("wrong_password")


async def attempt(client: Client, token: str, username: str, password: str, address: str | None = None) -> int:
    headers = {"X-Forwarded-For": address} if address else {}
    response = await client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf": token},
        headers=headers,
        allow_redirects=False,
    )
    return response.status


async def login_token(client: Client) -> str:
    return csrf_of(await (await client.get("/admin/login")).text())


async def test_forty_parallel_guesses_check_at_most_five_passwords(client: Client, accounts: Database) -> None:
    """Finding 3: 40 parallel attempts, the right password 20th, gave 24 checked guesses and a
    session on PostgreSQL. Now: at most 5 are checked, and no session."""
    token = await login_token(client)
    before = checked_guesses()
    passwords = [PASSWORD if number == 20 else f"wrong guess {number}" for number in range(40)]
    statuses = await asyncio.gather(*(attempt(client, token, "editor1", password) for password in passwords))
    checked = checked_guesses() - before
    assert 1 <= checked <= MAX_FAILED_ATTEMPTS, checked
    assert set(statuses) == {401}, "the right password came too late: the account was locked"
    async with accounts.reading() as connection:
        account = await StaffRepository(connection).get("editor1")
    assert account is not None and account.locked_until is not None
    assert (await sign_in(client, "editor1")).status == 401, "still locked for the right password"


async def test_unknown_locked_and_wrong_get_the_same_answer(client: Client) -> None:
    """Finding 7: a locked account said "locked until…", an unknown name did not."""
    token = await login_token(client)
    for number in range(MAX_FAILED_ATTEMPTS):
        await attempt(client, token, "editor1", f"wrong {number}")

    async def answer(username: str, password: str) -> tuple[int, str]:
        response = await client.post(
            "/admin/login", data={"username": username, "password": password, "csrf": token}, allow_redirects=False
        )
        html = (await response.text()).replace(username, "NAME")
        return response.status, re.sub(r'name="csrf" value="[^"]+"', "", html)

    locked = await answer("editor1", PASSWORD)
    unknown = await answer("nobody_here", PASSWORD)
    wrong = await answer("viewer1", "not the password")
    assert locked == unknown == wrong
    assert locked[0] == 401 and "Wrong user name or password" in locked[1] and "until" not in locked[1]


async def test_sign_in_attempts_are_limited_per_address_and_per_name(limited: Client) -> None:
    """Finding 4: no limit at all. Now 10 at once per address (then 6 a minute) and per name,
    known or not (then 1 a minute); the address is the client's behind a trusted proxy."""
    token = await login_token(limited)
    statuses = [await attempt(limited, token, f"name{n}", "wrong password", "203.0.113.5") for n in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    other = await attempt(limited, token, "name0", "wrong password", "203.0.113.6")
    assert other == 401, "another client address has its own allowance"
    # One name from many addresses: known and unknown names alike (nothing to enumerate).
    for name in ("viewer1", "nobody_here"):
        statuses = [await attempt(limited, token, name, "wrong password", f"198.51.100.{n}") for n in range(12)]
        assert statuses.count(429) == 2 and statuses[-1] == 429, (name, statuses)
    response = await limited.post(
        "/admin/login",
        data={"username": "viewer1", "password": PASSWORD, "csrf": token},
        headers={"X-Forwarded-For": "198.51.100.99"},
        allow_redirects=False,
    )
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    assert "Too many sign-in attempts" in await response.text()


async def test_the_password_check_does_not_stall_the_server(client: Client, accounts: Database) -> None:
    """Finding 4: argon2 ran on the event loop inside the write transaction. With a hash that
    takes seconds to check, the server answers and the database takes writes meanwhile."""
    slow = PasswordHasher(time_cost=20).hash(PASSWORD)
    async with accounts.transaction() as connection:
        await connection.execute(
            update(staff_accounts).where(staff_accounts.c.username == "editor1").values(password_hash=slow)
        )
    token = await login_token(client)
    signing_in = asyncio.ensure_future(attempt(client, token, "editor1", PASSWORD))
    # The guess is counted (its transaction committed) before the check starts.
    for _ in range(500):
        async with accounts.reading() as connection:
            account = await StaffRepository(connection).get("editor1")
        assert account is not None
        if account.failed_attempts == 1 or signing_in.done():
            break
        await asyncio.sleep(0.01)
    assert not signing_in.done(), "the guess is counted before the password is checked"
    health = await client.get("/healthz")
    async with accounts.transaction() as connection:  # a write, while the password is checked
        await StaffRepository(connection).set_role("viewer1", "editor")
    assert health.status == 200
    assert not signing_in.done(), "the server answered and the database took a write during the check"
    assert await signing_in == 303


async def test_failures_and_lockouts_are_logged_and_counted(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    """Finding 8: failed sign-ins and lockouts were neither logged nor in /metrics."""
    caplog.set_level(logging.INFO, logger="bot.admin")
    before = {outcome: sign_in_count(outcome) for outcome in ("success", "wrong_password", "refused", "throttled")}
    lockouts = metrics.REGISTRY.get_sample_value("baraza_admin_lockouts_total") or 0.0
    token = await login_token(client)
    for number in range(MAX_FAILED_ATTEMPTS):
        await attempt(client, token, "editor1", f"secret guess {number}")
    await attempt(client, token, "editor1", PASSWORD)  # locked
    await attempt(client, token, "hunter2-typed-as-name", "secret guess x")
    await attempt(client, token, "viewer1", PASSWORD)
    after = {outcome: sign_in_count(outcome) - count for outcome, count in before.items()}
    assert after == {"success": 1, "wrong_password": MAX_FAILED_ATTEMPTS, "refused": 2, "throttled": 0}
    assert (metrics.REGISTRY.get_sample_value("baraza_admin_lockouts_total") or 0.0) - lockouts == 1
    exposition = await (await client.get("/metrics")).text()
    assert 'baraza_admin_sign_ins_total{outcome="wrong_password"}' in exposition
    assert "baraza_admin_lockouts_total" in exposition
    messages = [record.getMessage() for record in caplog.records]
    assert sum("failed sign-in for editor1" in message for message in messages) == MAX_FAILED_ATTEMPTS
    assert any("editor1 is locked until" in message for message in messages)
    assert any("failed sign-in (unknown account or locked)" in message for message in messages)
    assert any("viewer1 signed in" in message for message in messages)
    logged = "\n".join(messages)
    assert "secret guess" not in logged and PASSWORD not in logged, "no password is logged"
    assert "hunter2" not in logged, "an unknown name may be a password typed in the wrong field"


async def test_dashboard_cookies_are_secure_behind_a_trusted_tls_proxy(client: Client) -> None:
    """Finding 2: neither the sign-in nor the session cookie was ever Secure behind TLS."""
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.4"}
    page = await client.get("/admin/login", headers=https)
    assert re.search(r"(?i);\s*secure", page.headers["Set-Cookie"])
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    token = csrf_of(await page.text())
    # A Secure cookie is not sent back over plain HTTP by the client's jar: as the proxy would.
    cookie = {"Cookie": f"{LOGIN_COOKIE}={token}"}
    signed_in = await client.post(
        "/admin/login",
        data={"username": "editor1", "password": PASSWORD, "csrf": token},
        headers={**https, **cookie},
        allow_redirects=False,
    )
    assert signed_in.status == 303 and "Strict-Transport-Security" in signed_in.headers
    session_cookie = [c for c in signed_in.headers.getall("Set-Cookie") if c.startswith("baraza_admin=")]
    assert session_cookie and re.search(r"(?i);\s*secure", session_cookie[0])
    plain = await client.get("/admin/login")
    assert not re.search(r"(?i);\s*secure", plain.headers["Set-Cookie"])
    assert "Strict-Transport-Security" not in plain.headers
