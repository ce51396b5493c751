"""rank and osm questions through the real engine and database: the prompt lists the choices and
tags, a typed ranking and a typed or shared feature are stored as one value, a bad one gets the
reason and the same question."""

from __future__ import annotations

from sqlalchemy import text

from bot.core.engine import Engine, load_pseudonymizer
from handlers.messages import Location
from storage.database import Database
from surveys.loader import load_survey_text
from testkit.fakes.engine_user import EngineUser

SURVEY = load_survey_text(
    """
id: mapping
title: Mapping
questions:
  - type: rank
    name: priorities
    label: Put these in order
    choices: [{name: water, label: Water}, {name: roads, label: Roads}, {name: schools, label: Schools}]
  - type: osm
    name: building
    label: The building
    osm_tags:
      - {key: name, label: Name}
      - key: amenity
        label: Building Type
        choices: [{name: school, label: School}, {name: church, label: Church}]
  - type: osm
    name: road
    label: The road
    osm_tags: [{key: maxspeed, label: Max Speed}]
  - {type: integer, name: size, label: How many people}
""",
    "mapping.yaml",
)


async def test_a_ranking_and_map_features_are_typed_or_shared_and_stored_in_one_value(database: Database) -> None:
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    user = EngineUser(Engine(database, {SURVEY.id: SURVEY}, pseudonymizer), "u1")
    replies = await user.say("/survey mapping")
    assert "Put these in order" in replies[-1].text
    assert "1. Water\n2. Roads\n3. Schools" in replies[-1].text and "e.g. 3 1 2" in replies[-1].text
    replies = await user.say("3 1")
    assert replies[0].text.startswith("Put all 3 in order") and "Put these in order" in replies[-1].text
    replies = await user.say("3 1 2")
    assert "The building" in replies[-1].text
    assert "• amenity: Building Type — school (School), church (Church)" in replies[-1].text
    assert replies[-1].location_button == "📍 Send my location"
    replies = await user.say("-1.2921, 36.8219; amenity=mosque")
    assert replies[0].text == "The tag amenity takes one of: school, church." and "The building" in replies[-1].text
    replies = await user.say("-1.2921, 36.8219; amenity=School; name=Hope Academy")
    assert "The road" in replies[-1].text
    replies = await user.share_location(Location(-1.3, 36.8))
    assert "How many people" in replies[-1].text
    await user.say("4")

    async with database.transaction() as connection:
        rows = (await connection.execute(text("SELECT question, value FROM answers"))).all()
    answers = {question: value for question, value in rows}
    assert answers["priorities"] == "schools water roads"
    assert answers["building"] == "-1.2921 36.8219;name=Hope Academy;amenity=school"
    assert answers["road"] == "-1.3 36.8"
