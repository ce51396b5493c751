"""The pure runner and answer parsing: no I/O, every path checked directly."""

from __future__ import annotations

import pytest

from surveys import runner
from surveys.answers import InvalidAnswer, parse_date, parse_number, parse_typed_answer
from surveys.loader import load_survey_text
from surveys.model import Survey

SMALL = """
id: small
title: Small
questions:
  - {type: note, name: welcome, label: Welcome}
  - {type: select_one, name: group, label: "Group?", choices: [{name: a, label: Alpha}, {name: b, label: {en: Beta, fr: Bêta}}]}
  - {type: select_multiple, name: topics, label: "Topics?", choices: [{name: x, label: Ex}, {name: y, label: Why}, {name: z, label: Zed}]}
  - {type: integer, name: age, label: "Age?", min: 15, max: 120}
  - {type: decimal, name: spend, label: "Spend?", min: 0}
  - {type: range, name: score, label: "Score?", start: 1, end: 5}
  - {type: date, name: when, label: "When?", required: false}
  - {type: text, name: comment, label: "Comment?", required: false}
  - {type: note, name: bye, label: Bye}
"""


@pytest.fixture
def small() -> Survey:
    return load_survey_text(SMALL, "small.yaml")


def test_start_shows_leading_notes_then_first_question(small: Survey) -> None:
    outcome = runner.start(small)
    assert [n.name for n in outcome.notes] == ["welcome"]
    assert outcome.state.current == "group"
    assert runner.progress(small, outcome.state) == runner.Progress(1, 7)


def test_full_walk_records_each_answer_in_canonical_form(small: Survey) -> None:
    state = runner.start(small).state
    steps: list[runner.Action] = [
        runner.TypedAnswer("beta"),
        runner.ToggleChoice("z"),
        runner.ToggleChoice("x"),
        runner.FinishSelection(),
        runner.TypedAnswer("42"),
        runner.TypedAnswer("1 234,50"),
        runner.TypedAnswer("4"),
        runner.TypedAnswer("31/03/2026"),
        runner.SkipQuestion(),
    ]
    recorded: dict[str, str | None] = {}
    last = None
    for action in steps:
        last = runner.advance(small, state, action)
        assert last.problem is None, (action, last.problem)
        recorded.update(dict(last.recorded))
        state = last.state
    assert last is not None and last.finished
    assert [n.name for n in last.notes] == ["bye"]
    assert recorded == {
        "group": "b",
        "topics": "x z",  # choice-list order, space separated, as XLSForm stores it
        "age": "42",
        "spend": "1234.5",
        "score": "4",
        "when": "2026-03-31",
        "comment": None,
    }


@pytest.mark.parametrize(
    ("question", "typed", "code"),
    [
        ("age", "fourteen", "not_integer"),
        ("age", "14", "below_minimum"),
        ("age", "121", "above_maximum"),
        ("age", "12.5", "not_integer"),
        ("spend", "-1", "below_minimum"),
        ("spend", "lots", "not_number"),
        ("score", "6", "not_in_range"),
        ("score", "2.5", "not_in_range"),
        ("when", "2026-02-30", "not_date"),
        ("when", "yesterday-ish", "not_date"),
        ("group", "gamma", "unknown_choice"),
        ("group", "3", "unknown_choice"),
        ("topics", "1, 7", "unknown_choices"),
    ],
)
def test_wrong_answer_gives_reason_and_keeps_the_question(small: Survey, question: str, typed: str, code: str) -> None:
    state = runner.ResponseState(answers={}, current=question)
    outcome = runner.advance(small, state, runner.TypedAnswer(typed))
    assert outcome.problem is not None and outcome.problem.code == code
    assert outcome.state == state
    assert outcome.recorded == ()


def test_required_question_refuses_skip(small: Survey) -> None:
    state = runner.ResponseState(answers={}, current="age")
    outcome = runner.advance(small, state, runner.SkipQuestion())
    assert outcome.problem is not None and outcome.problem.code == "required"


def test_select_multiple_toggles_then_done_requires_a_tick(small: Survey) -> None:
    state = runner.ResponseState(answers={}, current="topics")
    refused = runner.advance(small, state, runner.FinishSelection())
    assert refused.problem is not None and refused.problem.code == "select_at_least_one"
    ticked = runner.advance(small, state, runner.ToggleChoice("y"))
    assert ticked.selection_changed and ticked.state.selection == ("y",)
    unticked = runner.advance(small, ticked.state, runner.ToggleChoice("y"))
    assert unticked.state.selection == ()


def test_typed_numbers_answer_select_multiple(small: Survey) -> None:
    outcome = runner.advance(small, runner.ResponseState({}, "topics"), runner.TypedAnswer("3, 1"))
    assert dict(outcome.recorded) == {"topics": "x z"}


def test_press_on_a_non_choice_question_is_refused(small: Survey) -> None:
    outcome = runner.advance(small, runner.ResponseState({}, "age"), runner.PickChoice("a"))
    assert outcome.problem is not None and outcome.problem.code == "press_not_expected"


def test_forged_choice_name_is_refused(small: Survey) -> None:
    outcome = runner.advance(small, runner.ResponseState({}, "group"), runner.PickChoice("zzz"))
    assert outcome.problem is not None


def test_resume_continues_at_first_unanswered_question(small: Survey) -> None:
    outcome = runner.resume(small, {"group": "a", "topics": "x", "removed_question": "1"})
    assert outcome.state.current == "age"
    assert "removed_question" not in outcome.state.answers


def test_resume_of_fully_answered_response_is_finished(small: Survey) -> None:
    answers = {q.name: "1" for q in small.data_questions}
    assert runner.resume(small, answers).finished


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("1234", "1234"), ("1 234,5", "1234.5"), ("1,234.5", "1234.5"), ("-3.25", "-3.25"), ("0,5", "0.5"), ("x", None)],
)
def test_numbers_in_common_notations(typed: str, expected: str | None) -> None:
    parsed = parse_number(typed)
    assert (str(parsed) if parsed is not None else None) == expected


def test_dates_day_first_and_iso() -> None:
    assert str(parse_date("2026-03-31")) == "2026-03-31"
    assert str(parse_date("31.03.2026")) == "2026-03-31"
    assert parse_date("03/31/2026") is None  # month-first is not accepted: it would be ambiguous


def test_choice_labels_match_without_accents_or_case(small: Survey) -> None:
    group = small.question("group")
    assert parse_typed_answer(group, "  BÊTA ") == "b"
    assert parse_typed_answer(group, "2") == "b"
    with pytest.raises(InvalidAnswer):
        parse_typed_answer(group, "")
