"""ODK's XPath functions beyond XPath 1.0's core, the new answer types, and once()/jr:choice-name() in a survey."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from surveys import runner
from surveys.answers import InvalidAnswer, parse_datetime, parse_time, parse_typed_answer
from surveys.expressions import Environment, evaluate_string, parse
from surveys.loader import load_survey_text
from surveys.model import LocalizedText, Question, QuestionType

ENVIRONMENT = Environment(
    answers={"day": "2026-03-05", "stamp": "2026-03-05T14:07:09", "many": "a b c", "q": "b", "n": "9"},
    today=date(2026, 3, 31),
    now=datetime(2026, 3, 31, 8, 0, 1, tzinfo=UTC),
    choice_labels={"q": {"a": "Apple", "b": "Banana"}},
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("sqrt(${n})", "3"), ("sqrt(-1)", "NaN"), ("pow(2, 10)", "1024"), ("pow(${n}, 0.5)", "3"),
        ("round(sqrt(2), 3)", "1.414"), ("exp(0)", "1"), ("exp10(2)", "100"), ("log10(1000)", "3"),
        ("log(0)", "NaN"), ("abs(-2.5)", "2.5"), ("floor(-2.5)", "-3"), ("ceiling(2.1)", "3"),
        ("round(pi(), 2)", "3.14"), ("round(atan2(1, 1) * 4, 5)", "3.14159"), ("max(1, ${n}, 3)", "9"),
        ("min(4, 2, 3)", "2"), ("max(1, 'x')", "NaN"),
        ("substr('hello', 1, 3)", "el"), ("substr('hello', 2)", "llo"), ("substring('hello', 2, 3)", "ell"),
        ("substring-before('a-b-c', '-')", "a"), ("substring-after('a-b-c', '-')", "b-c"),
        ("ends-with('report.pdf', '.pdf')", "true"), ("normalize-space('  a \t b  ')", "a b"),
        ("translate('abc', 'ab', 'B')", "Bc"), ("join(', ', ${many})", "a, b, c"), ("join('-', 'x', 'y')", "x-y"),
        ("boolean-from-string('1')", "true"), ("boolean-from-string('yes')", "false"),
        ("selected-at(${many}, 1)", "b"), ("count-selected(${many})", "3"), ("coalesce('', 'z')", "z"),
        ("if(${n} > 5, 'big', 'small')", "big"), ("concat('a', 1, true())", "a1true"), ("string-length('abc')", "3"),
        ("int(-2.7)", "-2"), ("number('x')", "NaN"), ("regex('AB12', '^[A-Z]{2}[0-9]{2}$')", "true"),
        ("format-date(${day}, '%d/%m/%Y %b %a %e %n %y')", "05/03/2026 Mar Thu 5 3 26"),
        ("format-date-time(${stamp}, '%H:%M:%S %h')", "14:07:09 14"), ("format-date('nope', '%Y')", ""),
        ("format-date(today(), '%Y-%m-%d')", "2026-03-31"), ("now()", "2026-03-31T08:00:01+00:00"),
        ("decimal-date-time('1970-01-02T12:00:00')", "1.5"), ("decimal-time('06:00:00')", "0.25"),
        ("date-time(1.5)", "1970-01-02T12:00:00"), ("jr:choice-name(${q}, '${q}')", "Banana"),
        ("jr:choice-name('zz', '${q}')", ""), ("once(3)", "3"),
    ],
)  # fmt: skip
def test_functions(text: str, value: str) -> None:
    assert evaluate_string(parse(text), ENVIRONMENT) == value


def test_uuid_is_a_fresh_uuid_and_once_keeps_the_first_value() -> None:
    first, second = (evaluate_string(parse("uuid()"), ENVIRONMENT) for _ in range(2))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert first != second
    kept = Environment(answers={}, own="already")
    assert evaluate_string(parse("once(uuid())"), kept) == "already"


def test_once_and_choice_names_in_a_survey() -> None:
    survey = load_survey_text(
        """
id: s
title: S
questions:
  - {type: select_one, name: fruit, label: "Fruit?", choices: [{name: a, label: Apple}, {name: b, label: Banana}]}
  - {type: calculate, name: fruit_label, calculate: "jr:choice-name(${fruit}, '${fruit}')"}
  - {type: calculate, name: first_id, calculate: "once(${fruit})"}
""",
        "s.yaml",
    )
    state = runner.start(survey, date(2026, 3, 31)).state
    state = runner.advance(survey, state, runner.PickChoice("b")).state
    assert (state.answers["fruit_label"], state.answers["first_id"]) == ("Banana", "b")
    assert state.current is None
    back = runner.back(survey, state)
    assert back.state.current == "fruit"
    again = runner.advance(survey, back.state, runner.PickChoice("a")).state
    assert (again.answers["fruit_label"], again.answers["first_id"]) == (
        "Apple",
        "b",
    )  # once: the first value that was not empty


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("14:30", "14:30:00"), ("7:05:09", "07:05:09"), ("14h30", "14:30:00"), ("14.30", "14:30:00"),
     ("2:30 pm", "14:30:00"), ("2:30 p.m.", "14:30:00"), ("12 am", "00:00:00"), ("12:15 PM", "12:15:00"),
     ("9 am", "09:00:00")],
)  # fmt: skip
def test_times(typed: str, stored: str) -> None:
    moment = parse_time(typed)
    assert moment is not None and moment.isoformat() == stored


@pytest.mark.parametrize("typed", ["9", "24:00", "13 pm", "0 am", "12:60", "noon", "", "1430"])
def test_not_times(typed: str) -> None:
    assert parse_time(typed) is None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("2026-03-31 14:30", "2026-03-31T14:30:00"), ("31/03/2026 2:30 pm", "2026-03-31T14:30:00"),
     ("2026-03-31T14:30:00+0200", "2026-03-31T14:30:00+02:00"), ("2026-03-31T14:30Z", "2026-03-31T14:30:00+00:00"),
     ("2026-03-31T14:30:00-05:00", "2026-03-31T14:30:00-05:00")],
)  # fmt: skip
def test_datetimes(typed: str, stored: str) -> None:
    assert parse_datetime(typed) == stored


@pytest.mark.parametrize("typed", ["2026-03-31", "14:30", "2026-02-30 10:00", "tomorrow at 3"])
def test_not_datetimes(typed: str) -> None:
    assert parse_datetime(typed) is None


def question(kind: QuestionType) -> Question:
    return Question(type=kind, name="q", label=LocalizedText({"en": "Q"}), line=1)


def test_acknowledge_and_barcode_answers() -> None:
    assert parse_typed_answer(question(QuestionType.ACKNOWLEDGE), " OK ") == "OK"
    assert parse_typed_answer(question(QuestionType.ACKNOWLEDGE), "oui") == "OK"
    with pytest.raises(InvalidAnswer) as refused:
        parse_typed_answer(question(QuestionType.ACKNOWLEDGE), "later")
    assert refused.value.problem.code == "not_acknowledged"
    assert parse_typed_answer(question(QuestionType.BARCODE), " 5901234123457 ") == "5901234123457"
    with pytest.raises(InvalidAnswer) as refused:
        parse_typed_answer(question(QuestionType.DATETIME), "soon")
    assert refused.value.problem.code == "not_datetime"
