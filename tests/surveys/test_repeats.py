"""Repeats in the pure runner, the loader and the expressions: passes, "Add another?",
``repeat_count``, /back across passes, count/sum/max/position/indexed-repeat, relevance in a pass."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import date

import pytest

from surveys import repeats, runner
from surveys.errors import SurveyFileError
from surveys.expressions import Environment, evaluate_string, parse
from surveys.loader import load_survey_text
from surveys.model import Survey
from testkit.household import household_survey

TODAY = date(2026, 5, 4)


@pytest.fixture
def household() -> Survey:
    return household_survey()


def _answer(survey: Survey, state: runner.ResponseState, *actions: runner.Action) -> runner.ResponseState:
    for action in actions:
        outcome = runner.advance(survey, state, action)
        assert outcome.problem is None, (state.current, action, outcome.problem)
        state = outcome.state
    return state


def _member(name: str, age: str, works: str | None = None) -> list[runner.Action]:
    actions: list[runner.Action] = [runner.TypedAnswer(name), runner.TypedAnswer(age)]
    return actions + ([runner.PickChoice(works)] if works is not None else [])


def test_three_passes_with_add_another_are_stored_per_pass(household: Survey) -> None:
    state = runner.start(household, TODAY).state
    state = _answer(household, state, runner.TypedAnswer("Kisumu"), *_member("Amina", "42", "1"))
    assert state.current == "member[1]?"
    assert runner.question_at(household, state.current) is household.repeat("member").another
    state = _answer(household, state, runner.PickChoice("yes"), *_member("Baraka", "9"))
    assert state.current == "member[2]?", "works is not relevant for a 9-year-old in this pass"
    state = _answer(household, state, runner.TypedAnswer("yes"), *_member("Chausiku", "70", "2"))
    state = _answer(household, state, runner.PickChoice("no"))
    assert state.current == "children"
    answers = state.answers
    assert [answers[f"member[{i}]/member_name"] for i in (1, 2, 3)] == ["Amina", "Baraka", "Chausiku"]
    assert "member[2]/works" not in answers and answers["member[1]/works"] == "1"
    assert [answers[f"member[{i}]/member_no"] for i in (1, 2, 3)] == ["1", "2", "3"]
    assert (answers["members"], answers["total_age"], answers["oldest"], answers["first_member"]) == (
        "3",
        "121",
        "70",
        "Amina",
    )


def test_repeat_count_gives_exactly_that_many_passes_and_is_re_evaluated(household: Survey) -> None:
    state = runner.start(household, TODAY).state
    state = _answer(household, state, runner.TypedAnswer("Kisumu"), *_member("Amina", "42", "1"))
    state = _answer(household, state, runner.PickChoice("no"), runner.TypedAnswer("3"))
    schools = []
    while state.current is not None and state.current.startswith("child["):
        schools.append(state.current)
        state = _answer(household, state, runner.TypedAnswer(f"School {len(schools)}"))
    assert schools == ["child[1]/school", "child[2]/school", "child[3]/school"]
    assert state.current == "rooms"
    # Going back to the count and lowering it: the third pass no longer exists.
    state = runner.go_to(household, state, "children").state
    state = _answer(household, state, runner.TypedAnswer("1"))
    assert state.current == "rooms", "the kept passes are not asked again"
    instances = repeats.instances(household, state.answers, TODAY)
    assert [(i.repeat.name, i.path) for i in instances] == [
        ("member", (("member", 1),)),
        ("child", (("child", 1),)),
    ]
    # Zero passes skip the repeat.
    state = runner.go_to(household, state, "children").state
    assert _answer(household, state, runner.TypedAnswer("0")).current == "rooms"


def test_back_goes_across_passes_and_over_add_another(household: Survey) -> None:
    state = runner.start(household, TODAY).state
    state = _answer(household, state, runner.TypedAnswer("Kisumu"), *_member("Amina", "42", "1"))
    back = runner.back(household, state)
    assert back.state.current == "member[1]/works", "from 'Add another?' back to the pass's last question"
    state = _answer(household, state, runner.PickChoice("yes"))
    assert state.current == "member[2]/member_name"
    back = runner.back(household, state)
    assert back.state.current == "member[1]/works", "from pass 2's first question to pass 1's last"
    again = _answer(household, back.state, runner.PickChoice("2"))
    assert again.current == "member[2]/member_name" and again.answers["member[1]/works"] == "2"
    assert runner.progress(household, again) == runner.Progress(5, 8)


def test_relevance_constraint_and_calculation_inside_a_pass_see_that_pass() -> None:
    survey = load_survey_text(
        """
