"""Questions that take their answer from the register (``from_profile`` or
``default: ${profile.x}``): loaded, validated with FILE:LINE, and skipped by the pure runner when
the profile given to it knows the answer."""

from __future__ import annotations

from datetime import date

import pytest

from surveys import runner
from surveys.errors import SurveyFileError
from surveys.loader import load_survey_text
from surveys.model import Survey

TODAY = date(2026, 5, 4)
FORM = """\
id: prefill
title: Prefill
questions:
  - type: select_one
    name: group
    label: Which group?
    choices: groups
    from_profile: user_group
  - type: text
    name: where
    label: Where?
    default: ${profile.region}
  - type: text
    name: why
    label: Why?
choices:
  groups:
    - {name: media, label: Media}
    - {name: citizen, label: Citizen}
"""


def prefill_survey() -> Survey:
    return load_survey_text(FORM, "prefill.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(SurveyFileError) as caught:
        load_survey_text(text, "form.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_both_spellings_name_the_register_field_and_leave_no_default() -> None:
    survey = prefill_survey()
    assert survey.question("group").from_profile == "user_group"
    assert survey.question("where").from_profile == "region"
    assert survey.question("where").default is None
    assert survey.question("why").from_profile is None


def test_known_profile_answers_are_recorded_and_not_asked() -> None:
    outcome = runner.start(prefill_survey(), TODAY, profile={"user_group": "media", "region": "North"})
    assert outcome.state.current == "why"
    assert dict(outcome.recorded) == {"group": "media", "where": "North"}
    assert runner.progress(prefill_survey(), outcome.state).position == 3


def test_unknown_or_unfitting_profile_values_leave_the_question_asked() -> None:
    survey = prefill_survey()
    assert runner.start(survey, TODAY).state.current == "group"
    outcome = runner.start(survey, TODAY, profile={"user_group": "parliament", "region": " "})
    assert outcome.state.current == "group", "not one of the question's choices"
    assert outcome.recorded == ()
    answered = runner.advance(survey, outcome.state, runner.PickChoice("citizen"))
    assert answered.state.current == "where", "an empty profile value is no answer"


def test_resuming_fills_what_the_profile_learnt_since_and_keeps_given_answers() -> None:
    survey = prefill_survey()
    outcome = runner.resume(survey, {"group": "citizen"}, TODAY, profile={"user_group": "media", "region": "South"})
    assert outcome.state.current == "why"
    assert outcome.state.answers["group"] == "citizen", "an answer given is not overwritten"
    assert dict(outcome.recorded) == {"where": "South"}


def test_an_unknown_profile_field_or_a_question_not_asked_is_reported_with_its_line() -> None:
    bad = FORM.replace("from_profile: user_group", "from_profile: salary").replace(
        "default: ${profile.region}", "default: ${profile.phone}"
    )
    found = problems(bad)
    assert any("form.yaml:8" in p and "'salary', which is no profile field" in p for p in found), found
    assert any("form.yaml:12" in p and "'phone'" in p for p in found), found
    note = "id: n\ntitle: N\nquestions:\n  - {type: note, name: n, label: Hi, from_profile: region}\n"
    assert any("form.yaml:4" in p and "not asked" in p for p in problems(note))


def test_the_shipped_survey_takes_the_user_group_from_the_register(usat: Survey) -> None:
    question = usat.question("user_group")
    assert question.from_profile == "user_group"
    outcome = runner.start(usat, TODAY, profile={"user_group": "researcher"})
    assert outcome.state.current == "frequency"
