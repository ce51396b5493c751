"""The fieldwork columns of the response exports: a survey with invitations gets each response's
AAPOR disposition and paradata, the same as ``baraza survey report --export`` computes (real
SQLite and PostgreSQL), in CSV, JSON Lines, Excel, SPSS, Stata and the codebook."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pyreadstat
import pytest
from sqlalchemy import update

from handlers.invitations import QuietHours, disposition_rows, invite, response_paradata
from storage.codebook import write_codebook
from storage.database import Database
from storage.deliveries import SENT
from storage.exports import ExportOptions, response_table, write_table
from storage.exports.responses import PARADATA
from storage.invitations import deliveries
from storage.pseudonyms import Pseudonymizer
from storage.repositories import Repositories
from surveys.loader import load_survey_text
from surveys.model import Survey

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PSEUDONYM = Pseudonymizer("paradata-test-key-0123456789")
FORM = """id: fw
title: Household conditions
questions:
  - {type: integer, name: rooms, label: "Rooms"}
  - {type: text, name: roof, label: "Roof"}
  - {type: text, name: disposition, label: "A question that takes a fieldwork column's name", required: false}
"""
FIELDWORK = [name if name != "disposition" else "fieldwork_disposition" for name, _, _ in PARADATA]
NO_QUIET = QuietHours("UTC", None, None)


@pytest.fixture
def survey() -> Survey:
    return load_survey_text(FORM, "fw.yaml")


async def seed(database: Database, survey: Survey) -> dict[str, int]:
    """Users 1-4 invited (1-3 reached, 4 not sent yet), user 5 answers without an invitation.
    1 completes, 2 answers one question of three and stops, 3 never opens, 5 completes."""
    async with database.transaction() as connection:
        repos = Repositories(connection)
        ids: dict[int, int] = {}
        for user in range(1, 6):
            contact = await repos.contacts.touch("telegram", str(user), str(user), "en", T0 - timedelta(days=3))
            await repos.contacts.give_consent(contact.id, T0 - timedelta(days=3))
            ids[user] = contact.id
    async with database.transaction() as connection:
        round_ = await invite(
            connection, survey, size=4, seed=1, quiet=NO_QUIET, created_by="test", now=T0
        )  # 4 of the 5 candidates: all but the one the seed leaves out
        assert round_.invited == 4
    async with database.reading() as connection:
        invited = {row.contact_id for row in await disposition_rows(connection, survey)}
    outsider = next(user for user, contact in ids.items() if contact not in invited)
    # The roles go to the users by who was drawn: the outsider answers without an invitation.
    order = [user for user in sorted(ids) if user != outsider]
    roles = dict(zip(["complete", "break-off", "non-contact", "not delivered"], order, strict=True))
    async with database.transaction() as connection:
        await connection.execute(
            update(deliveries)
            .where(deliveries.c.contact_id != ids[roles["not delivered"]])
            .values(status=SENT, sent_at=T0)
        )
        repos = Repositories(connection)
        for role, user, answers in (
            ("complete", roles["complete"], {"rooms": "3", "roof": "iron"}),
            ("break-off", roles["break-off"], {"rooms": "2"}),
            ("outsider", outsider, {"rooms": "5", "roof": "tiles"}),
        ):
            contact = await repos.contacts.touch("telegram", str(user), str(user), "fr", T0)
            started = T0 + timedelta(hours=1)
            response_id = await repos.responses.create(
                survey_id=survey.id,
                survey_version=survey.version,
                contact=contact,
                respondent=PSEUDONYM("telegram", str(user)),
                language="fr" if role == "complete" else "en",
                now=started,
                channel="telegram",
            )
            for name, value in answers.items():
                await repos.responses.record_answer(response_id, name, value, started)
            if role != "break-off":
                await repos.responses.complete(response_id, started + timedelta(seconds=125))
    return {**roles, "outsider": outsider, **{f"contact {user}": contact for user, contact in ids.items()}}


async def export(database: Database, survey: Survey, fmt: str, tmp_path: Path) -> Path:
    async with database.reading() as connection:
        paradata = await response_paradata(connection, survey)
    table = await response_table(database, survey, ExportOptions(), paradata=paradata)
    path = tmp_path / f"fw.{fmt}"
    await write_table(table, fmt, path)  # type: ignore[arg-type]
    return path


async def test_responses_carry_the_disposition_and_paradata_of_their_invitation(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    roles = await seed(database, survey)
    rows = list(csv.DictReader(io.StringIO((await export(database, survey, "csv", tmp_path)).read_text())))
    by_user = {row["respondent"]: row for row in rows}
    assert set(by_user) == {PSEUDONYM("telegram", str(roles[r])) for r in ("complete", "break-off", "outsider")}, (
        "invitees who never responded are not response rows"
    )
    header = list(rows[0])
    assert header[-len(FIELDWORK) :] == FIELDWORK, "after the other metadata, a clashing name prefixed"
    assert "disposition" in header, "the question keeps its name"
    complete = by_user[PSEUDONYM("telegram", str(roles["complete"]))]
    assert (complete["fieldwork_disposition"], complete["aapor_code"]) == ("complete", "1.1")
    assert complete["invited_at"] == "2026-12-01T09:00:00Z"
    assert complete["first_opened_at"] == "2026-12-01T10:00:00Z"
    assert complete["invitation_channel"] == "telegram" and complete["invitation_wave"] == "1"
    assert complete["reminders_received"] == "0"
    assert complete["fieldwork_duration_seconds"] == "125" and complete["device_language"] == "fr"
    broken = by_user[PSEUDONYM("telegram", str(roles["break-off"]))]
    # One question answered of three: fewer than half, a break-off.
    assert (broken["fieldwork_disposition"], broken["aapor_code"]) == ("break-off", "2.12")
    assert broken["fieldwork_duration_seconds"] == "" and broken["device_language"] == "en"
    outsider = by_user[PSEUDONYM("telegram", str(roles["outsider"]))]
    assert all(outsider[name] == "" for name in FIELDWORK), "no invitation: empty cells"

    # The same figures as the report's export (one place computes dispositions).
    async with database.reading() as connection:
        report = {row.contact_id: row for row in await disposition_rows(connection, survey)}
    assert sorted(str(row.disposition) for row in report.values()) == [
        "break-off",
        "complete",
        "non-contact",
        "not delivered",
    ]
    for role in ("complete", "break-off"):
        expected = report[roles[f"contact {roles[role]}"]]
        row = by_user[PSEUDONYM("telegram", str(roles[role]))]
        assert row["fieldwork_disposition"] == str(expected.disposition)
        assert row["reminders_received"] == str(expected.reminders_received)


async def test_every_format_and_the_codebook_hold_the_fieldwork_columns(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    roles = await seed(database, survey)
    complete = PSEUDONYM("telegram", str(roles["complete"]))
    lines = [json.loads(line) for line in (await export(database, survey, "jsonl", tmp_path)).read_text().splitlines()]
    record = next(line for line in lines if line["respondent"] == complete)
    assert record["aapor_code"] == "1.1" and record["reminders_received"] == 0
    assert record["fieldwork_duration_seconds"] == 125

    sheet = openpyxl.load_workbook(await export(database, survey, "xlsx", tmp_path), read_only=True).active
    assert sheet is not None
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = table[0]
    assert header[-len(FIELDWORK) :] == FIELDWORK
    excel = next(dict(zip(header, row, strict=True)) for row in table[1:] if row[1] == complete)
    assert excel["fieldwork_disposition"] == "complete" and excel["reminders_received"] == 0

    for fmt, read in (("sav", pyreadstat.read_sav), ("dta", pyreadstat.read_dta)):
        frame, meta = read(str(await export(database, survey, fmt, tmp_path)))
        assert list(frame.columns[-len(FIELDWORK) :]) == FIELDWORK
        row = frame[frame["respondent"] == complete].iloc[0]
        assert row["aapor_code"] == "1.1" and row["fieldwork_duration_seconds"] == 125
        assert meta.column_names_to_labels["aapor_code"] == "AAPOR final disposition code"

    codebook = tmp_path / "codebook.md"
    await write_codebook(database, survey, ExportOptions(), codebook, fieldwork=True)
    text = codebook.read_text()
    assert "| `invited_at` | datetime |" in text and "| `fieldwork_disposition` | text |" in text
    assert "Invitees who never responded are not rows of this table" in text
    as_csv = tmp_path / "codebook.csv"
    await write_codebook(database, survey, ExportOptions(), as_csv, fieldwork=True)
    variables = [row["variable"] for row in csv.DictReader(as_csv.open(encoding="utf-8"))]
    assert set(FIELDWORK) <= set(variables)


async def test_a_survey_without_invitations_has_no_fieldwork_columns(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    async with database.reading() as connection:
        assert await response_paradata(connection, survey) is None
    header = (await export(database, survey, "csv", tmp_path)).read_text().splitlines()[0].split(",")
    assert "aapor_code" not in header and "invited_at" not in header
    codebook = tmp_path / "codebook.md"
    await write_codebook(database, survey, ExportOptions(), codebook)
    assert "aapor_code" not in codebook.read_text()
