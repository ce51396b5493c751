"""A survey's results as published: per question the overall figures and the breakdowns, weighted
to the margins when the survey has them, with disclosure control applied.

:func:`build_report` computes it from the respondents (no I/O); :func:`to_json` and
:func:`from_json` keep it as a publication's snapshot. Every figure keeps its unweighted count for
staff; what is public is what :attr:`Cell.hidden` and :attr:`Group.hidden` leave shown.
Free-text, date and media answers are never in a report.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeVar

from results.estimates import Interval, weighted_mean, weighted_median, weighted_share
from results.suppression import Equation, suppress
from results.weighting import effective_size, rake
from surveys.model import CHOICE_TYPES, Question, QuestionType, Survey

NUMBER_TYPES = frozenset({QuestionType.INTEGER, QuestionType.DECIMAL, QuestionType.RANGE})
#: The category of respondents who did not give one (an anonymous response, no region in the register).
NOT_GIVEN = ""
CHOICE = "choice"
NUMBER = "number"


@dataclass(frozen=True)
class Respondent:
    """One completed response: the respondent's ``profile`` (user_group, region, language,
    channel: None when not known) and the answers by question name (as stored)."""

    profile: Mapping[str, str | None]
    answers: Mapping[str, str | None]


@dataclass(frozen=True)
class Cell:
    """One choice's figure in a group: the (weighted) share of the group's respondents who chose it."""

    choice: str
    count: int
    hidden: bool
    share: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Group:
    """The respondents of one category of a breakdown (or all of them) who answered a question."""

    category: str
    respondents: int
    hidden: bool
    cells: tuple[Cell, ...] = ()
    #: Number questions: the weighted mean with its interval, and the weighted median.
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    median: float | None = None


@dataclass(frozen=True)
class Breakdown:
    dimension: str
    groups: tuple[Group, ...]


@dataclass(frozen=True)
class QuestionResults:
    name: str
    kind: str  # CHOICE or NUMBER
    multiple: bool
    overall: Group
    breakdowns: tuple[Breakdown, ...]


@dataclass(frozen=True)
class ResultsReport:
    survey_id: str
    #: Completed responses included.
    respondents: int
    weighted: bool
    min_cell: int
    #: The latest completion included: the date of the data.
    data_as_of: datetime | None
    #: Kish's effective sample size of all respondents (equal to ``respondents`` unweighted).
    effective_size: float
    questions: tuple[QuestionResults, ...]
    #: Margin categories that no respondent is in (left out of the weighting), for staff.
    empty_margins: tuple[tuple[str, str], ...] = ()
    #: False when raking did not meet the margins (staff are told).
    weights_converged: bool = True

    def question(self, name: str) -> QuestionResults:
        return next(question for question in self.questions if question.name == name)


def published_questions(survey: Survey) -> tuple[Question, ...]:
    """The questions a results page shows: choices and numbers outside repeats, in survey order."""
    return tuple(
        question
        for question in survey.data_questions
        if not question.repeats and (question.type in CHOICE_TYPES or question.type in NUMBER_TYPES)
    )


def weighting_profile(respondent: Respondent) -> dict[str, str | None]:
    """What the margins may weight by: the profile and the answers to the survey's questions."""
    return {**respondent.answers, **respondent.profile}


def build_report(survey: Survey, respondents: Sequence[Respondent], data_as_of: datetime | None) -> ResultsReport:
    """The results of ``respondents`` (completed responses) as :mod:`results` publishes them."""
    settings = survey.results
    raking = rake([weighting_profile(r) for r in respondents], settings.margins)
    weights = raking.weights
    categories = {
        dimension: _categories(dimension, [r.profile.get(dimension) for r in respondents], survey)
        for dimension in settings.breakdowns
    }
    questions = tuple(
        _question(question, respondents, weights, categories, settings.min_cell)
        for question in published_questions(survey)
    )
    return ResultsReport(
        survey_id=survey.id,
        respondents=len(respondents),
        weighted=settings.weighted,
        min_cell=settings.min_cell,
        data_as_of=data_as_of,
        effective_size=effective_size(weights),
        questions=questions,
        empty_margins=raking.empty,
        weights_converged=raking.converged,
    )


