"""Signing in to the staff dashboard in tests."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

PASSWORD = "correct horse battery"


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


Client = TestClient[web.Request, web.Application]


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html
    return found.group(1)


async def sign_in(client: Client, username: str, password: str = PASSWORD) -> web.StreamResponse:
    page = await client.get("/admin/login")
    token = csrf_of(await page.text())
    return await client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf": token, "next": "/admin/requests"},
        allow_redirects=False,
    )