id: people
title: People
questions:
  - {type: integer, name: adults, label: "Adults?"}
  - type: repeat
    name: person
    label: person
    repeat_count: ${adults}
    questions:
      - {type: integer, name: age, label: "Age?", constraint: ". >= 18"}
      - {type: text, name: job, label: "Job?", relevant: "${age} < 65"}
      - {type: calculate, name: older, calculate: "if(position(..) > 1, ${age} > indexed-repeat(${age}, ${person}, position(..) - 1), '')"}
  - {type: calculate, name: ages, calculate: "concat(count(${person}), '/', sum(${age}), '/', min(${age}))"}
""",
        "people.yaml",
    )
    state = runner.start(survey, TODAY).state
    state = _answer(survey, state, runner.TypedAnswer("2"), runner.TypedAnswer("70"))
    assert state.current == "person[2]/age", "job is not relevant at 70"
    refused = runner.advance(survey, state, runner.TypedAnswer("12"))
    assert refused.problem is not None and refused.problem.code == "constraint"
    state = _answer(survey, state, runner.TypedAnswer("30"))
    assert state.current == "person[2]/job", "relevant again in the second pass"
    state = _answer(survey, state, runner.TypedAnswer("Teacher"))
    assert state.current is None
    assert state.answers["person[1]/older"] == "" and state.answers["person[2]/older"] == "false"
    assert state.answers["ages"] == "2/100/30"


def test_nested_repeats_are_keyed_level_by_level() -> None:
    survey = load_survey_text(
        """
id: nested
title: Nested
questions:
  - type: repeat
    name: plot
    label: plot
    questions:
      - {type: integer, name: crops, label: "Crops?"}
      - type: repeat
        name: crop
        label: crop
        repeat_count: ${crops}
        questions:
          - {type: text, name: crop_name, label: "Crop?"}
      - {type: calculate, name: crop_count, calculate: "count(${crop})"}
