"""Repeats: where each pass's answers are kept, which passes there are, and what a pass sees.

Pure functions over a survey and its answers, used by the runner, the prompts and the exports.

**Answer keys.** A question outside every repeat is stored under its name (``age``). A question
in a repeat is stored once per pass under ``<repeat>[<pass>]/<name>`` (``member[2]/age``; passes
count from 1), nested repeats one level after the other (``member[2]/child[1]/name``). The answer
to "Add another <label>?" after pass ``i`` is stored as ``<repeat>[<i>]?`` (``member[1]?``,
``yes`` or ``no``); exports leave it out.

**Passes.** A repeat with ``repeat_count`` has that many passes (the expression evaluated when
the repeat is reached, so a changed answer changes it; at most :data:`MAX_PASSES`); without one,
pass 1, then as long as "Add another" was answered ``yes``. A repeat that is not relevant has no
passes. Answers of passes that stopped existing (a lower count, a ``no``) are kept but belong to no
pass: they are neither asked, exported, counted nor shown; they come back if the pass does.

**What a pass sees.** Inside pass ``member[2]``, ``${age}`` is that pass's age, and questions
outside the repeat keep their own names (:func:`view`): ``relevant``, ``constraint``,
calculations and ``${name}`` in labels all read answers through it.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from surveys.expressions import Environment, ExpressionError, evaluate, evaluate_bool
from surveys.model import YES, Choice, Question, Repeat, Survey

#: The most passes a ``repeat_count`` gives (a typing slip must not make a survey endless).
MAX_PASSES = 100

#: (repeat name, pass number) of the passes around a question, outermost first.
PassPath = tuple[tuple[str, int], ...]
Answers = Mapping[str, str | None]

_PASS = re.compile(r"([^/\[\]?]+)\[([1-9][0-9]{0,5})\]")


def prefix(path: PassPath) -> str:
    """The key prefix of the questions in the pass ``path`` (``member[2]/``)."""
    return "".join(f"{name}[{index}]/" for name, index in path)


def key(path: PassPath, name: str) -> str:
    """Where the answer to question ``name`` in the pass ``path`` is stored."""
    return prefix(path) + name if path else name


def another_key(path: PassPath) -> str:
    """Where the answer to "Add another?" after the pass ``path`` (its last element) is stored."""
    *outer, (name, index) = path
    return f"{prefix(tuple(outer))}{name}[{index}]?"


@dataclass(frozen=True)
class Key:
    """An answer key taken apart: the passes around it and the question name, or for the answer
    to "Add another?" the repeat's name (``another``)."""

    path: PassPath
    name: str
    another: bool = False


def parse_key(text: str) -> Key | None:
    """The parts of an answer key (``member[2]/age``, ``member[2]?``, ``age``); None if malformed."""
    if "[" not in text:
        return Key((), text) if text and "/" not in text and "?" not in text else None
    parts = text.split("/")
    path: list[tuple[str, int]] = []
    for part in parts[:-1]:
        match = _PASS.fullmatch(part)
        if match is None:
            return None
        path.append((match[1], int(match[2])))
    last = parts[-1]
    if last.endswith("?"):
        match = _PASS.fullmatch(last[:-1])
        if match is None:
            return None
        return Key((*path, (match[1], int(match[2]))), match[1], another=True)
    if not last or "[" in last or "?" in last:
        return None
    return Key(tuple(path), last)


def is_repeat_key(text: str) -> bool:
    """Whether an answer key belongs to a repeat pass (or is an "Add another?" answer)."""
    return "[" in text


@dataclass(frozen=True)
class Slot:
    """One place in the expanded survey: a question in a pass (or outside every repeat), or the
    "Add another?" question after a pass (``another``: its repeat)."""

    key: str
    question: Question
    path: PassPath
    another: Repeat | None = None


def question_at(survey: Survey, text: str) -> Slot | None:
    """The slot an answer key names, if the survey has that question in that kind of place."""
    if not survey.repeats:
        return _flat(survey).by_key.get(text)
    parsed = parse_key(text)
    if parsed is None:
        return None
    chain = tuple(name for name, _ in parsed.path)
    if parsed.another:
        if not survey.has_repeat(parsed.name) or _chain(survey, survey.repeat(parsed.name)) != chain:
            return None
        repeat = survey.repeat(parsed.name)
        return Slot(text, repeat.another, parsed.path, repeat)
    if not survey.has_question(parsed.name):
        return None
    question = survey.question(parsed.name)
    if question.repeats != chain:
        return None
    return Slot(text, question, parsed.path)


def _chain(survey: Survey, repeat: Repeat) -> tuple[str, ...]:
    """The names of ``repeat`` and the repeats it is nested in, outermost first."""
    names = [repeat.name]
    while repeat.parent is not None:
        repeat = survey.repeat(repeat.parent)
        names.append(repeat.name)
    return tuple(reversed(names))


