"""What one respondent is shown: the survey's order and wording for their response.

Pure functions. A group with ``randomize: true`` (:class:`~surveys.model.ShuffledGroup`) shows
its items in an order drawn from the response's seed (its id) and the group's name, so the
order is the same every time the response is read, after a restart, on any channel and for
every worker: it is derived, never stored. A split-sample experiment
(:class:`~surveys.model.Experiment`) words some questions differently per arm.

:func:`for_response` gives the survey as the runner should walk it for one response; the runner
then counts progress ("3/12") and applies relevance in that order.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace

from surveys.model import Experiment, Question, ShuffledGroup, Survey
from surveys.substitution import references


def _shuffled_units(group: ShuffledGroup, seed: str) -> list[tuple[str, ...]]:
    units = list(group.units)
    random.Random(f"{seed}/group/{group.name}").shuffle(units)
    return units


def question_order(survey: Survey, seed: str) -> tuple[str, ...]:
    """The survey's question names in the order the response with ``seed`` is asked them."""
    order = [question.name for question in survey.questions]
    for group in survey.shuffled_groups:
        members = set(group.questions)
        places = [index for index, name in enumerate(order) if name in members]
        if not places:
            continue
        # The group's questions are contiguous (nested shuffles move whole units inside it);
        # each unit keeps the inner order it already has.
        position = {name: index for index, name in enumerate(order)}
        arranged = [
            name for unit in _shuffled_units(group, seed) for name in sorted(unit, key=lambda item: position[item])
        ]
        for place, name in zip(places, arranged, strict=True):
            order[place] = name
    return tuple(order)


def arranged(survey: Survey, seed: str) -> Survey:
    """The survey with its shuffled groups in the order of the response with ``seed`` (the
    survey itself when it shuffles nothing)."""
    if not survey.shuffled_groups:
        return survey
    names = question_order(survey, seed)
    if names == tuple(question.name for question in survey.questions):
        return survey
    by_name = {question.name: question for question in survey.questions}
    return replace(survey, questions=tuple(by_name[name] for name in names))


def worded(survey: Survey, arm: str | None) -> Survey:
    """The survey with the labels of experiment ``arm`` (the survey itself without one)."""
    found = survey.experiment.arm(arm) if survey.experiment is not None else None
    if found is None or not found.labels:
        return survey
    questions = tuple(
        replace(question, label=found.labels[question.name]) if question.name in found.labels else question
        for question in survey.questions
    )
    return replace(survey, questions=questions)


def for_response(survey: Survey, seed: str, arm: str | None = None) -> Survey:
    """The survey as the response with ``seed`` (its id) in experiment ``arm`` is asked it."""
    return arranged(worded(survey, arm), seed)


def shown_orders(survey: Survey, seed: str) -> dict[str, str]:
    """For the exports' paradata: each shuffled group's questions in the order the response with
    ``seed`` was shown them, space-separated, by group name."""
    order = question_order(survey, seed)
    orders: dict[str, str] = {}
    for group in survey.shuffled_groups:
        members = set(group.questions)
        orders[group.name] = " ".join(name for name in order if name in members)
    return orders


def order_column(group: str) -> str:
    """The export column holding a shuffled group's order."""
    return f"order_{group}"


def arm_for(experiment: Experiment, key: str) -> str:
    """The arm of someone who starts without an invitation: drawn from ``key`` (their pseudonym)
    and the experiment's name, so the same person gets the same arm every time."""
    digest = hashlib.sha256(f"{experiment.name}/{key}".encode()).digest()
    return experiment.arm_names[int.from_bytes(digest[:8], "big") % len(experiment.arms)]


def balanced_arms(arms: Sequence[str], size: int, seed: str) -> list[str]:
    """Arms for ``size`` people in one stratum: each arm ``size // len(arms)`` times and the
    remaining ones to different arms, shuffled by ``seed`` (the same seed: the same assignment)."""
    drawn = random.Random(f"{seed}/arms")
    extra = list(arms)
    drawn.shuffle(extra)
    labels = [arms[index % len(arms)] for index in range(size - size % len(arms))] + extra[: size % len(arms)]
    drawn.shuffle(labels)
    return labels


def references_across_units(group: ShuffledGroup, questions: Mapping[str, Question]) -> list[tuple[Question, str]]:
    """The questions of ``group`` whose relevance, constraint, calculation, choice filter, label or
    hint read a question of another of its items: a shuffled order may ask that one later
    (question, name read)."""
    unit_of = {name: index for index, unit in enumerate(group.units) for name in unit}
    found: list[tuple[Question, str]] = []
    for name, index in unit_of.items():
        question = questions.get(name)
        if question is None:
            continue
        expressions = [*question.relevant, question.constraint, question.calculation, question.choice_filter]
        read = {ref for expression in expressions if expression is not None for ref in expression.references()}
        for text in (question.label, question.hint):  # ${name} in what the question says
            read |= {ref for said in (text.all_texts() if text else ()) for ref in references(said)}
        for other in sorted(read):
            if other in unit_of and unit_of[other] != index:
                found.append((question, other))
    return found
