"""A survey with repeats through the real engine and a real database: "Add another?" after each
pass, /back across passes, a counted repeat, the answers stored once per pass."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from bot.core.engine import Engine, load_pseudonymizer
from storage.database import Database
from storage.exports import ExportOptions
from storage.exports.files import export_responses
from storage.models import AnswerRow
from surveys.loader import load_survey_text
from testkit.conversations import answer_household
from testkit.fakes.engine_user import EngineUser
from testkit.household import household_survey


async def test_household_members_are_asked_pass_by_pass_and_stored_per_pass(database: Database) -> None:
    survey = household_survey()
    engine = Engine(database, {survey.id: survey}, await load_pseudonymizer(database, "test-pseudonym-key-0123456789"))
    user = EngineUser(engine, "hh1")
    await user.say("/survey household")
    replies = await user.say("Kisumu")
    assert replies[-1].text.startswith("2/5 · household member 1 › Name of the member?")
    await user.say("Amina")
    replies = await user.say("42")
    assert "household member 1 › Does this member work?" in replies[-1].text
    replies = await user.press("Works")
    assert replies[-1].text == "Add another household member?"
    assert [b.label for b in replies[-1].flat_buttons] == ["Yes", "No"]
    replies = await user.press("Yes")
    assert "household member 2 › Name of the member?" in replies[-1].text
    # /back from the first question of pass 2 is the last question of pass 1.
    replies = await user.say("/back")
    assert "household member 1 › Does this member work?" in replies[-1].text
    assert "Works" in replies[-1].text, "the current answer is shown"
    replies = await user.press("Does not work")
    assert "household member 2 › Name of the member?" in replies[-1].text, "the kept answers are not asked again"
    await user.say("Baraka")
    replies = await user.say("9")  # under 15: "works" is not relevant in this pass
    assert replies[-1].text == "Add another household member?"
    replies = await user.say("/back")
    assert "household member 2 › Age of the member?" in replies[-1].text
    await user.say("8")
    await user.press("Yes")
    await user.say("Chausiku")
    await user.say("70")
    await user.press("Works")
    replies = await user.press("No")
    assert "How many children go to school?" in replies[-1].text
    replies = await user.say("2")
    assert "child 1 › Which school does the child go to?" in replies[-1].text
    replies = await user.say("Uhuru Primary")
    assert "child 2 › Which school" in replies[-1].text
    await user.say("Jomo Secondary")
    replies = await user.say("4")
    assert replies[-1].text == "Send /start to see other surveys.", "the survey is complete"

    async with database.reading() as connection:
        stored = dict((await connection.execute(select(AnswerRow.question, AnswerRow.value))).all())
    assert stored["member[1]/age"] == "42" and stored["member[1]/works"] == "2"
    assert stored["member[2]/member_name"] == "Baraka" and stored["member[2]/age"] == "8"
    assert stored.get("member[2]/works") is None
    assert stored["member[3]/member_name"] == "Chausiku" and stored["member[3]?"] == "no"
    assert stored["members"] == "3" and stored["total_age"] == "120" and stored["oldest"] == "70"
    assert stored["first_member"] == "Amina" and stored["member[2]/member_no"] == "2"
    assert stored["child[2]/school"] == "Jomo Secondary" and stored["rooms"] == "4"


async def test_add_another_is_asked_and_answered_in_the_users_language(database: Database) -> None:
    survey = household_survey()
    engine = Engine(database, {survey.id: survey}, await load_pseudonymizer(database, "test-pseudonym-key-0123456789"))
    user = EngineUser(engine, "hh2", language="fr")
    await user.say("/survey household")
    await user.say("Kisumu")
    await user.say("Amina")
    replies = await user.say("9")
    assert replies[-1].text == "Ajouter un autre élément « household member » ?"
    assert [b.label for b in replies[-1].flat_buttons] == ["Oui", "Non"]
    replies = await user.say("oui")
    assert replies[-1].text.startswith("4/7 · household member numéro 2 › Name of the member?")
    await user.say("Baraka")
    await user.say("8")
    replies = await user.say("NON")
    assert "How many children go to school?" in replies[-1].text


async def test_the_answered_household_exports_as_linked_tables(database: Database, tmp_path: Path) -> None:
    survey = household_survey()
    engine = Engine(database, {survey.id: survey}, await load_pseudonymizer(database, "test-pseudonym-key-0123456789"))
    await answer_household(EngineUser(engine, "hh3"))
    path = tmp_path / "household.csv"
    await export_responses(database, survey, ExportOptions(multiple="joined", include_anonymous=True), "csv", path)
    with path.open(encoding="utf-8") as file:
        (parent,) = csv.DictReader(file)
    with (tmp_path / "household-member.csv").open(encoding="utf-8") as file:
        members = list(csv.DictReader(file))
    assert parent["members"] == "3" and parent["total_age"] == "121" and parent["rooms"] == "4"
    assert [(m["member_name"], m["age"], m["works"]) for m in members] == [
        ("Amina", "42", "2"),
        ("Baraka", "9", ""),
        ("Chausiku", "70", "1"),
    ]
    assert {(m["_parent_index"], m["response_id"]) for m in members} == {(parent["_index"], parent["response_id"])}


async def test_the_summary_lists_each_pass_and_changes_one_answer_of_a_pass(database: Database) -> None:
    survey = load_survey_text(
        """
id: pets
title: Pets
confirm: true
questions:
  - type: repeat
    name: pet
    label: pet
    questions:
      - {type: text, name: pet_name, label: "Name?"}
""",
        "pets.yaml",
    )
    engine = Engine(database, {survey.id: survey}, await load_pseudonymizer(database, "test-pseudonym-key-0123456789"))
    user = EngineUser(engine, "pets1")
    await user.say("/survey pets")
    await user.say("Rex")
    await user.press("Yes")
    await user.say("Tom")
    replies = await user.press("No")
    assert replies[-1].text == "Please check your answers:\n• pet 1 › Name?\n   → Rex\n• pet 2 › Name?\n   → Tom"
    await user.press("Change an answer ✏️")
    assert [b.label for b in user.last_with_buttons().flat_buttons] == ["pet 1 › Name?", "pet 2 › Name?"]
    replies = await user.press("pet 2 › Name?")
    assert "pet 2 › Name?" in replies[-1].text and "Tom" in replies[-1].text
    replies = await user.say("Felix")
    assert replies[-1].text.endswith("• pet 2 › Name?\n   → Felix"), "back at the summary, pass 2 changed"
    await user.press("Submit ✅")
    async with database.reading() as connection:
        stored = dict((await connection.execute(select(AnswerRow.question, AnswerRow.value))).all())
    assert stored == {"pet[1]/pet_name": "Rex", "pet[1]?": "yes", "pet[2]/pet_name": "Felix", "pet[2]?": "no"}