class _PassView(Mapping[str, str | None]):
    """``answers`` with the questions of the passes in ``path`` also under their bare names."""

    def __init__(self, answers: Answers, path: PassPath) -> None:
        self._answers = answers
        self._prefixes = [prefix(path[:depth]) for depth in range(len(path), 0, -1)]

    def _find(self, name: str) -> str | None:
        for pass_prefix in self._prefixes:
            if pass_prefix + name in self._answers:
                return pass_prefix + name
        return name if name in self._answers else None

    def __getitem__(self, name: str) -> str | None:
        found = self._find(name)
        if found is None:
            raise KeyError(name)
        return self._answers[found]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def _names(self) -> dict[str, str | None]:
        names = {name: value for name, value in self._answers.items() if not is_repeat_key(name)}
        for pass_prefix in reversed(self._prefixes):
            for name, value in self._answers.items():
                if name.startswith(pass_prefix) and not is_repeat_key(name[len(pass_prefix) :]):
                    names[name[len(pass_prefix) :]] = value
        return names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def view(answers: Answers, path: PassPath) -> Answers:
    """The answers as seen from inside the pass ``path``: its questions (and those of the passes
    around it) under their bare names, beside the questions outside every repeat."""
    return _PassView(answers, path) if path else answers


def view_at(survey: Survey, answers: Answers, text: str | None) -> Answers:
    """The answers as seen from the question stored under the key ``text`` (the one being asked):
    what ``${name}`` in its label, hint or choices means (see :mod:`surveys.substitution`)."""
    if text is None or not is_repeat_key(text):
        return answers
    slot = question_at(survey, text)
    return view(answers, slot.path) if slot is not None else answers


class _Scope:
    """The passes as seen from ``path``, for ``count()``, ``sum()``, ``position(..)``..."""

    def __init__(self, survey: Survey, answers: Answers, path: PassPath, today: date) -> None:
        self.survey = survey
        self.answers = answers
        self.path = path
        self.today = today

    def _passes(self, chain: tuple[str, ...]) -> list[PassPath]:
        """Every existing pass of the innermost repeat of ``chain``, within the current passes of
        the repeats around it where the current path is inside them."""
        paths: list[PassPath] = [()]
        for depth, name in enumerate(chain):
            repeat = self.survey.repeat(name)
            current = self.path[depth] if depth < len(self.path) and self.path[depth][0] == name else None
            expanded: list[PassPath] = []
            for outer in paths:
                if current is not None and depth < len(chain) - 1:
                    expanded.append((*outer, current))
                    continue
                count = pass_count(self.survey, repeat, outer, self.answers, self.today)
                expanded.extend((*outer, (name, index)) for index in range(1, count + 1))
            paths = expanded
        return paths

    def instances(self, name: str) -> tuple[str | None, ...] | None:
        if self.survey.has_repeat(name):
            return tuple("" for _ in self._passes(_chain(self.survey, self.survey.repeat(name))))
        if not self.survey.has_question(name):
            return None
        question = self.survey.question(name)
        if not question.repeats:
            return None
        return tuple(self.answers.get(key(path, name)) for path in self._passes(question.repeats))

    def position(self) -> int | None:
        return self.path[-1][1] if self.path else None

    def indexed(self, name: str, passes: tuple[tuple[str, int], ...]) -> str | None:
        if not self.survey.has_question(name):
            return None
        given = dict(passes)
        current = dict(self.path)
        chain = self.survey.question(name).repeats
        path = tuple((repeat, given.get(repeat, current.get(repeat, 1))) for repeat in chain)
        return self.answers.get(key(path, name))


def environment(
    survey: Survey,
    answers: Answers,
    path: PassPath,
    today: date,
    current: str | None = None,
    choice: Choice | None = None,
) -> Environment:
    """The environment of an expression of a question in the pass ``path``."""
    columns = {"name": choice.name, **choice.columns} if choice is not None else None
    if not survey.repeats:
        return Environment(answers=answers, current=current, today=today, choice=columns)
    return Environment(
        answers=view(answers, path),
        current=current,
        today=today,
        choice=columns,
        scope=_Scope(survey, answers, path, today),
    )


def _relevant(survey: Survey, repeat: Repeat, outer: PassPath, answers: Answers, today: date) -> bool:
    if not repeat.relevant:
        return True
    env = environment(survey, answers, outer, today)
    try:
        return all(evaluate_bool(condition, env) for condition in repeat.relevant)
    except ExpressionError:
        return False


def counted_passes(survey: Survey, repeat: Repeat, outer: PassPath, answers: Answers, today: date) -> int:
    """The number of passes ``repeat_count`` gives (0 when it is not a number)."""
    assert repeat.repeat_count is not None
    try:
        value = evaluate(repeat.repeat_count, environment(survey, answers, outer, today))
    except ExpressionError:
        return 0
    if isinstance(value, bool):
        return int(value)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip() or "NaN")
    except ArithmeticError:
        return 0
    if not number.is_finite() or number < 1:
        return 0
    return min(MAX_PASSES, int(number))


