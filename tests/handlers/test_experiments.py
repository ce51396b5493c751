"""Split-sample experiments and shuffled groups through the real engine and a real database:
invitees assigned to arms balanced by stratum, each sees their arm's wording (also when they
come back, and without an invitation), the export carries ``arm`` and ``order_GROUP``, and the
report's rates per arm equal hand counts."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.core.engine import Engine, load_pseudonymizer
from handlers.invitations import (
    Disposition,
    QuietHours,
    build_report,
    disposition_rows,
    format_report,
    invitation_notice,
    invite,
    record_invitation,
)
from handlers.notices import WhatsAppTemplate
from storage import audit
from storage.broadcasts import broadcasts
from storage.database import Database
from storage.deliveries import SENT
from storage.exports import ExportOptions
from storage.exports.files import export_responses
from storage.invitations import deliveries, invitations
from storage.models import ResponseRow
from storage.repositories import Repositories
from surveys import arrangement
from testkit.experiments import NOTICED_TRIAL_YAML, SERVICES, WORDING, trial_survey
from testkit.fakes.engine_user import EngineUser

NO_QUIET = QuietHours("UTC", None, None)
KEY = "test-pseudonym-key-0123456789"


async def invited_people(database: Database, count: int) -> dict[str, str]:
    """``count`` consenting Telegram contacts in two regions, all invited in a sample stratified
    by region; user key -> the arm they were assigned."""
    survey = trial_survey()
    now = datetime.now(UTC) - timedelta(hours=1)
    keys: dict[int, str] = {}
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for number in range(count):
            contact = await repos.contacts.touch("telegram", f"u{number}", f"u{number}", "en", now)
            await repos.contacts.give_consent(contact.id, now)
            await repos.contacts.set_field(contact.id, "region", "north" if number % 2 else "south")
            keys[contact.id] = f"u{number}"
    async with database.transaction() as connection:
        found = await invite(
            connection, survey, stratify_by="region", seed=7, quiet=NO_QUIET, created_by="test", now=now
        )
        assert found.invited == count
        await connection.execute(update(deliveries).values(status=SENT, sent_at=now))
    async with database.reading() as connection:
        rows = (
            await connection.execute(select(invitations.c.contact_id, invitations.c.stratum, invitations.c.arm))
        ).all()
    by_stratum: dict[str, list[str]] = {}
    for _, stratum, arm in rows:
        by_stratum.setdefault(stratum, []).append(arm)
    assert sorted(by_stratum) == ["north", "south"]
    for drawn in by_stratum.values():  # balanced within each stratum
        assert sorted(drawn) == ["a"] * (count // 4) + ["b"] * (count // 4)
    return {keys[contact_id]: arm for contact_id, _, arm in rows}


async def test_people_in_different_arms_see_their_arms_wording(database: Database, tmp_path: Path) -> None:
    survey = trial_survey()
    engine = Engine(database, {survey.id: survey}, await load_pseudonymizer(database, KEY))
    arms = await invited_people(database, 8)
    seen: dict[str, str] = {}
    for key, arm in arms.items():
        user = EngineUser(engine, key, channel="telegram")
        replies = await user.say("/survey trial")
        assert WORDING[arm] in replies[-1].text, (arm, replies[-1].text)
        assert WORDING["b" if arm == "a" else "a"] not in replies[-1].text
        seen[key] = replies[-1].text
    # Coming back after /cancel resumes the same response, in the same arm.
    first = next(iter(arms))
    user = EngineUser(engine, first, channel="telegram")
    await user.say("/cancel")
    replies = await user.say("/survey trial")
    assert WORDING[arms[first]] in replies[-1].text
    # Someone without an invitation (another channel) gets the arm their pseudonym draws, every time.
    outsider = EngineUser(engine, "walk-in", channel="webchat")
    replies = await outsider.say("/survey trial")
    pseudonym = (await load_pseudonymizer(database, KEY))("webchat", "walk-in")
    assert survey.experiment is not None
    drawn = arrangement.arm_for(survey.experiment, pseudonym)
    assert WORDING[drawn] in replies[-1].text
    async with database.reading() as connection:
        stored = dict(
            (
                await connection.execute(
                    select(ResponseRow.respondent, ResponseRow.arm).where(ResponseRow.channel == "webchat")
                )
            ).all()
        )
    assert stored == {pseudonym: drawn}


async def answer(user: EngineUser, complete: bool) -> list[str]:
    """Start, answer the income question, then (``complete``) the shuffled group; the names of the
    group's questions in the order they were asked."""
    await user.say("/survey trial")
    replies = await user.say("1200")
    if not complete:
        return []
    asked = []
    for _ in SERVICES:
        asked.append(next(name for name, label in SERVICES.items() if label in replies[-1].text))
        replies = await user.say("3")
    return asked


