"""The fieldwork page over HTTP (aiohttp test server, real databases): a survey's invitations with
their dispositions and rates, by channel, group and wave; staff only; unknown surveys are 404."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from handlers.invitations import QuietHours, invite
from storage.database import Database
from storage.invitations import deliveries, participations
from surveys.model import Survey
from testkit.admin import Client, admin_client, sign_in
from testkit.register import Person, add_people


@pytest.fixture
async def client(database: Database, shipped_surveys: dict[str, Survey]) -> AsyncIterator[Client]:
    async with admin_client(
        database, shipped_surveys, username="viewer1", role="viewer", signed_in=False
    ) as test_client:
        yield test_client


async def test_the_fieldwork_page_shows_dispositions_and_rates(
    client: Client, database: Database, usat: Survey
) -> None:
    assert (await client.get("/admin/surveys/usat2026/fieldwork", allow_redirects=False)).status in (302, 303)
    ids = await add_people(database, [Person(700 + i, "en", "media" if i < 4 else "public") for i in range(10)])
    async with database.transaction() as connection:
        found = await invite(
            connection, usat, quiet=QuietHours("UTC", None, None), created_by="test", now=datetime.now(UTC)
        )
        # 8 delivered (2 of them finished), 2 still pending.
        await connection.execute(
            update(deliveries).where(deliveries.c.contact_id.in_(list(ids.values())[:8])).values(status="sent")
        )
        await connection.execute(
            participations.insert(),
            [
                {
                    "contact_id": ids[700 + i],
                    "survey_id": "usat2026",
                    "completed": 1,
                    "last_completed_at": datetime.now(UTC),
                }
                for i in (0, 5)
            ],
        )
    assert found.invited == 10
    assert (await sign_in(client, "viewer1")).status == 303
    page = await client.get("/admin/surveys/usat2026/fieldwork")
    assert page.status == 200
    html = await page.text()
    table = html.split('id="fieldwork-table"', 1)[1].split("</table>", 1)[0]
    cells = {
        label: re.findall(r"<td>([^<]*)</td>", row)
        for label, row in re.findall(r'<th scope="row">([^<]*)</th>(.*?)</tr>', table, re.S)
    }
    # invited, complete, partial, break-off, refusal, non-contact, not delivered, screened out, ineligible, RR1...
    assert cells["All invitations"][:7] == ["10", "2", "0", "0", "0", "6", "2"]
    assert cells["All invitations"][9] == "20.0%", "RR1 = 2 / 10"
    assert cells["user group: media"][:2] == ["4", "1"]
    assert cells["channel: telegram"][0] == "10" and cells["wave: 1"][0] == "10"
    assert (await client.get("/admin/surveys/nosuch/fieldwork")).status == 404
