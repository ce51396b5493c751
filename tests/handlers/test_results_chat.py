"""``/results`` and "See the results" through the real engine: after completing a survey whose
results are published, a respondent gets the headline figures in their language (the figures of
an independent raking, small cells withheld) and the chart as a picture; before, they are told the
results are not published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from babel.numbers import format_percent

from bot.core.engine import Engine, load_pseudonymizer
from handlers.messages import Outbound
from handlers.results import publish_results
from storage.database import Database
from surveys.model import Survey
from testkit.fakes.engine_user import EngineUser
from testkit.results import reference_share, reference_weights, store_respondents, synthetic_respondents, write_survey

DATA_DATE = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)


@pytest.fixture
async def survey(tmp_path: Path) -> Survey:
    return write_survey(tmp_path / "forms")


@pytest.fixture
async def engine(database: Database, survey: Survey) -> Engine:
    await store_respondents(database, survey, synthetic_respondents(300), DATA_DATE)
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    return Engine(database, {survey.id: survey}, pseudonymizer, clock=lambda: DATA_DATE + timedelta(days=2))


async def answer(user: EngineUser, labels: tuple[str, str, str] = ("Bien", "Travail", "Terminé")) -> list[Outbound]:
    """Answer the survey: a satisfaction, one use and Done (labels in the person's language), 3 visits, no comment."""
    await user.say("/survey feedback2027")
    for label in labels:
        await user.press(label)
    await user.say("3")
    return list(await user.say("/skip"))


def expected_line(choice: str, label: str) -> str:
    people = synthetic_respondents(300)
    chosen = np.array([p.answers["satisfaction"] == choice for p in people])
    share, low, high = reference_share(chosen, reference_weights())
    written = [format_percent(value, locale="fr") for value in (share, low, high)]
    return f"• {label}: {written[0]} (de {written[1]} à {written[2]})"


async def test_a_respondent_gets_the_published_results_in_french_with_a_chart(
    engine: Engine, database: Database, survey: Survey
) -> None:
    person = EngineUser(engine, "r1", language="fr")
    (early,) = await person.say("/results")
    assert early.text.startswith("Les résultats des enquêtes auxquelles vous avez répondu ne sont pas encore publiés")

    await publish_results(database, survey, actor="editor1", now=DATA_DATE + timedelta(days=1))
    (refused,) = await person.say("/results")
    assert refused.text == early.text, "only after answering the survey"

    finished = await answer(person)
    button = finished[-1].flat_buttons[-1]
    assert button.label == "📊 Voir les résultats"

    text, chart = await person.press_payload(button.payload)
    lines = text.text.split("\n")
    assert lines[0] == "📊 Résultats : Nos statistiques et vous"
    assert lines[1] == "300 personnes ont répondu. Données au 31 mars 2027."
    assert lines[2].startswith(
        "Les chiffres sont pondérés pour représenter la population (par région, groupe d'utilisateurs)"
    )
    assert expected_line("good", "Bien") in lines
    assert expected_line("very_good", "Très bien") in lines
    assert "• Je ne sais pas: non publié (trop peu de réponses)" in lines, "6 people: withheld"
    assert not any("Autre chose" in line for line in lines), "free text is never published"
    assert chart.attachment is not None and chart.attachment.content.startswith(b"\x89PNG")
    assert chart.attachment.kind == "image" and chart.text == "Êtes-vous satisfait de nos statistiques ?"
    assert chart.attachment.alt is not None and "Je ne sais pas: non publié" in chart.attachment.alt

    again = await person.say("/results")
    assert [reply.text for reply in again] == [text.text, chart.text], "the same as the button"


async def test_no_button_when_the_results_are_not_published(engine: Engine) -> None:
    person = EngineUser(engine, "r2", language="en")
    finished = await answer(person, ("Good", "Work", "Done"))
    assert not finished[-1].flat_buttons
