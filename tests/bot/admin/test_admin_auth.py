"""The dashboard's gate: nothing under /admin without a session, forged forms refused, lockout,
viewers read only; and /healthz and /metrics. Over HTTP against a real aiohttp server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import metrics
from bot.admin.auth import SESSION_COOKIE
from bot.admin.operations import add_operation_routes
from bot.admin.routes import add_admin_routes
from handlers.context import Community
from storage.database import Database
from storage.repositories import Repositories
from storage.requests import REQUEST
from storage.staff import MAX_FAILED_ATTEMPTS, StaffRepository
from surveys.model import Survey
from testkit.admin import PASSWORD, Client, csrf_of, sign_in


@pytest.fixture
async def client(database: Database, shipped_surveys: dict[str, Survey]) -> AsyncIterator[Client]:
    async with database.transaction() as connection:
        staff = StaffRepository(connection)
        await staff.add("editor1", PASSWORD, "editor", datetime.now(UTC))
        await staff.add("viewer1", PASSWORD, "viewer", datetime.now(UTC))
    app = web.Application()
    add_operation_routes(app, database, lambda: {"web": True})
    add_admin_routes(app, database, surveys=shipped_surveys, community=Community())
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_nothing_under_admin_answers_without_a_session(client: Client) -> None:
    for path in ("/admin/", "/admin/requests", "/admin/requests/1", "/admin/broadcasts", "/admin/surveys/usat2026",
                 "/admin/surveys/usat2026/export.csv", "/admin/broadcasts/new", "/admin/broadcasts/1"):  # fmt: skip
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"].startswith("/admin/login?next="), path
    json_request = await client.get("/admin/broadcasts/audience", headers={"Accept": "application/json"})
    assert json_request.status == 401
    for path in ("/admin/requests/1", "/admin/broadcasts", "/admin/broadcasts/1/cancel", "/admin/logout"):
        response = await client.post(path, data={"csrf": "x"}, allow_redirects=False)
        assert response.status == 401, path


async def test_a_forged_or_altered_session_cookie_is_refused(client: Client) -> None:
    response = await sign_in(client, "editor1")
    assert response.status == 303
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/admin/"))[SESSION_COOKIE].value
    token, signature = cookie.rsplit(".", 1)
    client.session.cookie_jar.clear()
    forged = {SESSION_COOKIE: f"{token}x.{signature}"}
    assert (await client.get("/admin/", cookies=forged, allow_redirects=False)).status == 303
    assert (await client.get("/admin/", cookies={SESSION_COOKIE: cookie}, allow_redirects=False)).status == 200


async def test_signing_in_goes_to_the_page_asked_for_and_signing_out_ends_the_session(client: Client) -> None:
    response = await sign_in(client, "editor1")
    assert response.status == 303 and response.headers["Location"] == "/admin/requests"
    page = await client.get("/admin/requests")
    assert page.status == 200 and "Data requests" in await page.text()
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/admin/"))[SESSION_COOKIE].value
    out = await client.post("/admin/logout", data={"csrf": csrf_of(await page.text())}, allow_redirects=False)
    assert out.status == 303
    again = await client.get("/admin/", cookies={SESSION_COOKIE: cookie}, allow_redirects=False)
    assert again.status == 303, "the old cookie is dead: its session row is gone"


async def test_sign_in_needs_the_forms_token_and_refuses_other_origins(client: Client) -> None:
    await client.get("/admin/login")
    no_token = await client.post("/admin/login", data={"username": "editor1", "password": PASSWORD})
    assert no_token.status == 403
    page = await client.get("/admin/login")
    token = csrf_of(await page.text())
    other_site = await client.post(
        "/admin/login",
        data={"username": "editor1", "password": PASSWORD, "csrf": token},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert other_site.status == 403
    open_redirect = await client.post(
        "/admin/login",
        data={"username": "editor1", "password": PASSWORD, "csrf": token, "next": "//evil.example/"},
        allow_redirects=False,
    )
    assert open_redirect.headers["Location"] == "/admin/"


async def test_a_forged_form_post_is_refused_and_changes_nothing(client: Client, database: Database) -> None:
    async with database.transaction() as connection:
        ticket = await Repositories(connection).requests.create(
            contact_id=None, channel="telegram", language="en", user_group=None, source=REQUEST,
            text="GDP by district", now=datetime.now(UTC),
        )  # fmt: skip
    await sign_in(client, "editor1")
    path = f"/admin/requests/{ticket.id}"
    without = await client.post(path, data={"action": "close"}, allow_redirects=False)
    wrong = await client.post(path, data={"action": "close", "csrf": "forged"}, allow_redirects=False)
    page = await client.get(path)
    token = csrf_of(await page.text())
    cross = await client.post(
        path, data={"action": "close", "csrf": token}, headers={"Origin": "http://evil.example"}, allow_redirects=False
    )
    assert (without.status, wrong.status, cross.status) == (403, 403, 403)
    assert "Not allowed" in await wrong.text()
    async with database.reading() as connection:
        assert (await Repositories(connection).requests.require(ticket.id)).status == "open"
    right = await client.post(path, data={"action": "close", "csrf": token}, allow_redirects=False)
    assert right.status == 303
    async with database.reading() as connection:
        assert (await Repositories(connection).requests.require(ticket.id)).status == "closed"


async def test_a_viewer_reads_but_cannot_post(client: Client, database: Database) -> None:
    async with database.transaction() as connection:
        ticket = await Repositories(connection).requests.create(
            contact_id=None, channel="telegram", language="en", user_group=None, source=REQUEST,
            text="Census tables", now=datetime.now(UTC),
        )  # fmt: skip
    await sign_in(client, "viewer1")
    page = await client.get(f"/admin/requests/{ticket.id}")
    html = await page.text()
    assert page.status == 200 and "Census tables" in html and "Send answer" not in html
    token = csrf_of(html)  # the sign-out form's
    refused = await client.post(
        f"/admin/requests/{ticket.id}", data={"action": "answer", "answer": "Table 3", "csrf": token}
    )
    assert refused.status == 403 and "role viewer" in await refused.text()
    assert (await client.get("/admin/broadcasts/new")).status == 403
    broadcast = await client.post("/admin/broadcasts", data={"csrf": token, "title": "x", "text_en": "x"})
    assert broadcast.status == 403
    async with database.reading() as connection:
        assert (await Repositories(connection).requests.require(ticket.id)).status == "open"


async def test_lockout_after_repeated_failures_even_with_the_right_password(client: Client) -> None:
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        response = await sign_in(client, "editor1", "wrong password")
        assert response.status == 401 and "Wrong user name or password" in await response.text()
    locked = await sign_in(client, "editor1", "wrong password")
    assert locked.status == 401 and "Wrong user name or password" in await locked.text()
    right = await sign_in(client, "editor1")
    assert right.status == 401 and "Wrong user name or password" in await right.text(), "locked: refused"
    assert (await sign_in(client, "viewer1")).status == 303, "other accounts are not affected"


async def test_healthz_and_metrics(client: Client) -> None:
    health = await client.get("/healthz")
    assert health.status == 200
    assert await health.json() == {"status": "ok", "database": "ok", "channels": {"web": "connected"}}
    metrics.observe_update("test", 0.01, 2)
    metrics.observe_send("broadcast", "telegram", "failed", "blocked")
    text = await (await client.get("/metrics")).text()
    assert 'baraza_messages_in_total{channel="test"}' in text
    assert 'baraza_messages_out_total{channel="test",kind="reply"}' in text
    assert 'baraza_send_errors_total{error="blocked",kind="broadcast"}' in text
    assert "baraza_handler_seconds_bucket" in text
    assert "baraza_broadcast_queue_length 0.0" in text


async def test_healthz_says_degraded_when_a_channel_is_down(database: Database) -> None:
    # 200: the process still serves the web chat and the dashboard (a restart brings no Telegram back).
    app = web.Application()
    add_operation_routes(app, database, lambda: {"web": True, "telegram": False})
    async with TestClient(TestServer(app)) as test_client:
        response = await test_client.get("/healthz")
        assert response.status == 200
        body = await response.json()
        assert body["status"] == "degraded" and body["channels"]["telegram"] == "disconnected"
