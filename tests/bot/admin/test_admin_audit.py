"""The audit page over HTTP (aiohttp test server, real databases): what staff do on the
dashboard appears there with its actor, viewers are refused, filters and pages choose the rows,
and the CSV download gives the same rows and is itself recorded."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.admin.audit import PAGE_SIZE
from bot.admin.routes import add_admin_routes
from handlers.context import Community
from storage import audit
from storage.database import Database
from storage.staff import StaffRepository
from surveys.model import Survey
from testkit.admin import PASSWORD, sign_in
from testkit.passwords import cheap_password_hashes

# The pages are tested here, not the hash's cost (tests/bot/admin/test_admin_auth.py signs in with it).
pytestmark = pytest.mark.usefixtures(cheap_password_hashes.__name__)

Client = TestClient[web.Request, web.Application]
ROW = re.compile(r"<tr>\s*<td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>")


@pytest.fixture
async def app(database: Database, shipped_surveys: dict[str, Survey]) -> web.Application:
    async with database.transaction() as connection:
        staff = StaffRepository(connection)
        await staff.add("editor1", PASSWORD, "editor", datetime.now(UTC))
        await staff.add("viewer1", PASSWORD, "viewer", datetime.now(UTC))
    application = web.Application()
    add_admin_routes(application, database, surveys=shipped_surveys, community=Community())
    return application


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[Client]:
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def _rows(html: str) -> list[tuple[str, str, str]]:
    """(who, what, on) of each row of the audit table, newest first."""
    table = html.split('id="audit-table"', 1)[1].split("</table>", 1)[0]
    return [(who, what, on) for _when, who, what, on in ROW.findall(table)]


async def test_dashboard_actions_show_on_the_audit_page_for_editors_only(client: Client, database: Database) -> None:
    assert (await sign_in(client, "editor1", "a wrong password")).status == 401
    assert (await sign_in(client, "nobody-here", "a wrong password")).status == 401
    assert (await sign_in(client, "editor1")).status == 303
    download = await client.get("/admin/surveys/usat2026/export.csv")
    assert download.status == 200
    await download.read()

    page = await client.get("/admin/audit")
    assert page.status == 200
    html = await page.text()
    assert _rows(html) == [
        ("editor1", "export", "survey:usat2026"),
        ("editor1", "sign in", "–"),
        ("unknown", "sign in failed", "–"),
        ("editor1", "sign in failed", "–"),
    ]
    assert "nobody-here" not in html, "a name that is no account is not kept"
    assert 'href="/admin/audit"' in html, "editors see the Audit link"
    assert "format: csv" in html and "rows: 0" in html

    # Sign out, in as a viewer: no link, 403 on the page and the download.
    signout = await client.get("/admin/")
    token = re.search(r'name="csrf" value="([^"]+)"', await signout.text())
    assert token is not None
    await client.post("/admin/logout", data={"csrf": token.group(1)}, allow_redirects=False)
    assert (await sign_in(client, "viewer1")).status == 303
    overview = await (await client.get("/admin/")).text()
    assert 'href="/admin/audit"' not in overview
    assert (await client.get("/admin/audit")).status == 403
    assert (await client.get("/admin/audit.csv")).status == 403
    async with database.reading() as connection:
        actions = [(e.actor, e.action) for e in await audit.events(connection, limit=3)]
    assert actions == [("viewer1", audit.SIGN_IN), ("editor1", audit.SIGN_OUT), ("editor1", audit.EXPORT)]


async def test_filters_pages_and_the_csv_download(client: Client, database: Database) -> None:
    start = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    async with database.transaction() as connection:
        for index in range(PAGE_SIZE + 5):
            await audit.record(
                connection,
                actor="kofi" if index % 2 else "amina",
                action=audit.REQUEST_ANSWERED,
                now=start + timedelta(hours=index),
                target=f"request:{index}",
            )
    assert (await sign_in(client, "editor1")).status == 303
    first = await (await client.get("/admin/audit?action=request_answered")).text()
    assert f"{PAGE_SIZE + 5} row(s), page 1 of 2" in first
    assert _rows(first)[0] == ("amina", "request answered", f"request:{PAGE_SIZE + 4}")
    assert len(_rows(first)) == PAGE_SIZE
    second = await (await client.get("/admin/audit?action=request_answered&page=2")).text()
    assert [on for _, _, on in _rows(second)] == [f"request:{index}" for index in range(4, -1, -1)]

    kofi_day = await (await client.get("/admin/audit?actor=kofi&since=2026-05-01&until=2026-05-01")).text()
    # The first day holds indexes 0-15; kofi has the odd ones.
    assert [on for _, _, on in _rows(kofi_day)] == [f"request:{index}" for index in range(15, 0, -2)]
    assert 'href="/admin/audit.csv?actor=kofi&amp;since=2026-05-01&amp;until=2026-05-01"' in kofi_day
    assert (await client.get("/admin/audit?page=99999999999999999999&since=nonsense")).status == 200

    download = await client.get("/admin/audit.csv?actor=kofi&since=2026-05-01&until=2026-05-01")
    assert download.status == 200
    assert download.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await download.text())))
    assert [row["target"] for row in rows] == [f"request:{index}" for index in range(1, 16, 2)]
    async with database.reading() as connection:
        (latest,) = await audit.events(connection, limit=1)
    assert (latest.actor, latest.action, latest.target) == ("editor1", audit.EXPORT, "audit")
    assert latest.details["rows"] == "8" and latest.details["actor"] == "kofi"
    assert json.dumps(latest.details)
