"""``${name}`` in survey texts replaced by the answer, as ODK shows it.

Labels, hints, choice labels and constraint/required messages may name earlier answers
(``Is ${child_name} at school?``). The answer is shown as the respondent would read it: the
choice label in the conversation language for a ``select_one``, the labels joined for a
``select_multiple``, the value itself otherwise, nothing when unanswered or skipped. A name that
is no question of the survey shows its value when the answers have one (the current pass of a
repeat is visible under the bare names), else nothing: no respondent ever sees ``${...}``.
``${last_wave.name}`` is the previous wave's answer of a panel survey (:mod:`surveys.panels`),
shown with the labels of this survey's question of the same name.

Pure: a survey, the answers so far and the language in; text or :mod:`surveys.markup` spans out.
The answer is put in after the formatting is read, so an answer never formats the text (an
answer ``*x*`` shows its asterisks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from surveys import markup, panels
from surveys.model import CHOICE_TYPES, QuestionType, Survey

#: ``${name}``, spaces inside the braces allowed; whatever the braces hold (also ``${.}``) is replaced.
REFERENCE = re.compile(r"\$\{\s*([^{}\s]*)\s*\}")
# While the markup is read, each reference stands as one private-use character (plane 16): the
# markers of the text cannot reach into a name (``${first_name}`` has underscores).
_HOLE_BASE = 0x100000
_HOLE = re.compile("[\U00100000-\U0010fffd]")

Answers = Mapping[str, str | None]
#: A choice label may itself name answers (``Yes, ${child} does``): filled that deep, no deeper.
MAX_DEPTH = 2


def references(text: str) -> tuple[str, ...]:
    """The names ``text`` refers to, in order (repeated names once)."""
    return tuple(dict.fromkeys(match.group(1) for match in REFERENCE.finditer(text)))


def shown_answer(survey: Survey, name: str, answers: Answers, language: str, _depth: int = 0) -> str:
    """The answer to ``name`` as ODK shows it in a text; empty when there is none."""
    value = answers.get(name)
    if _depth >= MAX_DEPTH:
        return ""
    if value is None or value == "":
        return ""
    question_name = name.removeprefix(panels.PREFIX)
    if not survey.has_question(question_name):
        return value
    question = survey.question(question_name)
    if question.type not in CHOICE_TYPES:
        return value
    chosen = value.split() if question.type is QuestionType.SELECT_MULTIPLE else [value]
    labels = []
    for choice_name in chosen:
        choice = question.choice(choice_name)
        if choice is None:
            labels.append(choice_name)
            continue
        label = choice.label.in_language(language, survey.default_language)
        labels.append(_plain(label, survey, answers, language, _depth + 1))
    return ", ".join(labels)


def substitute(text: str, survey: Survey, answers: Answers, language: str) -> str:
    """``text`` with every ``${name}`` replaced (the text's own markup is left as it is)."""
    if "${" not in text:
        return text
    return REFERENCE.sub(lambda m: shown_answer(survey, m.group(1), answers, language), text)


def rich(text: str, survey: Survey, answers: Answers, language: str) -> markup.Rich:
    """``text`` read as formatted spans, with every ``${name}`` replaced by its answer."""
    return _rich(text, survey, answers, language, 0)


def _rich(text: str, survey: Survey, answers: Answers, language: str, depth: int) -> markup.Rich:
    if "${" not in text:
        return markup.parse(text)
    names: list[str] = []

    def hole(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return chr(_HOLE_BASE + len(names) - 1)

    spans = markup.parse(REFERENCE.sub(hole, text))
    values = [shown_answer(survey, name, answers, language, depth) for name in names]

    def fill(found: re.Match[str]) -> str:
        index = ord(found.group(0)) - _HOLE_BASE
        return values[index] if index < len(values) else ""

    return markup.tidy(
        replace(span, text=_HOLE.sub(fill, span.text), link=_HOLE.sub(fill, span.link) if span.link else None)
        for span in spans
    )


def plain(text: str, survey: Survey, answers: Answers, language: str) -> str:
    """``text`` as clean text, with every ``${name}`` replaced by its answer (button labels)."""
    return _plain(text, survey, answers, language, 0)


def _plain(text: str, survey: Survey, answers: Answers, language: str, depth: int) -> str:
    return markup.plain(_rich(text, survey, answers, language, depth))
