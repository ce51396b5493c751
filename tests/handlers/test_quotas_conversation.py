"""Quotas through the real engine and database: a person whose cell is full is thanked and screened
out (at the start for a contact field, after the answer for a question, at the end when the cell
filled while they answered), stored as such, given the "screened out" disposition, and not reminded."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import Table, select, update

from bot.core.engine import Engine, load_pseudonymizer
from handlers.invitations import Disposition, QuietHours, disposition_rows, invite, queue_due_reminders
from handlers.payloads import start_survey
from handlers.quotas import format_quotas, quota_report
from storage.database import Database
from storage.exports.files import export_responses
from storage.exports.responses import ExportOptions
from storage.models import ContactRow, DeliveryRow, ResponseRow
from surveys.loader import load_survey_directory
from testkit.fakes.engine_user import EngineUser
from testkit.register import Person, add_people

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
NO_QUIET = QuietHours("UTC", None, None)
responses = cast(Table, ResponseRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
contacts = cast(Table, ContactRow.__table__)

FORM = """id: qs
title: Quota survey
reminders:
  - {after: 2d, text: "Our survey is still open."}
quotas:
  - {by: region, targets: {north: 1}}
  - {by: sex, targets: {female: 1}}
questions:
  - {type: select_one, name: sex, label: Sex, choices: [{name: female, label: Female}, {name: male, label: Male}]}
  - {type: integer, name: age, label: Age}
