"""The staff dashboard in tests: an aiohttp test client on it, signing in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from bot.admin.routes import add_admin_routes
from handlers.context import Community
from handlers.engagement import EngagementSettings
from storage.database import Database
from storage.staff import StaffRepository
from surveys.model import Survey
from testkit.passwords import use_cheap_password_hashes

PASSWORD = "correct horse battery"


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


Client = TestClient[web.Request, web.Application]


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html
    return found.group(1)


async def sign_in(client: Client, username: str, password: str = PASSWORD) -> ClientResponse:
    page = await client.get("/admin/login")
    token = csrf_of(await page.text())
    return await client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf": token, "next": "/admin/requests"},
        allow_redirects=False,
    )


@asynccontextmanager
async def admin_client(
    database: Database,
    surveys: Mapping[str, Survey],
    *,
    username: str = "editor1",
    role: str = "editor",
    signed_in: bool = True,
    community: Community | None = None,
    engagement: EngagementSettings | None = None,
) -> AsyncIterator[Client]:
    """A test client on the staff dashboard, with one staff account (``username``, ``role``,
    :data:`PASSWORD`) that it has signed in with unless ``signed_in`` is False. Its password is
    hashed with argon2's testing profile (:mod:`testkit.passwords`): the pages are tested here,
    and the production hash cost 0.2-0.7 s a test; tests/bot/admin/test_admin_auth.py and
    tests/bot/cli/test_staff_cli.py sign in with the production parameters."""
    with pytest.MonkeyPatch.context() as patch:
        use_cheap_password_hashes(patch)
        async with database.transaction() as connection:
            await StaffRepository(connection).add(username, PASSWORD, role, datetime.now(UTC))
        app = web.Application()
        add_admin_routes(
            app, database, surveys=dict(surveys), community=community or Community(), engagement=engagement
        )
        async with TestClient(TestServer(app)) as client:
            if signed_in:
                assert (await sign_in(client, username)).status == 303
            yield client
