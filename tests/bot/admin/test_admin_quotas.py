"""Quotas on the dashboard's fieldwork page (aiohttp test server, real databases): each cell's
target, completes, responses in progress and status; the invite form's "open cells" tick leaves
out the people of full cells, in the dry run and when sending."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.admin.routes import add_admin_routes
from handlers.context import Community
from handlers.invitations import QuietHours
from storage.database import Database
from storage.invitations import invitations
from storage.staff import StaffRepository
from surveys.loader import load_survey_text
from testkit.admin import PASSWORD, csrf_of, sign_in
from testkit.passwords import cheap_password_hashes
from testkit.quotas import add_quota_responses
from testkit.register import Person, add_people

# The pages are tested here, not the hash's cost (tests/bot/admin/test_admin_auth.py signs in with it).
pytestmark = pytest.mark.usefixtures(cheap_password_hashes.__name__)

Client = TestClient[web.Request, web.Application]
NOW = datetime.now(UTC)
SURVEY = load_survey_text(
    """id: qf
title: Household conditions
quotas:
  - {by: region, targets: {north: 2, south: 10}}
  - by: [user_group, rooms]
    targets: {media: {'1': 3}}
questions:
  - {type: select_one, name: rooms, label: Rooms, choices: [{name: '1', label: One}, {name: '2', label: Two}]}
""",
    "qf.yaml",
)
#: Two completes in the north (its target), one complete and one in progress in the south.
CELLS = [
    ("region", ("north",), True),
    ("region", ("north",), True),
    ("region", ("south",), True),
    ("region", ("south",), False),
]
PEOPLE = [Person(900 + i, "en", "public", "north" if i % 2 else "south") for i in range(20)]


@pytest.fixture
async def client(database: Database) -> AsyncIterator[Client]:
    async with database.transaction() as connection:
        await StaffRepository(connection).add("editor1", PASSWORD, "editor", NOW)
    await add_quota_responses(database, "qf", CELLS, NOW)
    application = web.Application()
    site = add_admin_routes(application, database, surveys={"qf": SURVEY}, community=Community())
    site.quiet_hours = QuietHours("UTC", None, None)
    async with TestClient(TestServer(application)) as test_client:
        yield test_client


async def test_the_page_shows_live_cells_and_invitations_steer_to_open_ones(client: Client, database: Database) -> None:
    ids = await add_people(database, PEOPLE)
    assert (await sign_in(client, "editor1")).status == 303
    page = await (await client.get("/admin/surveys/qf/fieldwork")).text()
    table = page.split('id="quota-table"', 1)[1].split("</table>", 1)[0]
    rows = [
        [label, *re.findall(r"<td[^>]*>([^<]*)</td>", row)]
        for label, row in re.findall(r'<th scope="row">([^<]*)</th>(.*?)</tr>', table, re.S)
    ]
    assert rows == [
        ["region", "north", "2", "2", "0", "full"],
        ["region", "south", "10", "1", "1", "open"],
        ["user group × rooms", "media / 1", "3", "0", "0", "open"],
    ]
    assert 'id="open-cells"' in page

    form = {"csrf": csrf_of(page), "open_cells": "on", "wave": "1", "seed": "0"}
    dry = await (await client.post("/admin/surveys/qf/fieldwork/invite", data={**form, "action": "preview"})).text()
    assert "<strong>10</strong> would be invited" in dry
    assert "10 left out: their quota cell is full" in dry
    sent = await client.post(
        "/admin/surveys/qf/fieldwork/invite", data={**form, "action": "send"}, allow_redirects=False
    )
    assert sent.status == 303
    async with database.reading() as connection:
        invited = set(await connection.scalars(select(invitations.c.contact_id)))
    assert invited == {ids[p.user_id] for p in PEOPLE if p.region == "south"}