"""
FINISHED = "Send /start to see other surveys."
THANKED = "We already have all the answers we need from people like you"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def test_full_cells_screen_people_out_who_are_then_not_reminded(database: Database, tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "qs.yaml").write_text(FORM)
    surveys = load_survey_directory(forms)
    survey = surveys["qs"]
    regions = {"1": "north", "2": "north", "3": "south", "4": "south", "5": "south", "6": "north"}
    await add_people(database, [Person(int(key), "en", "public", region) for key, region in regions.items()])
    clock = Clock()
    engine = Engine(database, surveys, await load_pseudonymizer(database, "k" * 20), clock=clock)
    async with database.transaction() as connection:
        found = await invite(connection, survey, quiet=NO_QUIET, created_by="test", now=NOW)
        await connection.execute(update(deliveries).values(status="sent"))  # as the durable sender would
    assert found.invited == 6
    users = {key: EngineUser(engine, key, channel="telegram") for key in regions}

    # 1 (north, male) completes: the north cell is full.
    await users["1"].press_payload(start_survey("qs"))
    await users["1"].press("Male")
    assert (await users["1"].say("40"))[-1].text == FINISHED
    # 2 (north) is screened out at the start, before any question; pressing again says the same.
    replies = await users["2"].press_payload(start_survey("qs"))
    assert THANKED in replies[-1].text and not replies[-1].buttons
    assert THANKED in (await users["2"].press_payload(start_survey("qs")))[-1].text
    # 3 and 4 (south, female) both pass the sex check while nobody has completed the female cell;
    # 4 finishes first, so 3, who was half-way when the last place was taken, is screened out at the end.
    await users["3"].press_payload(start_survey("qs"))
    await users["3"].press("Female")
    await users["4"].press_payload(start_survey("qs"))
    await users["4"].press("Female")
    assert (await users["4"].say("30"))[-1].text == FINISHED
    assert THANKED in (await users["3"].say("35"))[-1].text
    # 5 (south, female) is screened out right after the answer that puts them in the full cell.
    await users["5"].press_payload(start_survey("qs"))
    assert THANKED in (await users["5"].press("Female"))[-1].text
    assert "Age" not in users["5"].last_text
    # 6 (north) never opens the survey.

    async with database.reading() as connection:
        screened = set(
            await connection.scalars(
                select(contacts.c.user_key)
                .select_from(responses.join(contacts, contacts.c.id == responses.c.contact_id))
                .where(responses.c.screened_out_at.is_not(None), responses.c.completed_at.is_(None))
            )
        )
        rows = await disposition_rows(connection, survey)
        cells = await quota_report(connection, survey)
    assert screened == {"2", "3", "5"}
    by_key = {row.contact_id: row.disposition for row in rows}
    assert sorted(by_key.values()).count(Disposition.SCREENED_OUT) == 3
    assert sorted(by_key.values()).count(Disposition.COMPLETE) == 2
    assert sorted(by_key.values()).count(Disposition.NON_CONTACT) == 1
    assert [(c.quota, c.label, c.target, c.completes, c.in_progress, c.status) for c in cells] == [
        ("region", "north", 1, 1, 0, "full"),
        ("sex", "female", 1, 1, 0, "full"),
    ]
    assert "region  north" in format_quotas(cells) and "full" in format_quotas(cells)
    out = io.StringIO()
    await export_responses(database, survey, ExportOptions(), "csv", out)
    exported = {
        row["age"] or row["sex"] or "-": row["screened_out"] for row in csv.DictReader(io.StringIO(out.getvalue()))
    }
    assert exported == {"40": "false", "30": "false", "35": "true", "female": "true", "-": "true"}, exported

    clock.now = NOW + timedelta(days=3)
    async with database.transaction() as connection:
        (reminder,) = await queue_due_reminders(connection, survey, now=clock.now, quiet=NO_QUIET)
        reminded = set(
            await connection.scalars(
                select(contacts.c.user_key)
                .select_from(deliveries.join(contacts, contacts.c.id == deliveries.c.contact_id))
                .where(deliveries.c.broadcast_id == reminder.broadcast_id)
            )
        )
    assert reminded == {"6"}, "neither the completers nor the screened-out people are reminded"


async def test_a_cell_by_two_fields_counts_its_own_completes_and_a_resumed_response_is_checked(
    database: Database, tmp_path: Path
) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "qs.yaml").write_text(
        FORM.replace(
            "  - {by: sex, targets: {female: 1}}\n",
            "  - by: [user_group, sex]\n    targets: {media: {male: 1}, public: {male: 2}}\n",
        ).replace("{north: 1}", "{north: 5}")
    )
    surveys = load_survey_directory(forms)
    await add_people(database, [Person(i, "en", "media" if i < 3 else "public", "north") for i in range(1, 6)])
    engine = Engine(database, surveys, await load_pseudonymizer(database, "k" * 20), clock=lambda: NOW)
    users = {i: EngineUser(engine, str(i), channel="telegram") for i in range(1, 6)}

    async def complete(user: EngineUser) -> None:
        await user.press_payload(start_survey("qs"))
        await user.press("Male")
        assert (await user.say("20"))[-1].text == FINISHED

    await complete(users[1])
    await complete(users[3])
    await users[2].press_payload(start_survey("qs"))
    assert THANKED in (await users[2].press("Male"))[-1].text, "media / male is full"
    await users[4].press_payload(start_survey("qs"))
    assert "Age" in (await users[4].press("Male"))[-1].text, "public / male has a place left"
    async with database.reading() as connection:
        cells = await quota_report(connection, surveys["qs"])
    assert [(c.quota, c.label, c.completes, c.in_progress, c.status) for c in cells] == [
        ("region", "north", 2, 1, "open"),
        ("user_group+sex", "media / male", 1, 0, "full"),
        ("user_group+sex", "public / male", 1, 1, "open"),
    ]
    # 4 leaves half-way; 5 takes the last public / male place; 4 comes back and is told at once.
    await users[4].say("/cancel")
    await complete(users[5])
    replies = await users[4].press_payload(start_survey("qs"))
    assert THANKED in replies[-1].text and "Age" not in replies[-1].text
    async with database.reading() as connection:
        cells = await quota_report(connection, surveys["qs"])
    assert [(c.label, c.completes, c.in_progress, c.status) for c in cells][2] == ("public / male", 2, 0, "full")


async def test_a_person_who_answered_on_whatsapp_cannot_take_a_second_place_by_sms(
    database: Database, tmp_path: Path
) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "qs.yaml").write_text(FORM.replace("female: 1", "female: 5"))
    surveys = load_survey_directory(forms)
    engine = Engine(database, surveys, await load_pseudonymizer(database, "k" * 40))
    on_whatsapp = EngineUser(engine, "254712345678", channel="whatsapp")
    await on_whatsapp.say("/survey qs")
    await on_whatsapp.press("Female")
    assert FINISHED in (await on_whatsapp.say("30"))[-1].text
    by_sms = EngineUser(engine, "+254712345678", channel="sms")
    replies = await by_sms.say("/survey qs")
    assert [reply.text for reply in replies] == ["You have already answered 'Quota survey'. Thank you!"]
    async with database.reading() as connection:
        (cell,) = [row for row in await quota_report(connection, surveys["qs"]) if row.quota == "sex"]
    assert (cell.completes, cell.in_progress) == (1, 0), "one person, one place"
