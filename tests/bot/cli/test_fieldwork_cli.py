"""``baraza survey invite``, ``remind`` and ``report`` as an office runs them (real SQLite database)."""

from __future__ import annotations

import asyncio
import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.database import Database
from storage.pseudonyms import Pseudonymizer
from storage.repositories import Repositories
from surveys.loader import load_survey_text
from testkit.databases import copy_migrated_sqlite
from testkit.experiments import NOTICED_TRIAL_YAML
from testkit.register import Person, add_people

KEY = "fieldwork-cli-pseudonym-key-0123456789"
FORM = """id: fw
title: Household conditions
reminders:
  - {after: 2d, text: "Our short survey is still open."}
questions:
  - {type: integer, name: q1, label: "Rooms in the household"}
"""
NOW = datetime.now(UTC)
PEOPLE = [Person(500 + i, "en", "media" if i < 6 else "public", "north" if i % 2 else "south") for i in range(30)]


@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "fw.yaml").write_text(FORM, encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path / 'baraza.db'}"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: '{url}'}}\nsurveys: {{directory: {forms}}}\n"
        "fieldwork: {time_zone: Africa/Nairobi, quiet_hours: none, reminders_every_minutes: 0}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("BARAZA_PSEUDONYM_KEY", KEY)

    async def register() -> None:
        database = Database(await copy_migrated_sqlite(tmp_path / "baraza.db"))
        await add_people(database, PEOPLE)
        await database.dispose()

    asyncio.run(register())
    return config


def run(config: Path, *arguments: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["--config", str(config), "survey", *arguments]) == 0
    return capsys.readouterr().out


def test_invite_a_repeatable_sample_a_segment_and_a_list_then_report(
    office: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dry = ("invite", "fw", "--sample", "10", "--stratify-by", "region", "--seed", "3", "--dry-run")
    first = run(office, *dry, capsys=capsys)
    assert "fw wave 1: 10 would be invited; by stratum: north: 5, south: 5" in first
    assert run(office, *dry, capsys=capsys) == first, "the same seed, the same sample"

    media = run(office, "invite", "fw", "--groups", "media", capsys=capsys)
    assert "fw wave 1: 6 invited (broadcast 1)" in media
    again = run(office, "invite", "fw", "--groups", "media", capsys=capsys)
    assert "fw wave 1: 0 would be invited" in again, "nobody is invited twice to a wave"

    pseudonymize = Pseudonymizer(KEY)
    listed = tmp_path / "panel.csv"
    listed.write_text(
        "respondent\n" + "\n".join(pseudonymize("telegram", str(p.user_id)) for p in PEOPLE[10:13]) + "\nunknown1\n"
    )
    from_list = run(office, "invite", "fw", "--wave", "2", "--pseudonyms", str(listed), capsys=capsys)
    assert "fw wave 2: 3 invited (broadcast 2)" in from_list

    assert "survey fw: no reminder due" in run(office, "remind", "fw", capsys=capsys)

    export = tmp_path / "dispositions.csv"
    report = run(office, "report", "fw", "--export", str(export), capsys=capsys)
    assert "survey fw: AAPOR final dispositions and outcome rates" in report
    assert "9 invitation(s) written" in report
    with export.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Nothing was sent yet (no 'baraza run'): every invitation is still "not delivered".
    assert {row["disposition"] for row in rows} == {"not delivered"}
    assert {row["aapor_code"] for row in rows} == {"3.30"}
    assert {row["wave"] for row in rows} == {"1", "2"}
    assert {row["respondent"] for row in rows if row["wave"] == "2"} == {
        pseudonymize("telegram", str(p.user_id)) for p in PEOPLE[10:13]
    }
    assert set(rows[0]) >= {"invited_at", "first_opened_at", "channel", "reminders_received", "duration_seconds"}


def test_an_unknown_survey_or_field_is_refused(office: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(office), "survey", "invite", "nosuch"]) == 1
    assert "there is no survey 'nosuch'" in capsys.readouterr().out
    bad = office.parent / "bad.yaml"
    bad.write_text(office.read_text().replace("Africa/Nairobi", "Mars/Olympus"))
    assert main(["--config", str(bad), "survey", "report", "fw"]) == 2
    assert "is not a time zone" in capsys.readouterr().err


def test_export_carries_the_dispositions_of_invited_respondents(
    office: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``baraza export``: the invited respondent's row has its disposition, the other's is empty."""
    assert "6 invited" in run(office, "invite", "fw", "--groups", "media", capsys=capsys)

    async def answer() -> None:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'baraza.db'}")
        survey = load_survey_text(FORM, "fw.yaml")
        async with database.transaction() as connection:
            repos = Repositories(connection)
            for person in (PEOPLE[0], PEOPLE[10]):  # invited (media), not invited (public)
                contact = await repos.contacts.touch("telegram", str(person.user_id), str(person.user_id), "en", NOW)
                response_id = await repos.responses.create(
                    survey_id="fw",
                    survey_version=survey.version,
                    contact=contact,
                    respondent=Pseudonymizer(KEY)("telegram", str(person.user_id)),
                    language="en",
                    now=NOW,
                    channel="telegram",
                )
                await repos.responses.record_answer(response_id, "q1", "3", NOW)
                await repos.responses.complete(response_id, NOW + timedelta(seconds=40))
        await database.dispose()

    asyncio.run(answer())
    out, codebook = tmp_path / "fw.csv", tmp_path / "fw-codebook.md"
    assert main(["--config", str(office), "export", "fw", "--output", str(out), "--codebook", str(codebook)]) == 0
    with out.open(encoding="utf-8") as handle:
        rows = {row["respondent"]: row for row in csv.DictReader(handle)}
    invited = rows[Pseudonymizer(KEY)("telegram", str(PEOPLE[0].user_id))]
    outsider = rows[Pseudonymizer(KEY)("telegram", str(PEOPLE[10].user_id))]
    assert (invited["disposition"], invited["aapor_code"], invited["invitation_wave"]) == ("complete", "1.1", "1")
    assert outsider["disposition"] == outsider["aapor_code"] == outsider["invited_at"] == ""
    assert "| `reminders_received` | integer |" in codebook.read_text(encoding="utf-8")


def test_invite_dry_run_gives_the_split_by_arm_and_the_round_prints_every_broadcast(
    office: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "forms" / "trial.yaml").write_text(NOTICED_TRIAL_YAML, encoding="utf-8")
    dry = run(office, "invite", "trial", "--sample", "9", "--seed", "2", "--dry-run", capsys=capsys)
    split = next(line for line in dry.splitlines() if line.startswith("by experiment arm: "))
    arms = dict(re.findall(r"(\w+): (\d+)", split))
    assert sorted(arms) == ["a", "b"] and sum(map(int, arms.values())) == 9
    sent = run(office, "invite", "trial", "--sample", "9", "--seed", "2", capsys=capsys)
    assert "trial wave 1: 9 invited (broadcast 1, 2)" in sent
    assert split in sent, "the round is split as its dry run said"
    assert f"  broadcast 1: {arms['a']} (shared notice)" in sent
    assert f"  broadcast 2: {arms['b']} (arm b)" in sent