async def test_export_and_report_give_the_arm_the_order_shown_and_the_rates_per_arm(
    database: Database, tmp_path: Path
) -> None:
    survey = trial_survey()
    engine = Engine(database, {survey.id: survey}, await load_pseudonymizer(database, KEY))
    arms = await invited_people(database, 8)
    by_arm = {arm: sorted(key for key, drawn in arms.items() if drawn == arm) for arm in ("a", "b")}
    # Arm a: 1 complete, 1 break-off, 2 never open. Arm b: 2 complete, 1 break-off, 1 never opens.
    roles = {
        by_arm["a"][0]: True, by_arm["a"][1]: False,
        by_arm["b"][0]: True, by_arm["b"][1]: True, by_arm["b"][2]: False,
    }  # fmt: skip
    shown = {
        key: await answer(EngineUser(engine, key, channel="telegram"), complete) for key, complete in roles.items()
    }

    async with database.reading() as connection:
        rows = await disposition_rows(connection, survey)
    report = build_report(survey.id, rows)
    a, b = report.by["arm"]["a"], report.by["arm"]["b"]
    assert (a.n(Disposition.COMPLETE), a.n(Disposition.BREAK_OFF), a.n(Disposition.NON_CONTACT)) == (1, 1, 2)
    assert (b.n(Disposition.COMPLETE), b.n(Disposition.BREAK_OFF), b.n(Disposition.NON_CONTACT)) == (2, 1, 1)
    # By hand: RR1 = I / (I + P + R + NC + O + U); COOP1 = I / (I + P + R + O).
    assert (a.rr1, a.rr2, a.coop1) == (1 / 4, 1 / 4, 1 / 2)
    assert (b.rr1, b.rr2, b.coop1) == (2 / 4, 2 / 4, 2 / 3)
    assert report.overall.rr1 == 3 / 8
    printed = {line.split()[0]: line.split() for line in format_report(report).splitlines()[2:]}
    assert printed["arm=a"][1:4] == ["4", "1", "0"] and printed["arm=b"][1:4] == ["4", "2", "0"]

    path = tmp_path / "trial.csv"
    await export_responses(database, survey, ExportOptions(multiple="joined"), "csv", path)
    with path.open(encoding="utf-8") as file:
        exported = list(csv.DictReader(file))
    pseudonymize = await load_pseudonymizer(database, KEY)
    by_respondent = {row["respondent"]: row for row in exported}
    assert len(exported) == len(roles)
    for key, complete in roles.items():
        row = by_respondent[pseudonymize("telegram", key)]
        assert row["arm"] == arms[key]
        if complete:  # the order the person was asked in
            assert row["order_services"].split() == shown[key]
        assert sorted(row["order_services"].split()) == sorted(SERVICES)
        assert row["order_services"] == arrangement.shown_orders(survey, row["response_id"])["services"]


