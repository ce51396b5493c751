"""The fieldwork page over HTTP (aiohttp test server, real databases): a survey's invitations with
their dispositions and rates, by channel, group and wave; staff only; unknown surveys are 404.
Editors invite from it (dry run with the reach by channel, then send), as ``baraza survey invite``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import unescape

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from bot.admin.routes import add_admin_routes
from handlers.context import Community
from handlers.invitations import QuietHours, draw_sample, invite
from storage import audit
from storage.broadcasts import Audience
from storage.database import Database
from storage.invitations import InvitationRepository, deliveries, invitations, participations
from storage.staff import StaffRepository
from surveys.model import Survey
from testkit.admin import PASSWORD, csrf_of, sign_in
from testkit.experiments import NOTICED_TRIAL_YAML, trial_survey
from testkit.passwords import cheap_password_hashes
from testkit.register import Person, add_people

# The pages are tested here, not the hash's cost (tests/bot/admin/test_admin_auth.py signs in with it).
pytestmark = pytest.mark.usefixtures(cheap_password_hashes.__name__)

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(database: Database, shipped_surveys: dict[str, Survey]) -> AsyncIterator[Client]:
    async with database.transaction() as connection:
        await StaffRepository(connection).add("viewer1", PASSWORD, "viewer", datetime.now(UTC))
        await StaffRepository(connection).add("editor1", PASSWORD, "editor", datetime.now(UTC))
    application = web.Application()
    site = add_admin_routes(application, database, surveys=shipped_surveys, community=Community())
    site.quiet_hours = QuietHours("UTC", None, None)
    async with TestClient(TestServer(application)) as test_client:
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


# 24 people: north and south, media and public; 4 on WhatsApp silent for two days (outside the
# 24-hour window: no template is configured), 2 who opted out.
INVITEES = [
    Person(
        800 + i,
        "en",
        "media" if i % 3 == 0 else "public",
        "north" if i % 2 else "south",
        channel="whatsapp" if i >= 20 else "telegram",
        silent_hours=48 if i >= 20 else 0,
        opted_out=i in (3, 4),
    )
    for i in range(24)
]


async def invited_ids(database: Database) -> set[int]:
    async with database.reading() as connection:
        return set(await connection.scalars(select(invitations.c.contact_id)))


async def test_editors_dry_run_then_send_a_seeded_stratified_sample(client: Client, database: Database) -> None:
    ids = await add_people(database, INVITEES)
    async with database.reading() as connection:
        pool = await InvitationRepository(connection).candidates("usat2026", 1, Audience())
    # By hand, as the CLI draws it: the same candidates, size, field and seed.
    expected = {candidate.contact_id for candidate, _ in draw_sample(pool, 8, stratify_by="region", seed=11)}
    assert len(expected) == 8 and expected <= set(ids.values())

    assert (await sign_in(client, "viewer1")).status == 303
    page = await (await client.get("/admin/surveys/usat2026/fieldwork")).text()
    assert 'action="/admin/surveys/usat2026/fieldwork/invite"' not in page, "viewers see no invitation form"
    refused = await client.post(
        "/admin/surveys/usat2026/fieldwork/invite", data={"csrf": csrf_of(page), "action": "send"}
    )
    assert refused.status == 403 and await invited_ids(database) == set()

    client.session.cookie_jar.clear()
    assert (await sign_in(client, "editor1")).status == 303
    page = await (await client.get("/admin/surveys/usat2026/fieldwork")).text()
    token = csrf_of(page)
    form = {"csrf": token, "sample": "8", "stratify_by": "region", "seed": "11", "wave": "1"}
    no_token = await client.post("/admin/surveys/usat2026/fieldwork/invite", data={**form, "csrf": "forged"})
    assert no_token.status == 403

    dry = await client.post("/admin/surveys/usat2026/fieldwork/invite", data={**form, "action": "preview"})
    assert dry.status == 200
    html = await dry.text()
    count = html.split('id="dry-run-count">', 1)[1].split("</p>", 1)[0]
    # 22 reachable (2 opted out); 11 north and 11 south; 8 drawn: 4 and 4.
    assert "<strong>8</strong> would be invited, of 22 contact(s) not invited to wave 1 yet" in count
    assert "north: 4, south: 4" in count
    listed = html.split('id="reach-list">', 1)[1].split("</ul>", 1)[0]
    assert [unescape(line) for line in re.findall(r"<li>([^<]*)</li>", listed)] == [
        "Telegram: 18 can receive it; left out: 2 opted out",
        "WhatsApp: 0 can receive it; left out: 4 outside WhatsApp's 24-hour window without a template",
    ]
    assert "Send 8 invitation(s)" in html
    assert await invited_ids(database) == set(), "a dry run stores nothing"

    sent = await client.post(
        "/admin/surveys/usat2026/fieldwork/invite", data={**form, "action": "send"}, allow_redirects=False
    )
    assert sent.status == 303
    assert sent.headers["Location"].startswith("/admin/surveys/usat2026/fieldwork?invited=8&broadcast=")
    assert await invited_ids(database) == expected, "the same sample as 'baraza survey invite' draws"
    async with database.reading() as connection:
        (event,) = await audit.events(connection, audit.AuditFilter(action=audit.BROADCAST_STORED), limit=5)
        pending = await connection.scalar(select(func.count()).select_from(deliveries))
    assert event.actor == "editor1" and event.details["invitation"] == "usat2026"
    assert (event.details["invited"], event.details["seed"], event.details["wave"]) == ("8", "11", "1")
    assert pending == 8
    shown = await (await client.get(sent.headers["Location"])).text()
    assert "8 invitation(s) stored" in shown
    # The dashboard's downloads carry the fieldwork columns once the survey has invitations.
    download = await client.get("/admin/surveys/usat2026/export.csv")
    assert download.status == 200
    assert "aapor_code" in (await download.text()).splitlines()[0].split(",")
    codebook = await (await client.get("/admin/surveys/usat2026/export.codebook")).text()
    assert "Invitees who never responded are not rows of this table" in codebook

    everyone = await client.post(
        "/admin/surveys/usat2026/fieldwork/invite",
        data={"csrf": token, "regions": "north", "user_groups": "media", "action": "send"},
        allow_redirects=False,
    )
    assert everyone.status == 303
    north_media = {ids[p.user_id] for p in INVITEES if p.region == "north" and p.user_group == "media"}
    reachable = {ids[p.user_id] for p in INVITEES if not p.opted_out}
    assert await invited_ids(database) == expected | (north_media & reachable), "a segment, everyone in it"


async def test_the_invitation_form_explains_what_is_wrong(client: Client, database: Database) -> None:
    await add_people(database, INVITEES[:2])
    assert (await sign_in(client, "editor1")).status == 303
    token = csrf_of(await (await client.get("/admin/surveys/usat2026/fieldwork")).text())
    bad = await client.post(
        "/admin/surveys/usat2026/fieldwork/invite",
        data={"csrf": token, "sample": "ten", "stratify_by": "shoe_size", "wave": "0", "action": "send"},
    )
    assert bad.status == 422
    problems = (await bad.text()).split('id="invite-problems"', 1)[1].split("</div>", 1)[0]
    assert "The sample size must be a whole number." in problems
    assert "Choose a field to stratify by from the list." in problems
    assert "The wave must be between 1 and 1,000." in problems
    assert await invited_ids(database) == set()
    first = await client.post(
        "/admin/surveys/usat2026/fieldwork/invite", data={"csrf": token, "action": "send"}, allow_redirects=False
    )
    assert first.status == 303
    again = await client.post("/admin/surveys/usat2026/fieldwork/invite", data={"csrf": token, "action": "send"})
    assert again.status == 422 and "Nobody is left to invite to this wave" in await again.text()
    assert (await client.post("/admin/surveys/nosuch/fieldwork/invite", data={"csrf": token})).status == 404


async def test_the_fieldwork_page_gives_the_rates_per_experiment_arm(database: Database) -> None:
    survey = trial_survey()
    async with database.transaction() as connection:
        await StaffRepository(connection).add("viewer1", PASSWORD, "viewer", datetime.now(UTC))
    application = web.Application()
    add_admin_routes(application, database, surveys={survey.id: survey}, community=Community())
    ids = await add_people(database, [Person(800 + i) for i in range(6)])
    async with database.transaction() as connection:
        await invite(connection, survey, quiet=QuietHours("UTC", None, None), created_by="test", now=datetime.now(UTC))
        await connection.execute(update(deliveries).values(status="sent"))
        arms = dict((await connection.execute(select(invitations.c.contact_id, invitations.c.arm))).all())
        finished = next(contact for contact, arm in arms.items() if arm == "b")
        await connection.execute(
            participations.insert(),
            [{"contact_id": finished, "survey_id": "trial", "completed": 1, "last_completed_at": datetime.now(UTC)}],
        )
    assert sorted(arms) == sorted(ids.values()) and sorted(arms.values()) == ["a"] * 3 + ["b"] * 3
    async with TestClient(TestServer(application)) as client:
        assert (await sign_in(client, "viewer1")).status == 303
        html = await (await client.get("/admin/surveys/trial/fieldwork")).text()
    table = html.split('id="fieldwork-table"', 1)[1].split("</table>", 1)[0]
    cells = {
        label: re.findall(r"<td>([^<]*)</td>", row)
        for label, row in re.findall(r'<th scope="row">([^<]*)</th>(.*?)</tr>', table, re.S)
    }
    # invited, complete, partial, break-off, refusal, non-contact: by hand, a 0 of 3, b 1 of 3.
    assert cells["arm: a"][:6] == ["3", "0", "0", "0", "0", "3"]
    assert cells["arm: b"][:6] == ["3", "1", "0", "0", "0", "2"]
    assert "33.3%" in cells["arm: b"] and "0.0%" in cells["arm: a"]


async def test_an_experiments_dry_run_shows_the_split_and_the_round_links_every_broadcast(database: Database) -> None:
    survey = trial_survey(NOTICED_TRIAL_YAML)
    async with database.transaction() as connection:
        await StaffRepository(connection).add("editor1", PASSWORD, "editor", datetime.now(UTC))
    application = web.Application()
    site = add_admin_routes(application, database, surveys={survey.id: survey}, community=Community())
    site.quiet_hours = QuietHours("UTC", None, None)
    await add_people(database, [Person(900 + i) for i in range(7)])
    async with TestClient(TestServer(application)) as client:
        assert (await sign_in(client, "editor1")).status == 303
        page = await (await client.get("/admin/surveys/trial/fieldwork")).text()
        form = {"csrf": csrf_of(page), "seed": "4", "wave": "1"}
        dry = await (
            await client.post("/admin/surveys/trial/fieldwork/invite", data={**form, "action": "preview"})
        ).text()
        split = dry.split('id="dry-run-arms">', 1)[1].split("</span>", 1)[0]
        found = dict(re.findall(r"(\w+): (\d+)", split))
        assert sorted(found) == ["a", "b"] and sum(map(int, found.values())) == 7
        sent = await client.post(
            "/admin/surveys/trial/fieldwork/invite", data={**form, "action": "send"}, allow_redirects=False
        )
        shown = await (await client.get(sent.headers["Location"])).text()
        forged = await (await client.get("/admin/surveys/trial/fieldwork?invited=1&broadcast=1,x<y>,../2")).text()
    async with database.reading() as connection:
        stored = sorted(set(await connection.scalars(select(invitations.c.broadcast_id))))
        (event,) = await audit.events(connection, audit.AuditFilter(action=audit.BROADCAST_STORED), limit=5)
    assert len(stored) == 2, "arm b's own notice is a broadcast of its own"
    status = shown.split('id="invited">', 1)[1].split("</p>", 1)[0]
    assert re.findall(r'href="/admin/broadcasts/(\d+)"', status) == [str(i) for i in stored]
    assert all(str(i) in event.details["broadcasts"] for i in stored)
    assert event.details["arms"] == f"a: {found['a']}, b: {found['b']}"
    assert re.findall(r'href="/admin/broadcasts/([^"]+)"', forged.split('id="invited">', 1)[1].split("</p>")[0]) == [
        "1"
    ], "only ids are linked"
