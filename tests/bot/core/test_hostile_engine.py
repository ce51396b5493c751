"""Hostile commands, numbers and presses at the engine (SQLite and PostgreSQL): each gets a
normal answer, never the "try again" of a failed update, and admin commands are refused to
everyone else."""

from __future__ import annotations

import logging

import pytest

from bot.core.engine import Engine
from handlers.context import Community
from storage.database import Database
from surveys.model import Survey
from testkit.fakes.db_rows import row_counts
from testkit.fakes.engine_user import EngineUser

#: Numbers a forger might type or put in a payload: other scripts' digits, superscripts, and
#: values beyond a database integer.
ODD_NUMBERS = ["²", "٣", "𝟙", "99999999999999999999999", "9223372036854775808", "-1", "1e3"]


def _no_errors(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


async def test_odd_numbers_in_commands_and_payloads_get_normal_answers(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    user = EngineUser(engine, "odd-numbers")
    for number in ODD_NUMBERS:
        for text in (f"/my_requests {number}", f"/survey {number}", f"/data {number}"):
            assert await user.say(text), text
        for payload in (
            f"r:s:{number}",
            f"r:n:{number}",
            f"q:{number}:c:1",
            f"q:1:c:{number}",
            f"b:{number}:s",
            f"d:c:{number}",
            f"d:r:{number}:1",
            f"k:f:{number}",
            f"c:{number}",
        ):
            assert await user.press_payload(payload), payload
    _no_errors(caplog)
    assert not any("try again" in message.text.lower() for message in user.seen)


async def test_odd_numbers_as_answers_to_a_choice_question_keep_the_question(
    engine: Engine, usat: Survey, caplog: pytest.LogCaptureFixture
) -> None:
    user = EngineUser(engine, "odd-answers")
    await user.say("/survey usat2026")
    for number in ODD_NUMBERS:
        replies = await user.say(number)
        assert replies[-1].text.startswith("1/"), number
    _no_errors(caplog)


ADMIN_COMMANDS = ["/broadcast", "/broadcast prices", "/requests", "/reply 1 here are the figures"]


async def test_admin_commands_are_refused_to_non_admins_and_store_nothing(
    database: Database, database_url: str, shipped_surveys: dict[str, Survey]
) -> None:
    from bot.core.engine import load_pseudonymizer

    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    community = Community(admins=frozenset({("test", "the-admin")}))
    engine = Engine(database, shipped_surveys, pseudonymizer, community=community)
    outsider, admin = EngineUser(engine, "outsider"), EngineUser(engine, "the-admin")
    await outsider.say("/help")
    before = await row_counts(database_url)
    for command in ADMIN_COMMANDS:
        (reply,) = await outsider.say(command)
        name = command.split()[0]
        assert f"{name}" in reply.text and "know" in reply.text.lower(), (command, reply.text)
    for payload in ("b:1:s", "b:1:a", "b:1:t:0"):
        (reply,) = await outsider.press_payload(payload)
        assert "button" in reply.text.lower(), reply.text
    assert await row_counts(database_url) == before, "a refused admin command stores nothing"
    admin_reply = await admin.say("/requests")
    assert "know" not in admin_reply[0].text.lower(), "the same command works for an admin"
