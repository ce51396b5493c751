"""``ussd: {text_questions: true}`` in a survey file: free-text questions are asked over USSD too."""

from __future__ import annotations

import pytest

from surveys.errors import SurveyFileError
from surveys.loader import load_survey_text
from surveys.model import Survey

FORM = "id: s\ntitle: T\n{extra}questions:\n  - {{type: text, name: a, label: A}}\n"


def test_free_text_over_ussd_is_off_unless_the_survey_says_so(usat: Survey) -> None:
    assert not load_survey_text(FORM.format(extra=""), "form.yaml").ussd_text_questions
    assert load_survey_text(FORM.format(extra="ussd: {text_questions: true}\n"), "form.yaml").ussd_text_questions
    assert usat.ussd_text_questions, "the shipped survey asks for comments over USSD too"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("ussd: {text_question: true}\n", "form.yaml:3: unknown key 'text_question' in ussd"),
        ("ussd: {text_questions: perhaps}\n", "form.yaml:3: text_questions"),
        ("ussd: yes\n", "form.yaml:3: ussd must be a mapping"),
    ],
)
def test_a_wrong_ussd_setting_is_reported_at_its_line(extra: str, expected: str) -> None:
    with pytest.raises(SurveyFileError) as raised:
        load_survey_text(FORM.format(extra=extra), "form.yaml")
    assert any(str(problem).startswith(expected) for problem in raised.value.problems), raised.value.problems