def _categories(dimension: str, values: Sequence[str | None], survey: Survey) -> tuple[str, ...]:
    """A breakdown's categories: the margins' order, then the others sorted, "not given" last."""
    ordered = [m.category for m in survey.results.margins if m.dimension == dimension]
    seen = {value for value in values if value}
    found = [category for category in ordered if category in seen]
    found += sorted(seen - set(found))
    if any(not value for value in values):
        found.append(NOT_GIVEN)
    return tuple(found)


def _question(
    question: Question,
    respondents: Sequence[Respondent],
    weights: Sequence[float],
    categories: Mapping[str, tuple[str, ...]],
    min_cell: int,
) -> QuestionResults:
    if question.type in CHOICE_TYPES:
        return _choice_question(question, respondents, weights, categories, min_cell)
    return _number_question(question, respondents, weights, categories, min_cell)


def _picked(question: Question, value: str | None, choices: frozenset[str]) -> frozenset[str] | None:
    """The survey's choices an answer picks (None: not answered, or only codes the survey no longer
    has, so that a group's choices still add up to its size)."""
    if value is None or value == "":
        return None
    picked = frozenset(value.split()) if question.type is QuestionType.SELECT_MULTIPLE else frozenset((value,))
    return (picked & choices) or None


Key = tuple[str, str, str | None]
T = TypeVar("T")


def _grouped(
    categories: Mapping[str, tuple[str, ...]], given: Sequence[tuple[T, float, Mapping[str, str | None]]]
) -> dict[tuple[str, str], list[tuple[T, float]]]:
    """The answers with their weights by group: everyone (``("", "")``), then each category of each
    breakdown (``(dimension, category)``, "not given" for a respondent without one)."""
    members: dict[tuple[str, str], list[tuple[T, float]]] = {("", ""): []}
    for dimension, found in categories.items():
        for category in found:
            members[(dimension, category)] = []
    for answer, weight, profile in given:
        members[("", "")].append((answer, weight))
        for dimension in categories:
            members[(dimension, profile.get(dimension) or NOT_GIVEN)].append((answer, weight))
    return members


def _choice_question(
    question: Question,
    respondents: Sequence[Respondent],
    weights: Sequence[float],
    categories: Mapping[str, tuple[str, ...]],
    min_cell: int,
) -> QuestionResults:
    choices = tuple(choice.name for choice in question.choices)
    single = question.type is QuestionType.SELECT_ONE
    answered = [
        (picked, weight, respondent.profile)
        for respondent, weight in zip(respondents, weights, strict=True)
        if (picked := _picked(question, respondent.answers.get(question.name), frozenset(choices))) is not None
    ]
    # Every group: its key prefix (dimension, category) and its respondents.
    members = _grouped(categories, answered)
    counts: dict[Hashable, int] = {}
    groups: dict[Hashable, list[Hashable]] = {}
    for (dimension, category), people in members.items():
        counts[(dimension, category, None)] = len(people)
        groups[(dimension, category, None)] = [(dimension, category, choice) for choice in choices]
        for choice in choices:
            counts[(dimension, category, choice)] = sum(1 for picked, _ in people if choice in picked)
    equations = _equations(categories, choices, single)
    hidden = suppress(counts, equations, min_cell, groups)

    def group(dimension: str, category: str) -> Group:
        people = members[(dimension, category)]
        size_key: Key = (dimension, category, None)
        cells = []
        for choice in choices:
            key: Key = (dimension, category, choice)
            if key in hidden or not people:
                cells.append(Cell(choice, counts[key], True))
                continue
            interval = weighted_share([choice in picked for picked, _ in people], [w for _, w in people])
            cells.append(Cell(choice, counts[key], False, interval.estimate, interval.low, interval.high))
        return Group(category, len(people), size_key in hidden or not people, tuple(cells))

    return QuestionResults(
        question.name,
        CHOICE,
        not single,
        group("", ""),
        tuple(
            Breakdown(dimension, tuple(group(dimension, category) for category in found))
            for dimension, found in categories.items()
        ),
    )


