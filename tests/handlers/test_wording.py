"""``${name}`` where the survey flow builds its messages (handlers/prompts.py): labels, hints,
choice buttons, the kept answer, constraint and required messages, notes, the summary, the
quiz explanation, the outro; in the conversation's language. Through the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.engine import Engine, load_pseudonymizer
from handlers.messages import Outbound
from storage.database import Database
from surveys.loader import load_survey_directory
from testkit.fakes.engine_user import EngineUser

FORM = """\
id: family
title: {en: Family, fr: Famille}
confirm: true
outro: {en: "Thanks, ${child}!", fr: "Merci, ${child} !"}
questions:
  - {type: text, name: child, label: {en: "Child's name?", fr: "Prénom de l'enfant ?"}}
  - type: select_one
    name: school
    label: {en: "Does ${child} go to school?", fr: "${child} va-t-il à l'école ?"}
    hint: {en: "About ${child} only", fr: "Seulement ${child}"}
    choices:
      - {name: yes, label: {en: "Yes, ${child} does", fr: "Oui, ${child} y va"}}
      - {name: no, label: {en: "No", fr: "Non"}}
  - {type: note, name: empty_note, label: {en: "${nickname}", fr: "${nickname}"}}
  - {type: note, name: seen, label: {en: "Noted: ${school}.", fr: "Noté : ${school}."}}
  - type: integer
    name: age
    label: {en: "Age of ${child}?", fr: "Âge de ${child} ?"}
    constraint: ". < 25"
    constraint_message: {en: "${child} ('${school}') is too old", fr: "${child} (« ${school} ») est trop âgé"}
    required_message: {en: "Please give the age of ${child}", fr: "Donnez l'âge de ${child}"}
  - {type: text, name: nickname, label: {en: "Nickname of ${child}?", fr: "Surnom de ${child} ?"}, required: false}
"""


@pytest.fixture
async def engine(database: Database, tmp_path: Path) -> Engine:
    (tmp_path / "family.yaml").write_text(FORM, encoding="utf-8")
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    return Engine(database, load_survey_directory(tmp_path), pseudonymizer)


def texts(replies: list[Outbound]) -> list[str]:
    return [reply.text for reply in replies]


async def test_answers_fill_every_text_in_english(engine: Engine) -> None:
    user = EngineUser(engine, "en-user", language="en")
    await user.say("/survey family")
    replies = await user.say("Zawadi")
    assert replies[-1].text == "2/4 · Does Zawadi go to school?\nAbout Zawadi only"
    assert [b.label for b in replies[-1].flat_buttons] == ["Yes, Zawadi does", "No"]
    replies = await user.press("Yes, Zawadi does")
    # The empty note (an unanswered ${nickname}) is not sent; the other shows the choice's label.
    assert texts(replies) == [
        "Does Zawadi go to school?\n→ Yes, Zawadi does",
        "Noted: Yes, Zawadi does.",
        "3/4 · Age of Zawadi?",
    ]
    replies = await user.say("/skip")
    assert replies[0].text == "Please give the age of Zawadi"
    replies = await user.say("30")
    assert replies[0].text == "Zawadi ('Yes, Zawadi does') is too old"
    await user.say("9")
    replies = await user.say("skip")
    summary = replies[-1].text
    assert "• Does Zawadi go to school?\n   → Yes, Zawadi does" in summary and "${" not in summary
    replies = await user.press("Submit")
    assert any(text.startswith("Thanks, Zawadi!") for text in texts(replies))
    assert all("${" not in text for text in texts(user.seen))


async def test_choice_labels_come_in_the_conversation_language(engine: Engine) -> None:
    user = EngineUser(engine, "fr-user", language="fr")
    await user.say("/survey family")
    replies = await user.say("Zawadi")
    assert replies[-1].text == "2/4 · Zawadi va-t-il à l'école ?\nSeulement Zawadi"
    replies = await user.press("Non")
    assert texts(replies) == [
        "Zawadi va-t-il à l'école ?\n→ Non",
        "Noté : Non.",
        "3/4 · Âge de Zawadi ?",
    ]
