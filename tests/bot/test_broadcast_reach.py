"""A broadcast's reach made visible (issue 17): wherever an audience is counted (the dashboard's
composer, ``baraza broadcast send --dry-run``) it is shown by channel with the reasons people
are left out; the dashboard offers Send when someone can receive it; an answer to a web-chat
request does not claim the person deleted their data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.broadcasts import (
    NO_CONSENT,
    ON_ANOTHER_CHANNEL,
    OPTED_OUT,
    OUTSIDE_WINDOW,
    WEB_NO_PUSH,
    WHATSAPP_SERVICE_WINDOW,
    Audience,
    BroadcastRepository,
)
from storage.database import Database
from storage.deliveries import BLOCKED
from storage.repositories import Repositories
from storage.requests import REQUEST
from surveys.model import Survey
from testkit.admin import Client, admin_client, csrf_of
from testkit.databases import copy_migrated_sqlite
from testkit.paths import ROOT
from testkit.register import Person, add_people

EXAMPLE = ROOT / "office" / "notices" / "cpi-2026-11.yaml"  # to everyone following "prices", no WhatsApp template

EVERY_KIND = [
    Person(1, topics=("prices",)),
    Person(2, topics=("prices",), consent=False),
    Person(3, topics=("prices",), opted_out=True),
    Person(4, topics=("prices",), blocked=True),
    Person(5, topics=("prices",), declined_later=True),
    Person(6, topics=("prices",), channel="web"),
    Person(7, topics=("prices",), channel="web"),
    Person(8, topics=("prices",), channel="whatsapp"),
    Person(9, topics=("prices",), channel="whatsapp", silent_hours=30),
    Person(10, topics=("labour",)),  # not in the audience at all
]


async def test_reach_by_channel_names_every_reason(database: Database) -> None:
    await add_people(database, EVERY_KIND)
    audience = Audience(topics=("prices",))
    async with database.reading() as connection:
        repository = BroadcastRepository(connection)
        reach = await repository.reach(audience, silent_before=datetime.now(UTC) - WHATSAPP_SERVICE_WINDOW)
        with_template = await repository.reach(audience)
        size = await repository.audience_size(audience)
    by_channel = {c.channel: (c.reached, dict(c.left_out)) for c in reach.channels}
    assert by_channel == {
        "telegram": (1, {NO_CONSENT: 2, OPTED_OUT: 1, BLOCKED: 1}),
        "whatsapp": (1, {OUTSIDE_WINDOW: 1}),
        "web": (0, {WEB_NO_PUSH: 2}),
    }
    assert [c.channel for c in reach.channels] == ["telegram", "whatsapp", "web"]
    assert reach.reached == 2 and reach.left_out == {NO_CONSENT: 2, OPTED_OUT: 1, BLOCKED: 1, WEB_NO_PUSH: 2,
                                                      OUTSIDE_WINDOW: 1}  # fmt: skip
    assert {c.channel: c.reached for c in with_template.channels}["whatsapp"] == 2, "a template reaches them"
    assert size == 3, "the stored broadcast's own count is unchanged"


def run_cli(tmp_path: Path, people: list[Person], *arguments: str) -> int:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"

    async def setup() -> None:
        database = Database(await copy_migrated_sqlite(tmp_path / "db.sqlite"))
        await add_people(database, people)
        await database.dispose()

    asyncio.run(setup())
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {{url: '{url}'}}\nsurveys: {{directory: {ROOT / 'office' / 'surveys'}}}\n")
    return main(["--config", str(config), "broadcast", "send", str(EXAMPLE), *arguments])


def test_dry_run_shows_the_reach_by_channel_with_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, EVERY_KIND, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "reach by channel:\n" in out
    assert "  Telegram: 1 can receive it; left out: 2 no consent, 1 opted out, 1 blocked\n" in out
    assert "  WhatsApp: 1 can receive it; left out: 1 outside WhatsApp's 24-hour window without a template\n" in out
    assert "  web chat: 0 can receive it; left out: 2 web chat without notifications: sees it at next visit\n" in out


def test_nobody_to_send_to_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The first day: two people agreed to be contacted, both on the web chat.
    web_only = [Person(1, topics=("prices",), channel="web"), Person(2, topics=("prices",), channel="web")]
    assert run_cli(tmp_path, web_only) == 1
    captured = capsys.readouterr()
    assert (
        "  web chat: 0 can receive it; left out: 2 web chat without notifications: sees it at next visit"
        in captured.out
    )
    assert (
        "nobody to send to: nothing stored (left out: 2 web chat without notifications: sees it at next visit)"
        in captured.err
    )


@pytest.fixture
async def client(database: Database, shipped_surveys: dict[str, Survey]) -> AsyncIterator[Client]:
    async with admin_client(database, shipped_surveys) as test_client:
        yield test_client


async def test_the_composer_shows_reach_by_channel_and_offers_send_only_with_someone_to_send_to(
    client: Client, database: Database
) -> None:
    await add_people(database, [Person(1, channel="web"), Person(2, channel="web"), Person(3, consent=False)])
    page = await (await client.get("/admin/broadcasts/new")).text()
    assert "<li>Telegram: 0 can receive it; left out: 1 no consent</li>" in page
    assert (
        "<li>web chat: 0 can receive it; left out: 2 web chat without notifications: sees it at next visit</li>" in page
    )
    assert (
        'id="nobody-why"' in page
        and "Nobody can receive this notice now: 1 no consent, 2 web chat without notifications: sees it at next visit"
        in page
    )
    assert 'id="send"' not in page
    live = await (await client.get("/admin/broadcasts/audience")).json()
    assert live["size"] == 0 and live["left_out"] == {NO_CONSENT: 1, WEB_NO_PUSH: 2}
    assert (
        "web chat: 0 can receive it; left out: 2 web chat without notifications: sees it at next visit" in live["reach"]
    )

    overview = await (await client.get("/admin/")).text()
    assert '<dd id="can-receive">0 <span class="muted">(2 more on the web chat without notifications' in overview

    await add_people(database, [Person(4)])
    page = await (await client.get("/admin/broadcasts/new")).text()
    assert "<li>Telegram: 1 can receive it; left out: 1 no consent</li>" in page
    assert 'id="send"' in page and "Send now to 1 person" in page, "a Send button, before any preview"
    assert 'id="nobody-why"' not in page


async def test_answering_a_web_chat_request_says_where_the_person_reads_it(client: Client, database: Database) -> None:
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        repos = Repositories(connection)
        contact = await repos.contacts.touch("web", "visitor-1", "visitor-1", "en", now - timedelta(minutes=5))
        asked = await repos.requests.create(
            contact_id=contact.id, channel="web", language="en", user_group=None, source=REQUEST,
            text="Inflation by region", now=now,
        )  # fmt: skip
    token = csrf_of(await (await client.get(f"/admin/requests/{asked.id}")).text())
    done = await client.post(
        f"/admin/requests/{asked.id}",
        data={"csrf": token, "action": "answer", "answer": "See table 2"},
        allow_redirects=False,
    )
    assert done.headers["Location"] == f"/admin/requests/{asked.id}?done=answered_webchat"
    shown = await (await client.get(done.headers["Location"])).text()
    assert "deleted their data" not in shown
    assert "wrote through the web chat" in shown and "/my_requests" in shown


def test_a_person_on_whatsapp_and_sms_counts_once_in_the_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    linked = [
        Person(1, topics=("prices",), channel="whatsapp", phone="+254700000001"),  # within the window
        Person(2, topics=("prices",), channel="sms", phone="+254700000001"),
        Person(3, topics=("prices",), channel="whatsapp", phone="+254700000002", silent_hours=30),
        Person(4, topics=("prices",), channel="sms", phone="+254700000002"),
        Person(5, topics=("prices",), channel="ussd", phone="+254700000002"),
    ]
    assert run_cli(tmp_path, linked, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "audience: 2 contact(s)" in out, "two people, five contacts"
    assert f"  WhatsApp: 1 can receive it; left out: 1 {ON_ANOTHER_CHANNEL}\n" in out
    sms = next(line for line in out.splitlines() if line.startswith("  SMS: "))
    assert sms.startswith("  SMS: 1 can receive it; 1 recipients × ") and sms.endswith(
        f"left out: 1 {ON_ANOTHER_CHANNEL}"
    )
    assert f"  USSD: 0 can receive it; left out: 1 {ON_ANOTHER_CHANNEL}\n" in out
