"""Survey settings through the real engine and database: confirm summary, opens/closes,
repeat answers, audience, anonymous surveys, defaults."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.core.engine import Engine, load_pseudonymizer
from storage.database import Database
from storage.exports.files import export_responses
from surveys.loader import load_survey_directory
from testkit.exports import EVERY_RESPONSE_JOINED
from testkit.fakes.engine_user import EngineUser

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)

SURVEYS = {
    "confirmed.yaml": """
id: confirmed
title: Confirmed
confirm: true
questions:
  - {type: select_one, name: colour, label: Colour, choices: [{name: red, label: Red}, {name: blue, label: Blue}]}
  - {type: integer, name: count, label: How many, default: 3}
""",
    "closed.yaml": "id: closed\ntitle: Closed\ncloses: 2026-06-01\nquestions:\n  - {type: text, name: a, label: A}\n",
    "future.yaml": "id: future\ntitle: Future\nopens: 2026-07-01\nquestions:\n  - {type: text, name: a, label: A}\n",
    "twice.yaml": "id: twice\ntitle: Twice\nmax_responses_per_user: 2\nquestions:\n  - {type: text, name: a, label: A}\n",
    "private.yaml": "id: private\ntitle: Private\naudience: \"${channel} = 'whatsapp'\"\nquestions:\n  - {type: text, name: a, label: A}\n",
    "limits.yaml": """
id: limits
title: Limits
questions:
  - {type: select_multiple, name: pick, label: Pick, min_choices: 2, max_choices: 3, choices: [{name: a, label: A}, {name: b, label: B}, {name: c, label: C}, {name: d, label: D}]}
  - {type: select_one, name: agree, label: Agree, appearance: likert, choices: [{name: '1', label: Disagree}, {name: '2', label: Neutral}, {name: '3', label: Agree}]}
  - {type: text, name: short, label: Short, max_length: 5}
""",
    "anon.yaml": "id: anon\ntitle: Anonymous\nanonymous: true\nquestions:\n  - {type: text, name: a, label: A}\n",
}


@pytest.fixture
async def settings_engine(database: Database, tmp_path: Path) -> AsyncIterator[Engine]:
    forms = tmp_path / "settings-forms"
    forms.mkdir()
    for name, body in SURVEYS.items():
        (forms / name).write_text(body)
    surveys = load_survey_directory(forms)
    yield Engine(database, surveys, await load_pseudonymizer(database, "k" * 20), clock=lambda: NOW)


async def rows(engine: Engine, survey_id: str) -> list[dict[str, str]]:
    out = io.StringIO()
    await export_responses(engine.database, engine.surveys[survey_id], EVERY_RESPONSE_JOINED, "csv", out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


async def test_confirm_shows_a_summary_and_allows_changing_one_answer(settings_engine: Engine) -> None:
    user = EngineUser(settings_engine, "s1")
    await user.say("/survey confirmed")
    await user.press("Red")
    replies = await user.press("Keep: 3")
    assert replies[-1].text.startswith("Please check your answers:")
    assert "Colour\n   → Red" in replies[-1].text and "How many\n   → 3" in replies[-1].text
    assert (await rows(settings_engine, "confirmed"))[0]["complete"] == "false", "nothing is submitted yet"
    await user.press("Change an answer")
    replies = await user.press("Colour")
    assert replies[-1].text.startswith("1/2 · Colour") and "(Your answer: Red)" in replies[-1].text
    replies = await user.press("Blue")
    assert replies[-1].text.startswith("Please check your answers:") and "→ Blue" in replies[-1].text
    replies = await user.press("Submit")
    assert replies[0].text == "Submitted."
    (row,) = await rows(settings_engine, "confirmed")
    assert (row["colour"], row["count"], row["complete"]) == ("blue", "3", "true")


async def test_closed_and_future_surveys_are_not_offered(settings_engine: Engine) -> None:
    user = EngineUser(settings_engine, "s2")
    replies = await user.say("/start")
    offered = [b.label for b in replies[-1].flat_buttons]
    assert "Closed" not in offered and "Future" not in offered and "Confirmed" in offered
    replies = await user.say("/start closed")
    assert replies[0].text == "'Closed' closed on 2026-06-01. Thank you for your interest."
    replies = await user.say("/survey future")
    assert replies[0].text == "'Future' opens on 2026-07-01. Please come back then."


async def test_max_responses_per_user_allows_a_second_response_then_refuses(settings_engine: Engine) -> None:
    user = EngineUser(settings_engine, "s3")
    for answer in ("first", "second"):
        await user.say("/survey twice")
        await user.say(answer)
    replies = await user.say("/survey twice")
    assert "already answered" in replies[0].text
    assert sorted(r["a"] for r in await rows(settings_engine, "twice")) == ["first", "second"]


async def test_audience_filters_who_is_offered_the_survey(settings_engine: Engine) -> None:
    user = EngineUser(settings_engine, "s4", channel="telegram")
    replies = await user.say("/survey private")
    assert "is not open to you" in replies[0].text
    whatsapp = EngineUser(settings_engine, "s5", channel="whatsapp")
    replies = await whatsapp.say("/survey private")
    assert replies[-1].text.startswith("1/1 · A")


async def test_anonymous_survey_stores_answers_without_a_link_to_the_person(settings_engine: Engine) -> None:
    user = EngineUser(settings_engine, "s6")
    await user.say("/survey anon")
    await user.say("my opinion")
    replies = await user.say("/survey anon")
    assert "already answered" in replies[0].text, "repeat answers are still limited"
    (row,) = await rows(settings_engine, "anon")
    assert (row["a"], row["respondent"], row["complete"]) == ("my opinion", "", "true")
    async with settings_engine.database.reading() as connection:
        linked = await connection.scalar(
            text("SELECT COUNT(*) FROM responses WHERE contact_id IS NOT NULL AND survey_id = 'anon'")
        )
    assert linked == 0


async def test_choice_counts_likert_rows_and_text_length(settings_engine: Engine) -> None:
    user = EngineUser(settings_engine, "s7")
    await user.say("/survey limits")
    await user.press("A")
    replies = await user.press("Done")
    assert replies[0].text == "Please tick at least 2 answers."
    replies = await user.say("1, 2, 3, 4")
    assert replies[0].text == "Please tick at most 3 answers."
    replies = await user.say("1, 2")
    likert = replies[-1]
    assert [len(row) for row in likert.buttons] == [3], "a likert scale is one row of buttons"
    await user.press("Neutral")
    replies = await user.say("too long")
    assert replies[0].text == "Please keep the answer under 5 characters."
    await user.say("ok")
    (row,) = await rows(settings_engine, "limits")
    assert (row["pick"], row["agree"], row["short"], row["complete"]) == ("a b", "2", "ok", "true")
