"""The onboarding file's rules: which questions it may ask and that consent comes first.

Kept apart from the onboarding conversation so that :class:`handlers.context.Community` can
refuse a broken file when it is built, before any conversation runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from handlers.texts import SUPPORTED_LANGUAGES
from storage.repositories import REGISTER_FIELDS
from surveys import runner
from surveys.errors import SurveyProblem
from surveys.model import Question, QuestionType, Survey

CONSENT = "consent"
#: The question names an onboarding file may use: each is where its answer is stored.
FIELDS = ("consent", "language", "user_group", "region", "organisation", "topics")


def onboarding_problems(definition: Survey, user_groups: Iterable[str], topics: Iterable[str]) -> list[SurveyProblem]:
    """What makes ``definition`` unusable as the onboarding conversation, as ``FILE:LINE`` problems.

    Consent must come first and every other question must depend on it, so that a mistake in
    the file cannot make the bot store personal data without consent.
    """
    found: list[SurveyProblem] = []

    def problem(line: int, message: str) -> None:
        found.append(SurveyProblem(definition.source, line, message))

    asked = [question for question in definition.questions if question.is_asked]
    if not asked or asked[0].name != CONSENT:
        line = asked[0].line if asked else 1
        problem(line, "the onboarding must start with the question 'consent' (the privacy notice)")
    probe = date(2000, 1, 1)
    for question in definition.questions:
        if question.is_note:
            continue
        if question.name not in FIELDS:
            problem(question.line, f"'{question.name}' is not a register field; use {', '.join(FIELDS)}")
            continue
        if question.name != CONSENT and any(
            runner.is_relevant(question, answers, probe) for answers in ({}, {CONSENT: "no"})
        ):
            problem(
                question.line, f"'{question.name}' must only be asked after consent: add relevant: ${{consent}} = 'yes'"
            )
        problem_text = _field_problem(question, tuple(user_groups), tuple(topics))
        if problem_text is not None:
            problem(question.line, problem_text)
    return found


def _choice_names(question: Question) -> set[str]:
    return {choice.name for choice in question.choices}


def _same_names(question: Question, configured: tuple[str, ...], what: str) -> str | None:
    missing = [name for name in configured if name not in _choice_names(question)]
    extra = sorted(_choice_names(question) - set(configured))
    if missing:
        return f"'{question.name}' has no choice for {', '.join(missing)} ({what} in config.yaml)"
    if extra:
        return f"'{question.name}' has choices that are not {what} in config.yaml: {', '.join(extra)}"
    return None


def _field_problem(question: Question, user_groups: tuple[str, ...], topics: tuple[str, ...]) -> str | None:
    kind = question.type
    if question.name == CONSENT:
        if kind is not QuestionType.SELECT_ONE or _choice_names(question) != {"yes", "no"}:
            return "'consent' must be a select_one with the choices yes and no"
    elif question.name == "language":
        if kind is not QuestionType.SELECT_ONE or not _choice_names(question) <= set(SUPPORTED_LANGUAGES):
            return f"'language' must be a select_one among the bot's languages: {', '.join(SUPPORTED_LANGUAGES)}"
    elif question.name == "user_group":
        if kind is not QuestionType.SELECT_ONE:
            return "'user_group' must be a select_one"
        return _same_names(question, user_groups, "register.user_groups")
    elif question.name == "topics":
        if kind is not QuestionType.SELECT_MULTIPLE:
            return "'topics' must be a select_multiple"
        return _same_names(question, topics, "register.topics")
    elif question.name in REGISTER_FIELDS:  # region, organisation
        width = REGISTER_FIELDS[question.name]
        if kind is QuestionType.TEXT and (question.max_length is None or question.max_length > width):
            return f"'{question.name}' needs max_length: {width} or less"
        if kind not in (QuestionType.TEXT, QuestionType.SELECT_ONE):
            return f"'{question.name}' must be a text or a select_one"
        if kind is QuestionType.SELECT_ONE and any(len(name) > width for name in _choice_names(question)):
            return f"the choice names of '{question.name}' must be at most {width} characters"
    return None
