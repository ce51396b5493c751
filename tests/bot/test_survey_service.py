"""The surveys in service follow the surveys folder (bot/survey_service.py): a new file is served,
a changed one replaces its survey, a broken edit keeps the version in service and logs its
FILE:LINE problems once, a removed file withdraws its survey, and the set is swapped whole."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.engine import Engine, load_pseudonymizer
from bot.survey_service import SurveysInService, surveys_now
from storage.database import Database
from storage.models import ResponseRow
from storage.repositories import Repositories
from surveys.loader import load_survey_directory
from testkit.fakes.engine_user import EngineUser


def form(survey_id: str, label: str = "Your name?") -> str:
    return (
        f"id: {survey_id}\ntitle: {survey_id.title()}\nquestions:\n  - {{type: text, name: name, label: '{label}'}}\n"
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "first.yaml").write_text(form("first"))
    return tmp_path


def service(folder: Path) -> SurveysInService:
    return SurveysInService(folder, load_survey_directory(folder))


def problems_logged(caplog: pytest.LogCaptureFixture, path: Path) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.getMessage().startswith(f"{path}:")
    ]


def test_nothing_changes_while_the_folder_does_not(folder: Path) -> None:
    surveys = service(folder)
    before = surveys.current
    assert not surveys.refresh() and not surveys.refresh()
    assert surveys.current is before and list(surveys) == ["first"]


def test_a_new_file_is_served_and_a_changed_one_replaces_its_survey(folder: Path) -> None:
    surveys = service(folder)
    old = surveys.current
    (folder / "second.yaml").write_text(form("second"))
    assert surveys.refresh()
    assert sorted(surveys) == ["first", "second"]
    assert sorted(old) == ["first"], "a set handed out before never changes"
    version = surveys["first"].version
    (folder / "first.yaml").write_text(form("first", "Your full name?"))
    assert surveys.refresh()
    assert surveys["first"].version != version
    assert surveys["first"].question("name").label.in_language("en", "en") == "Your full name?"


def test_a_broken_edit_keeps_the_version_in_service_and_logs_its_lines_once(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    surveys = service(folder)
    served = surveys["first"]
    path = folder / "first.yaml"
    path.write_text(form("first") + "  - {type: integer, name: age, label: Age, constraint: '. >'}\n")
    with caplog.at_level(logging.INFO):
        surveys.refresh()
        surveys.refresh()  # the same broken content: nothing new to say
    assert surveys["first"] is served
    lines = problems_logged(caplog, path)
    assert len(lines) == 2, lines  # the problem with its line, and what stays in service
    assert lines[0].startswith(f"{path}:5:") and "constraint" in lines[0]
    assert "stays in service" in lines[1] and served.version in lines[1]
    caplog.clear()
    path.write_text(form("first", "Fixed?"))
    assert surveys.refresh()
    assert surveys["first"].question("name").label.in_language("en", "en") == "Fixed?"
    assert not problems_logged(caplog, path)


def test_a_broken_new_file_is_not_served_and_said_so(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    surveys = service(folder)
    path = folder / "bad.yaml"
    path.write_text("id: bad\ntitle: [unclosed\n")
    with caplog.at_level(logging.INFO):
        surveys.refresh()
    assert sorted(surveys) == ["first"]
    assert problems_logged(caplog, path)[0].startswith(f"{path}:")


def test_a_removed_file_withdraws_its_survey_and_a_duplicate_id_is_refused(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    surveys = service(folder)
    with caplog.at_level(logging.INFO):
        (folder / "zz_copy.yaml").write_text(form("first", "Copy?"))
        surveys.refresh()
    assert surveys["first"].question("name").label.in_language("en", "en") == "Your name?"
    assert "also used by" in " ".join(problems_logged(caplog, folder / "zz_copy.yaml"))
    (folder / "first.yaml").unlink()
    (folder / "zz_copy.yaml").unlink()
    assert surveys.refresh()
    assert len(surveys) == 0


def test_an_update_reads_one_set_and_a_plain_mapping_is_its_own_set(folder: Path) -> None:
    surveys = service(folder)
    assert surveys_now(surveys) is surveys.current
    plain = dict(surveys)
    assert surveys_now(plain) is plain


async def test_the_running_service_follows_the_folder_by_itself(folder: Path) -> None:
    surveys = SurveysInService(folder, load_survey_directory(folder), poll_seconds=0.05)
    await surveys.start()
    try:
        (folder / "second.yaml").write_text(form("second"))
        for _ in range(100):
            surveys.looked.clear()
            await surveys.looked.wait()
            if "second" in surveys:
                break
        assert "second" in surveys
    finally:
        await surveys.stop()


V2 = """\
id: first
title: First
questions:
  - {type: text, name: name, label: 'Your name?'}
  - {type: integer, name: age_years, label: 'How old is ${name} in years?'}
"""


async def test_a_response_started_on_the_old_version_goes_on_in_the_new_one(folder: Path, database: Database) -> None:
    (folder / "first.yaml").write_text(form("first") + "  - {type: integer, name: age, label: 'Age of ${name}?'}\n")
    surveys = service(folder)
    old_version = surveys["first"].version
    engine = Engine(database, surveys, await load_pseudonymizer(database, "test-pseudonym-key-0123456789"))
    user = EngineUser(engine, "switcher")
    await user.say("/survey first")
    replies = await user.say("Amina")
    assert replies[-1].text == "2/2 · Age of Amina?"
    (folder / "first.yaml").write_text(V2)
    assert surveys.refresh() and surveys["first"].version != old_version
    # The question asked went away: the person goes on at the new version's next question.
    replies = await user.say("30")
    assert replies[-1].text == "2/2 · How old is Amina in years?"
    replies = await user.say("31")
    assert "/start" in replies[-1].text
    async with database.transaction() as connection:
        repos = Repositories(connection)
        contact = await repos.contacts.touch("test", "switcher", "switcher", "en", datetime.now(UTC))
        latest = await repos.responses.latest_for(contact.id, "first")
        assert latest is not None and latest.complete
        assert dict(await repos.responses.answers(latest.id)) == {"name": "Amina", "age_years": "31"}
    assert await stored_version(database, latest.id) == old_version, "the response keeps the version it began in"


async def stored_version(database: Database, response_id: str) -> str:
    async with database.reading() as connection:
        return str(
            (
                await connection.execute(select(ResponseRow.survey_version).where(ResponseRow.id == response_id))
            ).scalar_one()
        )
