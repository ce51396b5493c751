"""XLSForm semantics in the pure runner, on the multilingual consultation form imported from
``tests/xlsforms/user_consultation.xlsx``: skip logic, groups, choice filters, constraints,
calculations and ``/back``."""

from __future__ import annotations

from datetime import date

import pytest

from surveys import runner
from surveys.loader import load_survey_text
from surveys.model import Survey
from surveys.xlsform import convert_xlsform
from testkit import paths

XLSFORMS = paths.XLSFORMS
TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def consultation() -> Survey:
    conversion = convert_xlsform(XLSFORMS / "user_consultation.xlsx")
    return load_survey_text(conversion.yaml_text, "user_consultation.yaml")


def walk(survey: Survey, *actions: runner.Action) -> runner.Outcome:
    """Apply actions from the start; every one must be accepted."""
    outcome = runner.start(survey, TODAY)
    for action in actions:
        outcome = step(survey, outcome.state, action)
        assert outcome.problem is None, (action, outcome.problem, outcome.state.current)
    return outcome


def step(survey: Survey, state: runner.ResponseState, action: runner.Action) -> runner.Outcome:
    if isinstance(action, runner.ToggleChoice):
        return runner.advance(survey, state, action)
    return runner.advance(survey, state, action)


T, P, Tick, Done, Skip = (
    runner.TypedAnswer,
    runner.PickChoice,
    runner.ToggleChoice,
    runner.FinishSelection,
    runner.SkipQuestion,
)


def test_skipped_group_leaves_its_questions_empty_and_calculations_follow(consultation: Survey) -> None:
    outcome = walk(consultation, P("media"), P("north"), P("hillside"), P("never"), P("no"), Skip())
    assert outcome.finished
    answers = outcome.state.answers
    assert answers["frequency"] == "never"
    for name in ("topics", "channels", "satisfaction", "found_easily", "difficulty_reasons", "contact_email"):
        assert answers.get(name) is None, name
    assert answers["topic_count"] == "0"
    assert "user_type_other" not in answers


def test_relevant_other_is_asked_only_for_other(consultation: Survey) -> None:
    outcome = walk(consultation, P("other"))
    assert outcome.state.current == "user_type_other"
    outcome = walk(consultation, P("student"))
    assert outcome.state.current == "region"


def test_choice_filter_offers_only_the_districts_of_the_region(consultation: Survey) -> None:
    state = walk(consultation, P("media"), P("south")).state
    assert state.current == "district"
    question = consultation.question("district")
    assert [c.name for c in runner.visible_choices(question, state)] == ["riverbend", "plains"]
    refused = runner.advance(consultation, state, T("Hillside"))
    assert refused.problem is not None and refused.problem.code == "unknown_choice"
    forged = runner.advance(consultation, state, P("hillside"))
    assert forged.problem is not None
    assert dict(runner.advance(consultation, state, T("2")).recorded)["district"] == "plains"


def test_constraint_and_required_messages_come_from_the_form(consultation: Survey) -> None:
    state = walk(consultation, P("media"), P("coast"), P("dunes"), P("weekly")).state
    assert state.current == "topics"
    empty = runner.advance(consultation, state, Done())
    assert empty.problem is not None and empty.problem.message is not None
    assert empty.problem.message.in_language("fr", "en") == "Veuillez choisir au moins un thème."
    for choice in ("population", "prices", "labour", "economy"):
        state = runner.advance(consultation, state, Tick(choice)).state
    too_many = runner.advance(consultation, state, Done())
    assert too_many.problem is not None and too_many.problem.code == "constraint"
    assert too_many.problem.message is not None
    assert too_many.problem.message.in_language("pt", "en") == "Escolha no máximo três temas."


def test_email_constraint_with_regex(consultation: Survey) -> None:
    state = walk(consultation, P("media"), P("north"), P("lakeside"), P("never"), P("yes")).state
    assert state.current == "contact_email"
    assert runner.advance(consultation, state, T("not an address")).problem is not None
    assert runner.advance(consultation, state, T("ana@example.org")).problem is None


def test_back_keeps_later_answers_that_stay_relevant_and_clears_the_others(consultation: Survey) -> None:
    outcome = walk(
        consultation,
        P("researcher"), P("north"), P("hillside"), P("monthly"),
        Tick("prices"), Tick("labour"), Done(),
        Tick("website"), Done(),
        T("2"), P("no"),
        Tick("missing"), Done(),
    )  # fmt: skip
    assert outcome.state.current == "contact_ok"
    assert outcome.state.answers["topic_count"] == "2"
    assert outcome.state.answers["difficulty_reasons"] == "missing"
    # /back twice: to difficulty_reasons, then to found_easily.
    state = runner.back(consultation, outcome.state).state
    assert state.current == "difficulty_reasons"
    state = runner.back(consultation, state).state
    assert state.current == "found_easily"
    changed = runner.advance(consultation, state, P("yes"))
    recorded = dict(changed.recorded)
    assert recorded["found_easily"] == "yes"
    assert recorded["difficulty_reasons"] is None, "the nested group is no longer relevant: its answer goes"
    assert changed.state.current == "contact_ok", "answers kept from before are not asked again"
    assert changed.state.answers["satisfaction"] == "2"
    # Back to the topics: ticks start from the stored answer, and the calculation follows the change.
    state = changed.state
    while state.current != "topics":
        state = runner.back(consultation, state).state
    assert state.selection == ("prices", "labour")
    state = runner.advance(consultation, state, Tick("health")).state
    again = runner.advance(consultation, state, Done())
    assert dict(again.recorded)["topic_count"] == "3"
    assert again.state.current == "contact_ok"


def test_back_on_the_first_question_says_so(consultation: Survey) -> None:
    outcome = runner.back(consultation, runner.start(consultation, TODAY).state)
    assert outcome.problem is not None and outcome.problem.code == "no_previous_question"


def test_progress_counts_only_relevant_questions(consultation: Survey) -> None:
    state = walk(consultation, P("media"), P("north"), P("hillside")).state
    before = runner.progress(consultation, state)
    assert (before.position, before.total) == (4, 10)  # the nested group and e-mail are not relevant yet
    never = walk(consultation, P("media"), P("north"), P("hillside"), P("never")).state
    after = runner.progress(consultation, never)
    assert (after.position, after.total) == (5, 6)  # the whole usage group drops out


def test_today_in_constraints_uses_the_callers_date() -> None:
    survey = load_survey_text(
        "id: d\ntitle: D\nquestions:\n  - {type: date, name: when, label: When, constraint: '. <= today()'}\n", "d.yaml"
    )
    state = runner.start(survey, TODAY).state
    assert runner.advance(survey, state, T("2026-11-25")).problem is None
    assert runner.advance(survey, state, T("2026-11-26")).problem is not None