""",
        "nested.yaml",
    )
    state = runner.start(survey, TODAY).state
    state = _answer(survey, state, runner.TypedAnswer("2"), runner.TypedAnswer("maize"), runner.TypedAnswer("beans"))
    assert state.current == "plot[1]?"
    state = _answer(survey, state, runner.PickChoice("yes"), runner.TypedAnswer("1"), runner.TypedAnswer("rice"))
    state = _answer(survey, state, runner.PickChoice("no"))
    assert state.current is None
    assert (
        state.answers["plot[1]/crop[2]/crop_name"] == "beans" and state.answers["plot[2]/crop[1]/crop_name"] == "rice"
    )
    assert state.answers["plot[1]/crop_count"] == "2" and state.answers["plot[2]/crop_count"] == "1"
    instances = repeats.instances(survey, state.answers, TODAY)
    assert [repeats.prefix(i.path) for i in instances] == [
        "plot[1]/",
        "plot[1]/crop[1]/",
        "plot[1]/crop[2]/",
        "plot[2]/",
        "plot[2]/crop[1]/",
    ]


def test_the_view_of_a_pass_shows_its_answers_under_bare_names(household: Survey) -> None:
    answers = {"village": "Kisumu", "member[1]/member_name": "Amina", "member[2]/member_name": "Baraka"}
    seen = repeats.view_at(household, answers, "member[2]/age")
    assert seen["member_name"] == "Baraka" and seen["village"] == "Kisumu"
    assert dict(seen) == {"village": "Kisumu", "member_name": "Baraka"}
    assert repeats.view_at(household, answers, "rooms") is answers


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("age", repeats.Key((), "age")),
        ("member[2]/age", repeats.Key((("member", 2),), "age")),
        ("member[2]/child[10]/name", repeats.Key((("member", 2), ("child", 10)), "name")),
        ("member[3]?", repeats.Key((("member", 3),), "member", another=True)),
        ("member[0]/age", None),
        ("member[2]", None),
        ("member[x]/age", None),
    ],
)
def test_answer_keys_are_read_back(key: str, parsed: repeats.Key | None) -> None:
    assert repeats.parse_key(key) == parsed


def test_resume_keeps_pass_answers_and_continues_where_the_person_was(household: Survey) -> None:
    answers = {"village": "Kisumu", "member[1]/member_name": "Amina", "member[1]/age": "42", "member[1]/works": "1"}
    answers["member[1]?"] = "yes"
    answers["member[9]/age"] = "5"  # a pass that does not exist stays stored but is not asked
    outcome = runner.resume(household, answers, TODAY)
    assert outcome.state.current == "member[2]/member_name"


def test_repeat_functions_without_repeats_see_single_values() -> None:
    environment = Environment(answers={"a": "4"}, today=TODAY)
    assert evaluate_string(parse("count(${a})"), environment) == "1"
    assert evaluate_string(parse("sum(${a})"), environment) == "4"
    assert evaluate_string(parse("max(1, ${a}, 3)"), environment) == "4"
    assert evaluate_string(parse("position(..)"), environment) == "NaN"
    assert evaluate_string(parse("indexed-repeat(${a}, ${r}, 1)"), environment) == ""


def test_a_survey_without_repeats_is_walked_from_slots_built_once_and_dropped_with_it(usat: Survey) -> None:
    first = list(repeats.slots(usat, {}, TODAY))
    assert [slot.key for slot in first] == [question.name for question in usat.questions]
    assert all(slot.path == () and slot.another is None for slot in first)
    assert all(a is b for a, b in zip(first, repeats.slots(usat, {"x": "1"}, TODAY), strict=True))
    copy = replace(usat, title=usat.title)
    assert [slot.key for slot in repeats.slots(copy, {}, TODAY)] == [slot.key for slot in first]
    key = id(copy)
    assert repeats._flat.holds(key)
    del copy
    gc.collect()
    assert not repeats._flat.holds(key), "the slots go with their survey"


@pytest.mark.parametrize(
    ("yaml_questions", "message"),
    [
        ("  - {type: repeat, name: r, label: R, questions: [{type: text, name: r, label: X}]}", "name of a group"),
        (
            "  - {type: repeat, name: r, label: R, colour: red, questions: [{type: text, name: a, label: A}]}",
            "unknown key 'colour'",
        ),
        ("  - {type: repeat, name: r, label: R}", "has no questions"),
        (
            "  - {type: repeat, name: r, label: R, repeat_count: '${later}', questions: [{type: text, name: a, label: A}]}\n"
            "  - {type: integer, name: later, label: L}",
            "refers to a later question",
        ),
        (
            "  - {type: calculate, name: c, calculate: 'count(${r})'}\n  - {type: repeat, name: r, label: R, questions: [{type: text, name: a, label: A}]}",
            "later repeat",
        ),
    ],
)
def test_repeat_problems_are_reported_with_their_line(yaml_questions: str, message: str) -> None:
    text = f"id: bad\ntitle: Bad\nquestions:\n{yaml_questions}\n"
    with pytest.raises(SurveyFileError) as raised:
        load_survey_text(text, "bad.yaml")
    assert any(message in str(problem) and problem.line >= 4 for problem in raised.value.problems), raised.value
