"""Quotas on the command line: ``baraza survey report`` prints each cell's target, completes and
responses in progress; ``baraza survey invite --open-cells`` leaves out the people of full cells."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.database import Database
from testkit.databases import copy_migrated_sqlite
from testkit.quotas import add_quota_responses
from testkit.register import Person, add_people

FORM = """id: qf
title: Household conditions
quotas:
  - {by: region, targets: {north: 2, south: 10}}
questions:
  - {type: integer, name: q1, label: "Rooms in the household"}
"""
BY_QUESTION = """id: qq
title: By a question
quotas:
  - {by: rooms, targets: {'1': 5}}
questions:
  - {type: select_one, name: rooms, label: Rooms, choices: [{name: '1', label: One}, {name: '2', label: Two}]}
"""
NOW = datetime.now(UTC)
#: Two completes in the north (its target), one complete and one in progress in the south.
CELLS = [
    ("region", ("north",), True),
    ("region", ("north",), True),
    ("region", ("south",), True),
    ("region", ("south",), False),
]
PEOPLE = [Person(700 + i, "en", "public", "north" if i % 2 else "south") for i in range(30)]


@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "qf.yaml").write_text(FORM, encoding="utf-8")
    (forms / "qq.yaml").write_text(BY_QUESTION, encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path / 'baraza.db'}"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: '{url}'}}\nsurveys: {{directory: {forms}}}\n"
        "fieldwork: {time_zone: UTC, quiet_hours: none, reminders_every_minutes: 0}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("BARAZA_PSEUDONYM_KEY", "quota-cli-pseudonym-key-0123456789")

    async def register() -> None:
        database = Database(await copy_migrated_sqlite(tmp_path / "baraza.db"))
        await add_people(database, PEOPLE)
        await add_quota_responses(database, "qf", CELLS, NOW)
        await database.dispose()

    asyncio.run(register())
    return config


def test_the_report_prints_each_cell_and_invitations_steer_to_open_cells(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(office), "survey", "report", "qf"]) == 0
    report = capsys.readouterr().out
    lines = [line.split() for line in report.splitlines()]
    assert ["region", "north", "2", "2", "0", "full"] in lines
    assert ["region", "south", "10", "1", "1", "open"] in lines

    assert main(["--config", str(office), "survey", "invite", "qf", "--open-cells", "--dry-run"]) == 0
    steered = capsys.readouterr().out
    assert "left out: 15 contact(s) whose quota cell is full" in steered
    assert "qf wave 1: 15 would be invited" in steered

    assert main(["--config", str(office), "survey", "invite", "qf", "--open-cells"]) == 0
    assert "qf wave 1: 15 invited" in capsys.readouterr().out


def test_cells_defined_by_a_question_cannot_steer_invitations(office: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(office), "survey", "invite", "qq", "--open-cells", "--dry-run"]) == 1
    assert "has no quota by contact fields only" in capsys.readouterr().err
