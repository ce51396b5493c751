"""The runner's plan of a survey without repeats: its walks skip places where nothing happens,
and give what a walk over every place gives."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import UTC, date, datetime
from itertools import combinations

import pytest

from surveys import repeats, runner
from surveys.loader import load_survey_text
from surveys.model import Survey
from surveys.repeats import Slot
from surveys.xlsform import convert_xlsform
from testkit import paths

TODAY = date(2026, 5, 4)
NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def consultation() -> Survey:
    """The multilingual consultation form (groups, skip logic, choice filters, calculations)."""
    conversion = convert_xlsform(paths.XLSFORMS / "user_consultation.xlsx")
    return load_survey_text(conversion.yaml_text, "user_consultation.yaml")


MIXED = """
id: mixed
title: Mixed
questions:
  - {type: start, name: started}
  - {type: note, name: hello, label: Hello}
  - {type: select_one, name: works, label: "Working?", choices: [{name: yes, label: Yes}, {name: no, label: No}]}
  - {type: integer, name: hours, label: "Hours?", relevant: "${works} = 'yes'"}
  - {type: note, name: about_pay, label: "Now your pay", relevant: "${works} = 'yes'"}
  - {type: calculate, name: double, calculate: "${hours} * 2"}
  - {type: integer, name: pay, label: "Pay?", relevant: "${hours} > 10"}
  - {type: integer, name: size, label: Size, calculate: "${pay} + 1", trigger: ["${pay}"]}
  - {type: text, name: why, label: "Why not?", relevant: "${works} = 'no'", required: false}
  - {type: note, name: bye, label: Bye}
  - {type: end, name: ended}
"""

PLAIN = """
id: plain
title: Plain
questions:
  - {type: integer, name: a, label: A}
  - {type: note, name: middle, label: Middle}
  - {type: text, name: b, label: B}
  - {type: integer, name: c, label: C}
"""

# Values that switch the conditions of MIXED both ways; other questions get "1".
VALUES = {"works": ("yes", "no"), "hours": ("4", "12"), "pay": ("100",)}


@pytest.fixture
def mixed() -> Survey:
    return load_survey_text(MIXED, "mixed.yaml")


@pytest.fixture
def plain() -> Survey:
    return load_survey_text(PLAIN, "plain.yaml")


def answer_sets(survey: Survey) -> list[dict[str, str | None]]:
    """Answers to every few of the survey's asked questions, in the values that move its conditions."""
    names = [question.name for question in survey.questions if question.is_asked]
    found: list[dict[str, str | None]] = [{}]
    for size in (1, 2, 3):
        for chosen in combinations(names, size):
            for pick in (0, 1):
                found.append({name: VALUES.get(name, ("1",))[pick % len(VALUES.get(name, ("1",)))] for name in chosen})
    return found


def walked_asked_slots(survey: Survey, answers: dict[str, str | None]) -> list[Slot]:
    """What :func:`runner.asked_slots` gives, by a walk over every place."""
    return [
        slot
        for slot in repeats.slots(survey, answers, TODAY)
        if slot.question.is_asked and runner.is_relevant(slot.question, answers, TODAY)
    ]


def walked_progress(survey: Survey, answers: dict[str, str | None], current: str | None) -> runner.Progress:
    """What :func:`runner.progress` gives without repeats, by a walk over every place."""
    names = [slot.key for slot in walked_asked_slots(survey, answers)]
    if current is not None and current not in names:
        names.append(current)
    position = names.index(current) + 1 if current in names else len(names)
    return runner.Progress(position=position, total=len(names))


def every_place(survey: Survey) -> runner._Plan:
    """A plan that visits every place (what the walks did before there was a plan)."""
    full = runner._Plan(survey)
    full.recomputed = full.walked = repeats.flat_slots(survey)
    full.following = {}
    for index, slot in enumerate(full.walked):
        full.following.setdefault(slot.key, index + 1)
    return full


@pytest.mark.parametrize("name", ["mixed", "plain", "consultation"])
def test_asked_places_and_progress_are_those_of_a_walk_over_every_place(
    name: str, request: pytest.FixtureRequest
) -> None:
    survey: Survey = request.getfixturevalue(name)
    keys = [question.name for question in survey.questions]
    for answers in answer_sets(survey):
        state = runner.ResponseState(answers=answers, current=None, today=TODAY)
        assert runner.asked_slots(survey, state) == walked_asked_slots(survey, answers)
        for current in [None, "not_a_question", *keys]:
            at = replace(state, current=current)
            assert runner.progress(survey, at) == walked_progress(survey, answers, current), (answers, current)


@pytest.mark.parametrize("name", ["mixed", "plain", "consultation"])
def test_recompute_and_next_question_skip_only_places_where_nothing_happens(
    name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    survey: Survey = request.getfixturevalue(name)
    keys = [None, "not_a_question", *(question.name for question in survey.questions)]
    sets = answer_sets(survey)
    planned = [
        (
            runner._recompute(survey, answers, TODAY, NOW, {}),
            [runner._next_from(survey, k, answers, TODAY) for k in keys],
        )
        for answers in sets
    ]
    full = every_place(survey)
    monkeypatch.setattr(runner, "_plan", lambda _: full)
    walked = [
        (
            runner._recompute(survey, answers, TODAY, NOW, {}),
            [runner._next_from(survey, k, answers, TODAY) for k in keys],
        )
        for answers in sets
    ]
    assert planned == walked


def test_a_plain_survey_is_recomputed_without_a_walk(plain: Survey) -> None:
    assert runner._plan(plain).recomputed == ()
    assert runner._recompute(plain, {"a": "1"}, TODAY, NOW) == ({"a": "1"}, [])


def test_mixed_survey_plan_names_the_places_each_walk_needs(mixed: Survey) -> None:
    plan = runner._plan(mixed)
    assert [slot.key for slot in plan.recomputed] == ["started", "hours", "double", "pay", "size", "why", "ended"]
    assert [slot.key for slot in plan.walked] == ["hello", "works", "hours", "about_pay", "pay", "why", "bye"]
    assert plan.conditional


def test_progress_of_an_unconditional_survey_counts_a_key_it_does_not_ask_as_one_more(plain: Survey) -> None:
    state = runner.ResponseState(answers={}, current="c", today=TODAY)
    assert runner.progress(plain, state) == runner.Progress(3, 3)
    assert runner.progress(plain, replace(state, current=None)) == runner.Progress(3, 3)
    assert runner.progress(plain, replace(state, current="middle")) == runner.Progress(4, 4)


def test_the_plan_is_made_once_and_goes_with_its_survey(plain: Survey) -> None:
    copy = replace(plain, title=plain.title)
    assert runner._plan(copy) is runner._plan(copy)
    key = id(copy)
    assert runner._plan.holds(key)
    del copy
    gc.collect()
    assert not runner._plan.holds(key), "the plan goes with its survey"


def test_a_key_of_a_survey_without_repeats_names_its_question_slot(plain: Survey) -> None:
    slot = repeats.question_at(plain, "b")
    assert slot == Slot("b", plain.question("b"), ())
    assert slot is repeats.question_at(plain, "b"), "looked up, not built again"
    assert repeats.question_at(plain, "zz") is None
    assert repeats.question_at(plain, "member[1]/b") is None


def test_a_step_keeps_the_day_moment_and_seed_of_its_state(plain: Survey) -> None:
    state = runner.ResponseState(answers={}, current="a", selection=("x",), today=TODAY, now=NOW, seed="r-9")
    moved = runner.advance(plain, state, runner.TypedAnswer("5")).state
    assert moved == replace(state, answers={"a": "5"}, current="b", selection=())