def pass_count(survey: Survey, repeat: Repeat, outer: PassPath, answers: Answers, today: date) -> int:
    """How many passes ``repeat`` has inside the passes ``outer`` of the repeats around it."""
    if not _relevant(survey, repeat, outer, answers, today):
        return 0
    if repeat.repeat_count is not None:
        return counted_passes(survey, repeat, outer, answers, today)
    index = 1
    while index < MAX_PASSES and answers.get(another_key((*outer, (repeat.name, index)))) == YES:
        index += 1
    return index


def slots(survey: Survey, answers: Answers, today: date) -> Iterator[Slot]:
    """The survey expanded over its passes, in the order it is asked.

    Generated lazily: the number of passes of a repeat is read from ``answers`` when the walk
    reaches it, so a caller may fill ``answers`` (a calculation, say) while walking.
    """
    if not survey.repeats:
        yield from _flat(survey).slots
        return
    yield from _walk(survey, survey.questions, 0, (), answers, today)


class _Flat:
    """The places of a survey without repeats (the same whatever the answers): in order, and by
    answer key (a question's name)."""

    __slots__ = ("by_key", "slots")

    def __init__(self, survey: Survey) -> None:
        self.slots = tuple(Slot(question.name, question, ()) for question in survey.questions)
        # The last of a name wins, as in Survey.question.
        self.by_key = {slot.key: slot for slot in self.slots}


_Derived = TypeVar("_Derived")


class PerSurvey(Generic[_Derived]):
    """``build``, called once per survey object: what it returns is kept (by ``id``) until the
    survey is freed. For what the runner derives from a survey alone and needs at every step."""

    def __init__(self, build: Callable[[Survey], _Derived]) -> None:
        self._build = build
        self._built: dict[int, _Derived] = {}

    def __call__(self, survey: Survey) -> _Derived:
        found = self._built.get(id(survey))
        if found is None:
            found = self._built[id(survey)] = self._build(survey)
            weakref.finalize(survey, self._built.pop, id(survey), None)
        return found

    def holds(self, survey_id: int) -> bool:
        """Whether what was built for the survey of this ``id`` is still kept."""
        return survey_id in self._built


#: The places of a survey without repeats: the runner walks them several times per step and looks
#: keys up in them.
_flat = PerSurvey(_Flat)


def flat_slots(survey: Survey) -> tuple[Slot, ...]:
    """The places of a survey without repeats, in order: what :func:`slots` yields for it, built
    once per survey (the same objects every time)."""
    assert not survey.repeats
    return _flat(survey).slots


def _walk(
    survey: Survey, questions: tuple[Question, ...], depth: int, path: PassPath, answers: Answers, today: date
) -> Iterator[Slot]:
    index = 0
    while index < len(questions):
        question = questions[index]
        if len(question.repeats) <= depth:
            yield Slot(key(path, question.name), question, path)
            index += 1
            continue
        name = question.repeats[depth]
        end = index
        while end < len(questions) and len(questions[end].repeats) > depth and questions[end].repeats[depth] == name:
            end += 1
        yield from _passes(survey, survey.repeat(name), questions[index:end], depth + 1, path, answers, today)
        index = end


def _passes(
    survey: Survey,
    repeat: Repeat,
    questions: tuple[Question, ...],
    depth: int,
    outer: PassPath,
    answers: Answers,
    today: date,
) -> Iterator[Slot]:
    if not _relevant(survey, repeat, outer, answers, today):
        return
    if repeat.repeat_count is not None:
        for number in range(1, counted_passes(survey, repeat, outer, answers, today) + 1):
            yield from _walk(survey, questions, depth, (*outer, (repeat.name, number)), answers, today)
        return
    number = 1
    while True:
        path = (*outer, (repeat.name, number))
        yield from _walk(survey, questions, depth, path, answers, today)
        more = another_key(path)
        yield Slot(more, repeat.another, path, repeat)
        if answers.get(more) != YES or number >= MAX_PASSES:
            return
        number += 1


@dataclass(frozen=True)
class Instance:
    """One pass of a repeat in a response, for the exports: its ``path`` and its questions'
    values by name (the table's columns)."""

    repeat: Repeat
    path: PassPath
    values: Mapping[str, str | None]


def instances(survey: Survey, answers: Answers, today: date) -> list[Instance]:
    """Every existing pass of every repeat in ``answers``, in survey order (a pass before the
    passes nested in it)."""
    found: dict[PassPath, dict[str, str | None]] = {}
    for slot in slots(survey, answers, today):
        if slot.path and slot.another is None:
            found.setdefault(slot.path, {})
            if not slot.question.is_note:
                found[slot.path][slot.question.name] = answers.get(slot.key)
        elif slot.path:
            found.setdefault(slot.path, {})
    return [Instance(survey.repeat(path[-1][0]), path, values) for path, values in found.items()]
