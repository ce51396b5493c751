"""The survey page says which version of the survey the responses were given in (a survey file
changed while the bot runs leaves responses in several versions)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from storage.dashboard import DashboardQueries
from storage.database import Database
from storage.repositories import Repositories
from surveys.model import Survey
from testkit.admin import Client, admin_client


@pytest.fixture
async def client(database: Database, shipped_surveys: dict[str, Survey]) -> AsyncIterator[Client]:
    async with admin_client(database, shipped_surveys) as test_client:
        yield test_client


async def test_the_survey_page_counts_responses_per_version(client: Client, database: Database, usat: Survey) -> None:
    page = await (await client.get("/admin/surveys/usat2026")).text()
    assert f"No responses yet; version <code>{usat.version}</code> is in service." in page
    started = [("old1", datetime(2026, 5, 1, 9, tzinfo=UTC)), ("old1", datetime(2026, 5, 2, 9, tzinfo=UTC)),
               (usat.version, datetime(2026, 5, 3, 9, tzinfo=UTC))]  # fmt: skip
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for index, (version, when) in enumerate(started):
            contact = await repos.contacts.touch("telegram", str(index), str(index), "en", when)
            response = await repos.responses.create(
                survey_id=usat.id, survey_version=version, contact=contact, respondent=f"r{index}",
                language="en", now=when,
            )  # fmt: skip
            if index == 0:
                await repos.responses.complete(response, when)
    async with database.reading() as connection:
        versions = await DashboardQueries(connection).survey_versions(usat.id)
    assert [(v.version, v.started, v.completed) for v in versions] == [(usat.version, 1, 0), ("old1", 2, 1)]
    assert versions[1].first_started == datetime(2026, 5, 1, 9, tzinfo=UTC)
    assert versions[1].last_started == datetime(2026, 5, 2, 9, tzinfo=UTC)
    page = await (await client.get("/admin/surveys/usat2026")).text()
    rows = re.findall(r"<tr><th scope=\"row\"><code>([^<]+)</code>(.*?)</tr>", page)
    assert [version for version, _ in rows] == [usat.version, "old1"]
    assert "(in service)" in rows[0][1] and "(in service)" not in rows[1][1]
    assert "<td>2</td><td>1</td><td>2026-05-01 09:00</td><td>2026-05-02 09:00</td>" in rows[1][1]
