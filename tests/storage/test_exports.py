"""Exports read back by their own readers (pandas CSV, json, openpyxl, pyreadstat) with exact
values, labels and missing values, on SQLite and PostgreSQL; the codebook; the other tables."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest
from sqlalchemy import text

from storage.codebook import write_codebook
from storage.database import Database
from storage.exports import ExcelTooLarge, ExportOptions, Table, response_table, stats, write_table
from storage.exports.excel import EXCEL_MAX_ROWS, write_xlsx
from storage.exports.table import Column, Kind
from storage.exports.tables import table_export
from storage.pseudonyms import Pseudonymizer
from storage.repositories import Repositories
from surveys.loader import load_survey_file
from surveys.model import Survey

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
LONG_LABEL = "Please tell us, in your own words and as precisely as you can, what we should improve first, and why"
SURVEY = f"""
id: exp
title: {{en: Export test, fr: Test d'export}}
default_language: en
languages: [en, fr]
questions:
  - {{type: select_one, name: sector, label: {{en: Sector, fr: Secteur}}, choices: sectors}}
  - {{type: select_one, name: agree, label: {{en: I agree, fr: Je suis d'accord}}, choices: scale}}
  - {{type: select_multiple, name: topics, label: {{en: Topics, fr: Thèmes}}, choices: topics, relevant: "${{sector}} != 'none'"}}
  - {{type: range, name: rating, label: {{en: Rating, fr: Note}}, start: 1, end: 5}}
  - {{type: integer, name: staff, label: {{en: Staff, fr: Personnel}}, min: 0, constraint: ". < 1000"}}
  - {{type: decimal, name: share, label: {{en: Share, fr: Part}}}}
  - {{type: date, name: since, label: {{en: Since, fr: Depuis}}, required: false}}
  - {{type: text, name: comment, label: {{en: "{LONG_LABEL}", fr: Commentaire}}, required: false}}
choices:
  sectors:
    - {{name: public, label: {{en: Public sector, fr: Secteur public}}}}
    - {{name: private, label: {{en: Private sector, fr: Secteur privé}}}}
    - {{name: none, label: {{en: No sector, fr: Aucun}}}}
  scale:
    - {{name: "1", label: {{en: Disagree, fr: Pas d'accord}}}}
    - {{name: "2", label: {{en: Agree, fr: D'accord}}}}
    - {{name: "9", label: {{en: Don't know, fr: Ne sait pas}}}}
  topics:
    - {{name: prices, label: {{en: Prices, fr: Prix}}}}
    - {{name: labour, label: {{en: Labour, fr: Travail}}}}
    - {{name: health, label: {{en: Health, fr: Santé}}}}
"""
QUESTIONS = ["sector", "agree", "topics", "rating", "staff", "share", "since", "comment"]
PSEUDONYM = Pseudonymizer("export-test-key-0123456789")


@pytest.fixture
def survey(tmp_path: Path) -> Survey:
    path = tmp_path / "exp.yaml"
    path.write_text(SURVEY, encoding="utf-8")
    return load_survey_file(path)


async def _response(
    repos: Repositories,
    survey: Survey,
    number: int,
    answers: dict[str, str | None],
    *,
    complete: bool = True,
    consent: bool = False,
    anonymous: bool = False,
    version: str | None = None,
) -> None:
    contact = await repos.contacts.touch("telegram", str(number), str(number), "en", NOW)
    if consent:
        await repos.contacts.give_consent(contact.id, NOW)
    await repos.contacts.set_field(contact.id, "user_group", "media")
    await repos.contacts.set_field(contact.id, "region", "north")
    started = NOW + timedelta(hours=number)
    response_id = await repos.responses.create(
        survey_id=survey.id,
        survey_version=version or survey.version,
        contact=None if anonymous else contact,
        respondent="" if anonymous else PSEUDONYM("telegram", str(number)),
        language="fr" if number == 1 else "en",
        now=started,
        channel="telegram",
    )
    for name, value in answers.items():
        await repos.responses.record_answer(response_id, name, value, started)
    if complete:
        await repos.responses.complete(response_id, started + timedelta(seconds=95))


async def seed(database: Database, survey: Survey) -> None:
    """1: complete, consenting; 2: incomplete; 3: anonymous; 4: an older version of the survey."""
    async with database.transaction() as connection:
        repos = Repositories(connection)
        await _response(
            repos, survey, 1,
            {"sector": "public", "agree": "9", "topics": "prices health", "rating": "4", "staff": "12",
             "share": "0.25", "since": "2024-02-29", "comment": "More, faster"},
            consent=True,
        )  # fmt: skip
        await _response(repos, survey, 2, {"sector": "none", "agree": "2", "topics": None}, complete=False)
        await _response(repos, survey, 3, {"sector": "private", "agree": "1", "rating": "1"}, anonymous=True)
        await _response(repos, survey, 4, {"sector": "public", "retired": "old answer"}, version="v0")


async def export_text(database: Database, survey: Survey, fmt: str, tmp_path: Path, **options: object) -> str:
    table = await response_table(database, survey, ExportOptions(**options))  # type: ignore[arg-type]
    path = tmp_path / f"out.{fmt}"
    await write_table(table, fmt, path, labels=bool(options.get("labels")))  # type: ignore[arg-type]
    return path.read_text(encoding="utf-8")


def csv_rows(content: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content)))


async def test_csv_has_kobo_layout_union_of_versions_and_consenting_profile_only(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    content = await export_text(database, survey, "csv", tmp_path)
    frame = pd.read_csv(io.StringIO(content), dtype=str, keep_default_na=False)
    assert list(frame.columns) == [
        "response_id", "respondent", "channel", "language", "started_at", "completed_at", "complete",
        "sector", "agree", "topics", "topics/prices", "topics/labour", "topics/health", "rating", "staff", "share",
        "since", "comment", "retired", "survey_version", "duration_seconds", "user_group", "region",
    ]  # fmt: skip
    assert len(frame) == 3, "the anonymous response is left out by default"
    first, second, old = frame.to_dict("records")
    assert first["respondent"] == PSEUDONYM("telegram", "1")
    assert (first["started_at"], first["completed_at"], first["duration_seconds"]) == (
        "2026-05-04T11:00:00Z", "2026-05-04T11:01:35Z", "95",
    )  # fmt: skip
    assert [first[name] for name in QUESTIONS] == [
        "public", "9", "prices health", "4", "12", "0.25", "2024-02-29", "More, faster",
    ]  # fmt: skip
    assert (first["topics/prices"], first["topics/labour"], first["topics/health"]) == ("1", "0", "1")
    assert (first["user_group"], first["region"], first["survey_version"]) == ("media", "north", survey.version)
    assert (second["complete"], second["completed_at"], second["duration_seconds"]) == ("false", "", "")
    assert second["topics"] == "" and second["topics/prices"] == "", "not answered: empty, not 0"
    assert (second["user_group"], second["region"]) == ("", ""), "no consent: no profile"
    assert (old["survey_version"], old["retired"], old["agree"]) == ("v0", "old answer", "")


async def test_filters_select_by_start_time_completion_and_anonymity(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)

    async def ids(**options: object) -> list[str]:
        rows = csv_rows(await export_text(database, survey, "csv", tmp_path, **options))
        return [row["started_at"][11:13] for row in rows]  # the hour says which response it is

    assert await ids() == ["11", "12", "14"]
    assert await ids(include_anonymous=True) == ["11", "12", "13", "14"]
    assert await ids(complete_only=True) == ["11", "14"]
    assert await ids(since=NOW + timedelta(hours=2), include_anonymous=True) == ["12", "13", "14"]
    assert await ids(until=NOW + timedelta(hours=2)) == ["11"]
    assert await ids(since=NOW + timedelta(hours=2), until=NOW + timedelta(hours=4), include_anonymous=True) == [
        "12", "13",
    ]  # fmt: skip


async def test_labels_in_the_chosen_language_and_multiple_modes(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    (first, *_) = csv_rows(await export_text(database, survey, "csv", tmp_path, labels=True, language="fr"))
    assert (first["sector"], first["agree"], first["topics"]) == ("Secteur public", "Ne sait pas", "Prix; Santé")
    assert first["topics/prices"] == "1", "0/1 columns stay 0/1"
    split = csv_rows(await export_text(database, survey, "csv", tmp_path, multiple="split"))
    assert "topics" not in split[0] and split[0]["topics/health"] == "1"
    joined = csv_rows(await export_text(database, survey, "csv", tmp_path, multiple="joined"))
    assert joined[0]["topics"] == "prices health" and "topics/health" not in joined[0]


async def test_json_lines_hold_typed_values(database: Database, survey: Survey, tmp_path: Path) -> None:
    await seed(database, survey)
    lines = (await export_text(database, survey, "jsonl", tmp_path)).splitlines()
    first, second, _old = (json.loads(line) for line in lines)
    assert {name: first[name] for name in QUESTIONS} == {
        "sector": "public", "agree": "9", "topics": ["prices", "health"], "rating": 4, "staff": 12,
        "share": 0.25, "since": "2024-02-29", "comment": "More, faster",
    }  # fmt: skip
    assert (first["complete"], first["duration_seconds"], first["topics/health"]) == (True, 95, 1)
    assert (second["complete"], second["topics"], second["topics/health"], second["rating"]) == (
        False,
        None,
        None,
        None,
    )
    labelled = json.loads((await export_text(database, survey, "jsonl", tmp_path, labels=True)).splitlines()[0])
    assert (labelled["sector"], labelled["topics"]) == ("Public sector", ["Prices", "Health"])


async def test_excel_opens_in_openpyxl_with_numbers_dates_and_blanks(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    table = await response_table(database, survey, ExportOptions())
    path = tmp_path / "out.xlsx"
    assert await write_table(table, "xlsx", path) == 3
    sheet = openpyxl.load_workbook(path, read_only=True).active
    assert sheet is not None
    header, first, second, _old = ([cell for cell in row] for row in sheet.iter_rows(values_only=True))
    row = dict(zip(header, first, strict=True))
    assert [row[name] for name in QUESTIONS] == [
        "public", "9", "prices health", 4, 12, 0.25, datetime(2024, 2, 29), "More, faster",
    ]  # fmt: skip
    assert (row["started_at"], row["complete"], row["topics/health"]) == (datetime(2026, 5, 4, 11, 0), True, 1)
    blank = dict(zip(header, second, strict=True))
    assert (blank["completed_at"], blank["topics/prices"], blank["rating"]) == (None, None, None)


async def test_excel_refuses_more_rows_than_a_sheet_holds(tmp_path: Path) -> None:
    async def rows() -> object:
        yield ["x"]

    table = Table("big", (Column("a", "a", Kind.TEXT),), rows, total=EXCEL_MAX_ROWS)  # type: ignore[arg-type]
    with pytest.raises(ExcelTooLarge, match="do not fit in one Excel sheet"):
        await write_xlsx(table, tmp_path / "big.xlsx")
    assert not (tmp_path / "big.xlsx").exists()


@pytest.fixture(params=["one block", "blocks of two rows"])
def blocks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """SPSS and Stata files are written in blocks joined together: once with all rows in one
    block, once with blocks of two rows (read one row at a time), so that joining is proven."""
    if request.param == "blocks of two rows":
        monkeypatch.setattr(stats, "BATCH_ROWS", 1)
        monkeypatch.setattr(stats, "CHUNK_ROWS", 2)


@pytest.mark.usefixtures("blocks")
async def test_spss_file_has_variable_labels_value_labels_and_missing_values(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    table = await response_table(database, survey, ExportOptions(language="fr"))
    path = tmp_path / "out.sav"
    assert await write_table(table, "sav", path) == 3
    frame, meta = pyreadstat.read_sav(str(path))
    labels = meta.column_names_to_labels
    assert (labels["sector"], labels["topics_health"], labels["comment"]) == ("Secteur", "Thèmes: Santé", "Commentaire")
    values = meta.variable_value_labels
    assert values["sector"] == {1: "Secteur public", 2: "Secteur privé", 3: "Aucun"}
    assert values["agree"] == {1: "Pas d'accord", 2: "D'accord", 9: "Ne sait pas"}, "numeric choice names are the codes"
    assert values["rating"] == {1: "1", 2: "2", 3: "3", 4: "4", 5: "5"}
    assert values["complete"] == {0: "false", 1: "true"}
    first, second, old = frame.to_dict("records")
    assert (first["sector"], first["agree"], first["rating"], first["staff"], first["share"]) == (1, 9, 4, 12, 0.25)
    assert (first["topics_prices"], first["topics_labour"], first["topics_health"]) == (1, 0, 1)
    assert first["since"] == date(2024, 2, 29) and first["started_at"] == datetime(2026, 5, 4, 11, 0)
    assert first["comment"] == "More, faster" and first["topics"] == "prices health"
    assert (
        math.isnan(second["topics_prices"]) and math.isnan(second["rating"]) and math.isnan(second["duration_seconds"])
    )
    assert (second["sector"], second["complete"]) == (3, 0)
    assert old["retired"] == "old answer" and math.isnan(old["agree"])
    assert "sav: the 3 choice columns question/choice are named question_choice" in table.notes


@pytest.mark.usefixtures("blocks")
async def test_stata_file_has_labels_truncated_to_80_characters_and_missing_values(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    table = await response_table(database, survey, ExportOptions())
    path = tmp_path / "out.dta"
    assert await write_table(table, "dta", path) == 3
    frame, meta = pyreadstat.read_dta(str(path))
    assert meta.column_names_to_labels["comment"] == LONG_LABEL[:79] + "…"
    assert "dta: the label of comment was truncated to 80 characters" in table.notes
    assert meta.variable_value_labels["sector"] == {1: "Public sector", 2: "Private sector", 3: "No sector"}
    first, second, _old = frame.to_dict("records")
    assert (first["sector"], first["agree"], first["topics_health"], first["share"]) == (1, 9, 1, 0.25)
    assert first["since"] == date(2024, 2, 29)
    assert math.isnan(second["topics_health"]) and math.isnan(second["staff"])


async def test_codebook_lists_every_question_with_languages_rules_codes_and_counts(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    options = ExportOptions(include_anonymous=True)
    markdown = tmp_path / "codebook.md"
    await write_codebook(database, survey, options, markdown)
    content = markdown.read_text(encoding="utf-8")
    for question in survey.data_questions:
        assert f"### `{question.name}`" in content
    assert "- **fr**: Secteur" in content and "- Relevant: `${sector} != 'none'`" in content
    assert "- Constraint: `. < 1000`" in content
    assert "| 9 | `9` | Don't know | Ne sait pas | 1 |" in content
    assert "| 1 | `public` | Public sector | Secteur public | 2 |" in content
    assert "| topics/health | `health` | Health | Santé | 1 |" in content
    assert "4 response(s) in the export" in content and "`retired` (text): answered 1 time(s)" in content
    path = tmp_path / "codebook.csv"
    await write_codebook(database, survey, options, path)
    rows = csv_rows(path.read_text(encoding="utf-8"))
    sector = [row for row in rows if row["question"] == "sector"]
    assert [(r["choice_code"], r["choice_name"], r["choice_label_fr"], r["count"]) for r in sector] == [
        ("", "", "", "4"), ("1", "public", "Secteur public", "2"), ("2", "private", "Secteur privé", "1"),
        ("3", "none", "Aucun", "1"),
    ]  # fmt: skip
    assert sector[0]["label_en"] == "Sector" and sector[0]["type"] == "select_one"
    staff = next(row for row in rows if row["variable"] == "staff")
    assert (staff["constraint"], staff["count"], staff["type"]) == (". < 1000", "1", "integer (min 0)")


async def _other_tables(database: Database) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        consenting = await repos.contacts.touch("telegram", "501", "501", "en", NOW)
        await repos.contacts.give_consent(consenting.id, NOW)
        await repos.contacts.set_field(consenting.id, "region", "north")
        await repos.contacts.touch("telegram", "502", "502", "en", NOW)  # never consented
        statements = [
            ("INSERT INTO broadcasts (id, title, notice, audience, status, created_by, created_at, send_at, recipients) "
             "VALUES (7, 'CPI May', '{}', '{}', 'done', 'admin', :now, :now, 1)"),
            ("INSERT INTO deliveries (broadcast_id, contact_id, channel, chat_key, language, status, attempts, sent_at) "
             "VALUES (7, :id, 'telegram', '501', 'en', 'sent', 1, :now)"),
            ("INSERT INTO feedback (contact_id, channel, kind, broadcast_id, text, received_at, status) "
             "VALUES (:id, 'telegram', 'reply', 7, 'Thanks!', :now, 'new')"),
            ("INSERT INTO data_requests (id, contact_id, channel, language, user_group, source, text, status, "
             "created_at, updated_at) VALUES (3, :id, 'telegram', 'en', 'media', 'chat', 'Rents by district', 'open', :now, :now)"),
            ("INSERT INTO data_request_messages (request_id, author, staff, text, created_at) "
             "VALUES (3, 'staff', 'ana', 'We are on it', :now)"),
            ("INSERT INTO indicator_ratings (contact_id, indicator_code, series_key, useful, rated_at) "
             "VALUES (:id, 'CPI', 'CPI.A', 1, :now)"),
        ]  # fmt: skip
        for statement in statements:
            await connection.execute(text(statement), {"id": consenting.id, "now": NOW})


async def test_other_tables_export_with_pseudonyms_and_consenting_contacts_only(
    database: Database, tmp_path: Path
) -> None:
    await _other_tables(database)
    person = PSEUDONYM("telegram", "501")

    async def rows(name: str, fmt: str = "csv") -> list[dict[str, object]]:
        table = await table_export(name, database, PSEUDONYM)
        path = tmp_path / f"{name}.{fmt}"
        await write_table(table, fmt, path)  # type: ignore[arg-type]
        if fmt == "jsonl":
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return csv_rows(path.read_text(encoding="utf-8"))  # type: ignore[return-value]

    (request,) = await rows("data-requests", "jsonl")
    assert (request["person"], request["request_id"], request["text"], request["closed_at"]) == (
        person, 3, "Rents by district", None,
    )  # fmt: skip
    (message,) = await rows("data-request-messages")
    assert (message["request_id"], message["staff"], message["text"]) == ("3", "ana", "We are on it")
    (reply,) = await rows("feedback")
    assert (reply["person"], reply["broadcast_id"], reply["text"]) == (person, "7", "Thanks!")
    (delivery,) = await rows("deliveries")
    assert (delivery["broadcast_title"], delivery["status"], delivery["sent_at"]) == (
        "CPI May",
        "sent",
        "2026-05-04T10:00:00Z",
    )
    assert "501" not in delivery.values(), "no chat id"
    (rating,) = await rows("indicator-ratings", "jsonl")
    assert (rating["person"], rating["indicator_code"], rating["useful"]) == (person, "CPI", True)
    (contact,) = await rows("contacts")
    assert (contact["pseudonym"], contact["region"]) == (person, "north")


@pytest.mark.slow  # runs the export command as a new process
async def test_command_writes_the_file_atomically_with_its_codebook(
    database: Database, database_url: str, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "exp.yaml").write_text(SURVEY, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: '{database_url}'}}\nsurveys: {{directory: '{forms}'}}\n"
        f"privacy: {{key_file: '{tmp_path / 'baraza.keys'}'}}\n",
        encoding="utf-8",
    )
    output, codebook = tmp_path / "exp.sav", tmp_path / "exp.md"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "--config", str(config), "export", "exp", "--output", str(output),
        "--complete-only", "--include-anonymous", "--codebook", str(codebook),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert "exported 3 response(s) of 'exp'" in stderr.decode()
    assert "note: sav: the 3 choice columns question/choice are named question_choice" in stderr.decode()
    frame, _ = pyreadstat.read_sav(str(output))
    assert len(frame) == 3 and "### `sector`" in codebook.read_text(encoding="utf-8")
    assert not list(tmp_path.glob("*.part")), "no partial file is left behind"  # noqa: ASYNC240
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "--config", str(config), "export", "--table", "contacts",
        "--format", "xlsx", "--output", str(tmp_path / "contacts.xlsx"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    assert process.returncode == 0 and "exported 1 row(s) of contacts" in stderr.decode(), stderr.decode()


async def test_an_export_in_progress_does_not_block_the_bots_writes(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    table = await response_table(database, survey, ExportOptions(include_anonymous=True))
    rows = table.rows()
    first = await anext(rows)  # the export holds its reading connection open
    async with database.transaction() as connection:
        await Repositories(connection).contacts.touch("telegram", "999", "999", "en", NOW)
    rest = [row async for row in rows]
    assert first[0] is not None and len(rest) == 3, "the export reads the snapshot it started with"


async def test_stata_text_longer_than_2044_bytes_is_written_whole(
    database: Database, survey: Survey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats, "BATCH_ROWS", 1)
    monkeypatch.setattr(stats, "CHUNK_ROWS", 2)
    await seed(database, survey)
    long_comment = "é" * 3000
    async with database.transaction() as connection:
        await connection.execute(text("UPDATE answers SET value = :v WHERE question = 'comment'"), {"v": long_comment})
    table = await response_table(database, survey, ExportOptions())
    path = tmp_path / "long.dta"
    assert await write_table(table, "dta", path) == 3
    frame, _ = pyreadstat.read_dta(str(path))
    assert list(frame["comment"]) == [long_comment, "", ""]
    assert list(frame["sector"]) == [1, 3, 1]


def test_progress_bar_shows_share_and_rows_and_ends_the_line() -> None:
    from bot.cli.export import ProgressBar

    out = io.StringIO()
    bar = ProgressBar(1000, out)
    bar(250)
    bar(1000)
    bar.close()
    assert out.getvalue().endswith("[##############################] 100% 1,000/1,000 rows\n")
    assert "\r[#######                       ]  25% 250/1,000 rows" in out.getvalue()


async def test_a_survey_declared_anonymous_exports_all_its_responses(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "anon.yaml"
    path.write_text(SURVEY.replace("id: exp", "id: anon\nanonymous: true"), encoding="utf-8")
    survey = load_survey_file(path)
    async with database.transaction() as connection:
        repos = Repositories(connection)
        await _response(repos, survey, 1, {"sector": "public"}, anonymous=True)
        await _response(repos, survey, 2, {"sector": "none"}, anonymous=True)
    rows = csv_rows(await export_text(database, survey, "csv", tmp_path))
    assert [(row["respondent"], row["sector"]) for row in rows] == [("", "public"), ("", "none")]


async def test_excel_with_labels_holds_choice_labels(database: Database, survey: Survey, tmp_path: Path) -> None:
    await seed(database, survey)
    table = await response_table(database, survey, ExportOptions(labels=True, language="fr"))
    path = tmp_path / "labels.xlsx"
    await write_table(table, "xlsx", path, labels=True)
    sheet = openpyxl.load_workbook(path, read_only=True).active
    assert sheet is not None
    header, first, *_ = sheet.iter_rows(values_only=True)
    row = dict(zip(header, first, strict=True))
    assert (row["sector"], row["agree"], row["topics"]) == ("Secteur public", "Ne sait pas", "Prix; Santé")


async def test_csv_keeps_an_answer_holding_a_carriage_return_in_its_field(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await seed(database, survey)
    typed = "first line\rsecond line"
    async with database.transaction() as connection:
        await connection.execute(text("UPDATE answers SET value = :v WHERE question = 'comment'"), {"v": typed})
    table = await response_table(database, survey, ExportOptions())
    path = tmp_path / "cr.csv"
    await write_table(table, "csv", path)
    with path.open(encoding="utf-8", newline="") as exported:
        rows = list(csv.DictReader(exported))
    assert [row["comment"] for row in rows] == [typed, "", ""]