async def test_an_arm_with_its_own_notice_is_invited_with_it(database: Database) -> None:
    survey = trial_survey(NOTICED_TRIAL_YAML)
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for number in range(6):
            contact = await repos.contacts.touch("telegram", f"n{number}", f"n{number}", "en", now)
            await repos.contacts.give_consent(contact.id, now)
    async with database.transaction() as connection:
        found = await invite(connection, survey, seed=3, quiet=NO_QUIET, created_by="test", now=now)
    assert found.invited == 6
    async with database.reading() as connection:
        sent = (
            await connection.execute(
                select(invitations.c.arm, broadcasts.c.notice).join(
                    broadcasts, broadcasts.c.id == invitations.c.broadcast_id
                )
            )
        ).all()
    texts = {arm: json.loads(notice)["texts"]["en"] for arm, notice in sent}
    assert texts == {"a": "Household income", "b": "Five minutes about what your household earns"}
    assert sorted(arm for arm, _ in sent) == ["a"] * 3 + ["b"] * 3


async def test_the_order_shown_survives_a_restart_and_a_change_of_worker(database: Database) -> None:
    survey = trial_survey()
    pseudonymize = await load_pseudonymizer(database, KEY)
    user = EngineUser(Engine(database, {survey.id: survey}, pseudonymize), "restart", channel="whatsapp")
    await user.say("/survey trial")
    replies = await user.say("1200")
    first = next(name for name, label in SERVICES.items() if label in replies[-1].text)
    async with database.reading() as connection:
        (response_id,) = (await connection.execute(select(ResponseRow.id))).scalars().all()
    expected = arrangement.shown_orders(survey, response_id)["services"].split()
    assert first == expected[0]
    # A new engine (a restart, or another worker) holds nothing of the first: the order is derived.
    user.processor = Engine(database, {survey.id: trial_survey()}, pseudonymize)
    replies = await user.say("4")
    assert SERVICES[expected[1]] in replies[-1].text and "3/4" in replies[-1].text
    replies = await user.say("/back")
    assert SERVICES[expected[0]] in replies[-1].text and "2/4" in replies[-1].text


async def test_a_dry_run_shows_the_split_by_arm_and_the_round_keeps_every_broadcast(database: Database) -> None:
    survey = trial_survey(NOTICED_TRIAL_YAML)
    now = datetime.now(UTC)
    template = WhatsAppTemplate("invitation", "en")
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for number in range(7):
            contact = await repos.contacts.touch("telegram", f"d{number}", f"d{number}", "en", now)
            await repos.contacts.give_consent(contact.id, now)
    notice = invitation_notice(survey, template=template)
    async with database.transaction() as connection:
        dry = await invite(
            connection, survey, notice=notice, seed=5, quiet=NO_QUIET, created_by="test", now=now, dry_run=True
        )
    assert dry.broadcasts == () and sum(dry.arms.values()) == 7 and sorted(dry.arms) == ["a", "b"]
    async with database.transaction() as connection:
        found = await invite(connection, survey, notice=notice, seed=5, quiet=NO_QUIET, created_by="test", now=now)
        await record_invitation(connection, survey, found, actor="editor", wave=1, seed=5, now=now)
    assert found.arms == dry.arms, "the same seed splits the round as its dry run said"
    assert len(found.broadcast_ids) == 2 and found.broadcast_id == found.broadcast_ids[0]
    assert {part.arm: part.invited for part in found.broadcasts} == {None: dry.arms["a"], "b": dry.arms["b"]}
    async with database.reading() as connection:
        notices = {
            int(i): str(text) for i, text in await connection.execute(select(broadcasts.c.id, broadcasts.c.notice))
        }
        (event,) = await audit.events(connection)
    assert all(json.loads(notices[i])["whatsapp_template"]["name"] == "invitation" for i in found.broadcast_ids), (
        "an arm's own notice keeps the round's WhatsApp template"
    )
    first, second = found.broadcasts
    assert (
        event.details["broadcasts"]
        == f"{first.broadcast_id} ({first.invited}), {second.broadcast_id} (arm b: {second.invited})"
    )
    assert event.details["arms"] == f"a: {dry.arms['a']}, b: {dry.arms['b']}"
