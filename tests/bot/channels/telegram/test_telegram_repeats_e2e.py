"""End to end over Telegram with repeats: the real python-telegram-bot Application against the
fake Bot API answers a household survey (three members, "Add another?", /back across a pass, a
counted repeat of children), then the export holds the responses table and one table per repeat
linked by key, in CSV, Excel, SPSS and Stata."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pyreadstat

from storage.database import Database
from storage.exports import ExportOptions
from storage.exports.files import export_responses, repeat_file
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.telegram import FakeTelegramServer
from testkit.fakes.telegram.model import ChatMessage
from testkit.household import household_survey, write_household
from testkit.telegram_harness import bot_in_process

EVERYTHING = ExportOptions(multiple="joined", include_anonymous=True)


def _last(replies: list[ChatMessage]) -> str:
    return replies[-1].text or ""


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


async def test_household_with_three_members_is_answered_and_exported_as_linked_tables(
    server: FakeTelegramServer, tmp_path: Path
) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    write_household(forms)
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with bot_in_process(server, url, forms=forms):
        user = server.user(4242, language_code="en")
        await user.send_text_and_wait("/survey household")
        await user.send_text_and_wait("Kisumu")
        await user.send_text_and_wait("Amina")
        await user.send_text_and_wait("42")
        replies = await user.press_and_wait("Works")
        assert replies[-1].text == "Add another household member?"
        replies = await user.press_and_wait("Yes")
        assert "household member 2 › Name of the member?" in _last(replies)
        replies = await user.send_text_and_wait("/back")  # across the pass: pass 1's last question
        assert "household member 1 › Does this member work?" in _last(replies)
        replies = await user.press_and_wait("Does not work")
        assert "household member 2 › Name of the member?" in _last(replies)
        await user.send_text_and_wait("Baraka")
        replies = await user.send_text_and_wait("9")
        assert replies[-1].text == "Add another household member?"
        await user.press_and_wait("Yes")
        await user.send_text_and_wait("Chausiku")
        await user.send_text_and_wait("70")
        await user.press_and_wait("Works")
        replies = await user.press_and_wait("No")
        assert "How many children go to school?" in _last(replies)
        await user.send_text_and_wait("2")
        await user.send_text_and_wait("Uhuru Primary")
        await user.send_text_and_wait("Jomo Secondary")
        replies = await user.send_text_and_wait("4")
        assert replies[-1].text == "Send /start to see other surveys."

    survey = household_survey()
    database = Database(url)
    try:
        for fmt in ("csv", "xlsx", "sav", "dta"):
            exported = await export_responses(database, survey, EVERYTHING, fmt, tmp_path / f"answers.{fmt}")
            assert exported.rows == 1
            assert [(name, rows) for name, rows, _ in exported.tables] == [("member", 3), ("child", 2)]
    finally:
        await database.dispose()

    # CSV: one file per table, beside the responses file.
    (household,) = _csv(tmp_path / "answers.csv")
    members = _csv(repeat_file(tmp_path / "answers.csv", "member"))
    children = _csv(tmp_path / "answers-child.csv")
    assert household["village"] == "Kisumu" and household["rooms"] == "4" and household["_index"] == "1"
    assert household["members"] == "3" and household["total_age"] == "121" and household["first_member"] == "Amina"
    assert "member_name" not in household and "school" not in household
    assert [(m["_index"], m["member_name"], m["age"], m["works"], m["member_no"]) for m in members] == [
        ("1", "Amina", "42", "2", "1"),
        ("2", "Baraka", "9", "", "2"),
        ("3", "Chausiku", "70", "1", "3"),
    ]
    for row in [*members, *children]:
        assert row["_parent_index"] == household["_index"] and row["_parent_table_name"] == "household"
        assert row["response_id"] == household["response_id"] and row["respondent"] == household["respondent"]
        assert row["respondent"] and row["respondent"] != "4242", "pseudonyms, never the Telegram id"
    assert [c["school"] for c in children] == ["Uhuru Primary", "Jomo Secondary"]

    # Excel: one sheet per table.
    workbook = openpyxl.load_workbook(tmp_path / "answers.xlsx", read_only=True)
    assert workbook.sheetnames == ["household", "member", "child"]
    sheet_rows = {name: list(workbook[name].iter_rows(values_only=True)) for name in workbook.sheetnames}
    parent_header, parent_row = sheet_rows["household"]
    member_header, *member_rows = sheet_rows["member"]
    response_id = parent_row[parent_header.index("response_id")]
    assert [r[member_header.index("member_name")] for r in member_rows] == ["Amina", "Baraka", "Chausiku"]
    assert {r[member_header.index("response_id")] for r in member_rows} == {response_id}
    assert {r[member_header.index("_parent_index")] for r in member_rows} == {parent_row[parent_header.index("_index")]}

    # SPSS and Stata: separate files; _index and _parent_index become v_index and v_parent_index.
    for suffix in ("sav", "dta"):
        read = pyreadstat.read_sav if suffix == "sav" else pyreadstat.read_dta
        parent, _ = read(str(tmp_path / f"answers.{suffix}"))
        member, meta = read(str(tmp_path / f"answers-member.{suffix}"))
        child, _ = read(str(tmp_path / f"answers-child.{suffix}"))
        assert list(member["member_name"]) == ["Amina", "Baraka", "Chausiku"]
        assert list(member["age"]) == [42, 9, 70]
        assert set(member["v_parent_index"]) == set(parent["v_index"]) == {1}
        assert set(member["response_id"]) == set(child["response_id"]) == set(parent["response_id"])
        assert list(child["v_index"]) == [1, 2]
        labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
        assert labels["member_name"] == "Name of the member?"
