"""The fieldwork page of a panel's later wave: editors invite only the members of the panel (who
took part in the previous wave), as ``baraza survey invite --panel-members`` does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.admin.routes import add_admin_routes
from handlers.context import Community
from handlers.invitations import QuietHours
from storage.database import Database
from storage.repositories import Repositories
from storage.staff import StaffRepository
from surveys.loader import load_survey_directory
from testkit.admin import PASSWORD, csrf_of, sign_in
from testkit.panel_waves import write_waves
from testkit.passwords import cheap_password_hashes
from testkit.register import Person, add_people

# The pages are tested here, not the hash's cost (tests/bot/admin/test_admin_auth.py signs in with it).
pytestmark = pytest.mark.usefixtures(cheap_password_hashes.__name__)

Client = TestClient[web.Request, web.Application]
NOW = datetime.now(UTC)
PEOPLE = [Person(900 + i, "en", "public", "north") for i in range(5)]


@pytest.fixture
async def client(database: Database, tmp_path: Path) -> AsyncIterator[Client]:
    write_waves(tmp_path / "forms")
    surveys = load_survey_directory(tmp_path / "forms")
    await add_people(database, PEOPLE)
    async with database.transaction() as connection:
        await StaffRepository(connection).add("editor1", PASSWORD, "editor", NOW)
        repos = Repositories(connection)
        for person, complete in ((PEOPLE[0], True), (PEOPLE[1], False)):  # a member, a break-off
            key = str(person.user_id)
            contact = await repos.contacts.touch("telegram", key, key, "en", NOW)
            response_id = await repos.responses.create(
                survey_id="lfs2026w1", survey_version="1", contact=contact, respondent=key, language="en", now=NOW
            )
            await repos.responses.record_answer(response_id, "employed", "yes", NOW)
            if complete:
                await repos.responses.complete(response_id, NOW)
    application = web.Application()
    site = add_admin_routes(application, database, surveys=surveys, community=Community())
    site.quiet_hours = QuietHours("UTC", None, None)
    async with TestClient(TestServer(application)) as test_client:
        yield test_client


async def test_an_editor_invites_only_the_panel_members_to_the_next_wave(client: Client) -> None:
    assert (await sign_in(client, "editor1")).status == 303
    first = await (await client.get("/admin/surveys/lfs2026w1/fieldwork")).text()
    assert 'id="panel-members"' not in first, "the first wave has no panel to invite"
    page = await (await client.get("/admin/surveys/lfs2026w2/fieldwork")).text()
    assert "Only the members of panel lfs_panel: who took part in wave 1" in page
    form = {"csrf": csrf_of(page), "action": "preview"}
    everyone = await (await client.post("/admin/surveys/lfs2026w2/fieldwork/invite", data=form)).text()
    assert "<strong>5</strong> would be invited" in everyone
    members = await client.post("/admin/surveys/lfs2026w2/fieldwork/invite", data={**form, "panel_members": "yes"})
    assert members.status == 200
    assert "<strong>1</strong> would be invited" in await members.text()


async def test_asking_the_first_wave_for_panel_members_says_why_not(client: Client) -> None:
    assert (await sign_in(client, "editor1")).status == 303
    page = await (await client.get("/admin/surveys/lfs2026w1/fieldwork")).text()
    refused = await client.post(
        "/admin/surveys/lfs2026w1/fieldwork/invite",
        data={"csrf": csrf_of(page), "action": "preview", "panel_members": "yes"},
    )
    assert refused.status == 422
    assert "is the first wave of panel" in await refused.text()