def _equations(categories: Mapping[str, tuple[str, ...]], choices: tuple[str, ...], single: bool) -> list[Equation]:
    """The sums that hold between a question's published counts (see :mod:`results.suppression`)."""
    equations: list[Equation] = []
    if single:
        equations.append(Equation(("", "", None), tuple(("", "", c) for c in choices)))
    for dimension, found in categories.items():
        equations.append(Equation(("", "", None), tuple((dimension, category, None) for category in found)))
        for choice in choices:
            equations.append(Equation(("", "", choice), tuple((dimension, category, choice) for category in found)))
        if single:
            for category in found:
                equations.append(
                    Equation((dimension, category, None), tuple((dimension, category, c) for c in choices))
                )
    return equations


def _number(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _number_question(
    question: Question,
    respondents: Sequence[Respondent],
    weights: Sequence[float],
    categories: Mapping[str, tuple[str, ...]],
    min_cell: int,
) -> QuestionResults:
    given = [
        (value, weight, respondent.profile)
        for respondent, weight in zip(respondents, weights, strict=True)
        if (value := _number(respondent.answers.get(question.name))) is not None
    ]
    members = _grouped(categories, given)
    counts: dict[Hashable, int] = {(d, c, None): len(people) for (d, c), people in members.items()}
    equations = [
        Equation(("", "", None), tuple((dimension, category, None) for category in found))
        for dimension, found in categories.items()
    ]
    hidden = suppress(counts, equations, min_cell)

    def group(dimension: str, category: str) -> Group:
        people = members[(dimension, category)]
        if (dimension, category, None) in hidden or not people:
            return Group(category, len(people), True)
        values, group_weights = [v for v, _ in people], [w for _, w in people]
        mean: Interval = weighted_mean(values, group_weights)
        median = weighted_median(values, group_weights)
        return Group(category, len(people), False, (), mean.estimate, mean.low, mean.high, median)

    return QuestionResults(
        question.name,
        NUMBER,
        False,
        group("", ""),
        tuple(
            Breakdown(dimension, tuple(group(dimension, category) for category in found))
            for dimension, found in categories.items()
        ),
    )


def to_json(report: ResultsReport) -> str:
    """The report as JSON (a publication's snapshot)."""
    data = asdict(report)
    data["data_as_of"] = report.data_as_of.isoformat() if report.data_as_of else None
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def from_json(text: str) -> ResultsReport:
    """The report that :func:`to_json` wrote."""
    data: dict[str, Any] = json.loads(text)

    def group(item: Mapping[str, Any]) -> Group:
        return Group(**{**item, "cells": tuple(Cell(**cell) for cell in item["cells"])})

    questions = tuple(
        QuestionResults(
            item["name"],
            item["kind"],
            item["multiple"],
            group(item["overall"]),
            tuple(Breakdown(b["dimension"], tuple(group(g) for g in b["groups"])) for b in item["breakdowns"]),
        )
        for item in data["questions"]
    )
    moment = data.get("data_as_of")
    return ResultsReport(
        survey_id=data["survey_id"],
        respondents=data["respondents"],
        weighted=data["weighted"],
        min_cell=data["min_cell"],
        data_as_of=datetime.fromisoformat(moment) if moment else None,
        effective_size=data["effective_size"],
        questions=questions,
        empty_margins=tuple((str(pair[0]), str(pair[1])) for pair in data.get("empty_margins", ())),
        weights_converged=bool(data.get("weights_converged", True)),
    )
