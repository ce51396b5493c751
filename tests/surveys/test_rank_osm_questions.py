"""rank and osm questions in the survey format and the runner: how they are read, typed and stored."""

from __future__ import annotations

import pytest

from surveys import runner
from surveys.errors import SurveyFileError
from surveys.loader import load_survey_text
from surveys.model import QuestionType

SURVEY = """
id: ranked
title: Rank and map
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
  - {type: text, name: after, label: After}
"""


def _state(current: str, answers: dict[str, str | None] | None = None) -> runner.ResponseState:
    return runner.ResponseState(answers=answers or {}, current=current)


def test_rank_and_osm_are_read_with_their_choices_and_tags() -> None:
    survey = load_survey_text(SURVEY, "ranked.yaml")
    assert survey.question("priorities").type is QuestionType.RANK
    assert [c.name for c in survey.question("priorities").choices] == ["water", "roads", "schools"]
    building = survey.question("building")
    assert building.type is QuestionType.OSM
    assert [(t.key, t.label.in_language("en", "en"), [c.name for c in t.choices]) for t in building.osm_tags] == [
        ("name", "Name", []),
        ("amenity", "Building Type", ["school", "church"]),
    ]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("{type: text, name: a, label: A, osm_tags: [{key: x}]}", "r.yaml:4: 'osm_tags' only applies to osm"),
        ("{type: osm, name: a, label: A, osm_tags: [{key: 'a b'}]}", "r.yaml:4: a tag in the osm_tags of"),
        ("{type: rank, name: a, label: A}", "r.yaml:4: question 'a' needs choices"),
    ],
)
def test_misplaced_tags_bad_keys_and_a_rank_without_choices_are_reported(question: str, expected: str) -> None:
    with pytest.raises(SurveyFileError) as raised:
        load_survey_text(f"id: s\ntitle: T\nquestions:\n  - {question}\n", "r.yaml")
    assert any(str(problem).startswith(expected) for problem in raised.value.problems), raised.value.problems


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("3 1 2", "schools water roads"),
        ("2,3,1", "roads schools water"),
        ("Roads, water, Schools", "roads water schools"),
    ],
)
def test_a_ranking_is_typed_by_numbers_or_labels_and_stored_as_names_in_order(typed: str, stored: str) -> None:
    survey = load_survey_text(SURVEY, "ranked.yaml")
    outcome = runner.advance(survey, _state("priorities"), runner.TypedAnswer(typed))
    assert outcome.problem is None
    assert outcome.recorded[0] == ("priorities", stored)
    assert outcome.state.current == "building"


@pytest.mark.parametrize("typed", ["1 2", "1 1 2", "1 2 4", "water roads"])
def test_a_ranking_missing_repeating_or_unknown_choices_is_refused_with_the_count(typed: str) -> None:
    survey = load_survey_text(SURVEY, "ranked.yaml")
    outcome = runner.advance(survey, _state("priorities"), runner.TypedAnswer(typed))
    assert outcome.problem is not None and outcome.problem.code == "not_ranking"
    assert outcome.problem.params == {"count": "3"}
    assert outcome.state.current == "priorities"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("-1.29 36.82; amenity=school; name=Hope Academy", "-1.29 36.82;name=Hope Academy;amenity=school"),
        ("-1.29, 36.82; Building Type = 2", "-1.29 36.82;amenity=church"),
        ("-1.29 36.82", "-1.29 36.82"),
    ],
)
def test_an_osm_feature_is_typed_as_a_point_and_tags_and_stored_in_one_value(typed: str, stored: str) -> None:
    survey = load_survey_text(SURVEY, "ranked.yaml")
    outcome = runner.advance(survey, _state("building"), runner.TypedAnswer(typed))
    assert outcome.problem is None, outcome.problem
    assert outcome.recorded[0] == ("building", stored)
    assert outcome.state.current == "after"


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Nairobi; amenity=school", "not_geopoint"),
        ("1 2; colour=red", "unknown_osm_tag"),
        ("1 2; amenity=mosque", "unknown_osm_value"),
        ("1 2; name=", "unknown_osm_value"),
        ("100 2", "latitude_out_of_range"),
    ],
)
def test_a_bad_osm_answer_gets_its_reason_and_the_same_question(typed: str, code: str) -> None:
    survey = load_survey_text(SURVEY, "ranked.yaml")
    outcome = runner.advance(survey, _state("building"), runner.TypedAnswer(typed))
    assert outcome.problem is not None and outcome.problem.code == code
    assert outcome.state.current == "building"


def test_a_shared_location_answers_an_osm_question_without_tags() -> None:
    survey = load_survey_text(SURVEY, "ranked.yaml")
    outcome = runner.advance(survey, _state("building"), runner.GiveLocation(-1.29, 36.82, 1600.0, 5.0))
    assert outcome.problem is None
    assert outcome.recorded[0] == ("building", "-1.29 36.82 1600 5")
