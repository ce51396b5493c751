"""``baraza survey invite WAVE --panel-members`` as an office runs it (real SQLite database): the
people who took part in the previous wave, completely or partially, are the wave's sample."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.database import Database
from storage.repositories import Repositories
from testkit.databases import copy_migrated_sqlite
from testkit.panel_waves import write_waves
from testkit.register import Person, add_people

KEY = "panel-cli-pseudonym-key-0123456789"
NOW = datetime.now(UTC)
PEOPLE = [Person(700 + i, "en", "public", "north") for i in range(8)]
#: What people 0-3 answered in wave 1 (3 questions: 2 answers make a partial interview).
WAVE_1 = {
    0: ({"employed": "yes", "income": "100", "sector": "trade"}, True),  # complete
    1: ({"employed": "no"}, True),  # complete (the other two questions were not relevant)
    2: ({"employed": "yes", "income": "70"}, False),  # partial
    3: ({"employed": "yes"}, False),  # break-off
}


@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_waves(tmp_path / "forms")
    url = f"sqlite+aiosqlite:///{tmp_path / 'baraza.db'}"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: '{url}'}}\nsurveys: {{directory: {tmp_path / 'forms'}}}\n"
        "fieldwork: {time_zone: Africa/Nairobi, quiet_hours: none, reminders_every_minutes: 0}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("BARAZA_PSEUDONYM_KEY", KEY)

    async def wave_one() -> None:
        database = Database(await copy_migrated_sqlite(tmp_path / "baraza.db"))
        await add_people(database, PEOPLE)
        async with database.transaction() as connection:
            repos = Repositories(connection)
            for index, (answers, complete) in WAVE_1.items():
                key = str(PEOPLE[index].user_id)
                contact = await repos.contacts.touch("telegram", key, key, "en", NOW)
                response_id = await repos.responses.create(
                    survey_id="lfs2026w1",
                    survey_version="1",
                    contact=contact,
                    respondent=f"p{index}",
                    language="en",
                    now=NOW,
                )
                for name, value in answers.items():
                    await repos.responses.record_answer(response_id, name, value, NOW)
                if complete:
                    await repos.responses.complete(response_id, NOW)
        await database.dispose()

    asyncio.run(wave_one())
    return config


def test_the_wave_invites_who_completed_or_partly_answered_the_previous_wave(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(office), "survey", "invite", "lfs2026w2", "--panel-members", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "panel: 3 member(s) took part in the previous wave" in out
    assert "lfs2026w2 wave 1: 3 would be invited" in out
    assert main(["--config", str(office), "survey", "invite", "lfs2026w2", "--panel-members"]) == 0
    assert "lfs2026w2 wave 1: 3 invited (broadcast 1)" in capsys.readouterr().out
    assert main(["--config", str(office), "survey", "invite", "lfs2026w2", "--panel-members"]) == 0
    assert "0 would be invited" in capsys.readouterr().out, "nobody twice"


def test_the_first_wave_has_no_panel_to_invite(office: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(office), "survey", "invite", "lfs2026w1", "--panel-members"]) == 1
    assert "is the first wave of panel 'lfs_panel'" in capsys.readouterr().err


def test_export_panel_writes_every_wave_in_one_long_table(
    office: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "long.csv"
    assert main(["--config", str(office), "export", "--panel", "lfs_panel", "--output", str(out)]) == 0
    assert "exported 4 response(s) of the 2 wave(s) of panel 'lfs_panel'" in capsys.readouterr().err
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((row["respondent"], row["panel"], row["wave"], row["employed"]) for row in rows) == [
        ("p0", "lfs_panel", "1", "yes"),
        ("p1", "lfs_panel", "1", "no"),
        ("p2", "lfs_panel", "1", "yes"),
        ("p3", "lfs_panel", "1", "yes"),
    ]
    assert "income_change" in rows[0], "wave 2's questions are columns too"
    assert main(["--config", str(office), "export", "--panel", "nosuch", "--output", str(out)]) == 1
    assert "no survey in" in capsys.readouterr().err
