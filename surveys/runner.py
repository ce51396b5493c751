"""The survey runner: given a survey, where a respondent is and what they did, what comes next.

Pure functions with no I/O, so every path through a survey can be tested directly. The caller
stores :attr:`Outcome.recorded` and :attr:`Outcome.state` (in one transaction) and renders
:attr:`Outcome.notes` and the question named by the new state.

XLSForm semantics: a question whose ``relevant`` (or a group's) is false is not asked and its
value is empty, also when an earlier answer changes after ``/back``; calculations are
re-evaluated in survey order after every answer; ``constraint`` is checked with ``.`` bound to
the answer being given.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from surveys.answers import InvalidAnswer, Problem, join_selection, parse_typed_answer
from surveys.expressions import Environment, ExpressionError, evaluate_bool, evaluate_string
from surveys.model import CHOICE_TYPES, Choice, Question, QuestionType, Survey


@dataclass(frozen=True)
class ResponseState:
    """Where a respondent is: the answers so far and the question awaiting an answer.

    ``answers`` maps question names to stored values (``None`` for a skipped or no longer
    relevant question). ``current`` is None once every question is answered. ``selection``
    holds the ticks of a select_multiple question being answered. ``today`` is the date that
    ``today()`` means in expressions (the caller's clock; the runner reads none), ``now`` the
    moment that start/end metadata record; ``seed`` shuffles the choices of ``randomize``
    questions (the response's id: the same order every time that response shows them).
    """

    answers: Mapping[str, str | None]
    current: str | None
    selection: tuple[str, ...] = ()
    today: date | None = None
    now: datetime | None = None
    seed: str = ""


# What a respondent can do.
@dataclass(frozen=True)
class TypedAnswer:
    """Text typed as the answer to the current question."""

    text: str


@dataclass(frozen=True)
class PickChoice:
    """A choice pressed for a select_one question (the answer, at once)."""

    choice: str


@dataclass(frozen=True)
class ToggleChoice:
    """A choice pressed for a select_multiple question: ticked, or unticked if it was."""

    choice: str


@dataclass(frozen=True)
class FinishSelection:
    """The ticked choices of a select_multiple question are the answer."""


@dataclass(frozen=True)
class SkipQuestion:
    """The question left without an answer."""


@dataclass(frozen=True)
class UseDefault:
    """The question's default is the answer."""


Action = TypedAnswer | PickChoice | ToggleChoice | FinishSelection | SkipQuestion | UseDefault


@dataclass(frozen=True)
class QuizFeedback:
    """Whether the answer to a quiz ``question`` was the correct choice."""

    question: Question
    correct: bool


@dataclass(frozen=True)
class Outcome:
    """The result of one step.

    ``recorded`` holds the values to store now: the answer given, recalculated calculations, and
    answers emptied because their question stopped being relevant. ``problem`` is set when the
    input was refused (the same question stands). ``notes`` are notes to show before the
    current question. ``finished`` is true when no question is left to ask.
    """

    state: ResponseState
    recorded: tuple[tuple[str, str | None], ...] = ()
    problem: Problem | None = None
    notes: tuple[Question, ...] = ()
    selection_changed: bool = False
    feedback: QuizFeedback | None = None

    @property
    def finished(self) -> bool:
        return self.state.current is None


@dataclass(frozen=True)
class Progress:
    position: int
    total: int


def _today(state: ResponseState) -> date:
    return state.today or date.today()


def _now(state: ResponseState) -> datetime:
    return state.now or datetime.now(UTC)


def _choice_labels(survey: Survey) -> dict[str, dict[str, str]]:
    """For ``jr:choice-name()``: each select question's choice labels in the survey's language."""
    language = survey.default_language
    return {
        q.name: {c.name: c.label.in_language(language, language) for c in q.choices}
        for q in survey.questions
        if q.choices
    }


def _environment(
    answers: Mapping[str, str | None], today: date, current: str | None = None, choice: Choice | None = None
) -> Environment:
    columns = {"name": choice.name, **choice.columns} if choice is not None else None
    return Environment(answers=answers, current=current, today=today, choice=columns)


def is_relevant(question: Question, answers: Mapping[str, str | None], today: date) -> bool:
    """Whether the question (and every group around it) is relevant given the answers."""
    if not question.relevant:
        return True  # most questions: no environment to build
    return _relevant(question, _environment(answers, today))


def _relevant(question: Question, environment: Environment) -> bool:
    try:
        return all(evaluate_bool(condition, environment) for condition in question.relevant)
    except ExpressionError:
        return False


def visible_choices(question: Question, state: ResponseState) -> tuple[Choice, ...]:
    """The question's choices that pass its ``choice_filter`` given the answers so far."""
    if question.choice_filter is None:
        return _ordered(question, question.choices, state.seed)
    today = _today(state)
    visible: list[Choice] = []
    for choice in question.choices:
        try:
            if evaluate_bool(question.choice_filter, _environment(state.answers, today, choice=choice)):
                visible.append(choice)
        except ExpressionError:
            continue
    return _ordered(question, tuple(visible), state.seed)


def _ordered(question: Question, choices: tuple[Choice, ...], seed: str) -> tuple[Choice, ...]:
    """The choices in their order, or shuffled by ``seed`` for a ``randomize`` question."""
    if not question.randomize:
        return choices
    shuffled = list(choices)
    random.Random(f"{seed}/{question.name}").shuffle(shuffled)
    return tuple(shuffled)


def _metadata(question: Question, result: Mapping[str, str | None], today: date, now: str) -> str | None:
    """start: when the response began; end: its latest step; today; the others have no value in a chat."""
    if question.type is QuestionType.START:
        return result.get(question.name) or now
    if question.type is QuestionType.END:
        return now
    if question.type is QuestionType.TODAY:
        return result.get(question.name) or today.isoformat()
    return None


def _recompute(
    survey: Survey,
    answers: Mapping[str, str | None],
    today: date,
    now: datetime | None = None,
    previous: Mapping[str, str | None] | None = None,
) -> tuple[dict[str, str | None], list[tuple[str, str | None]]]:
    """Apply relevance, metadata and calculations in survey order; returns the answers and what
    changed. A calculation with a ``trigger`` is recomputed only when a trigger's answer differs
    from ``previous`` (or the question has no value yet)."""
    result = dict(answers)
    changes: list[tuple[str, str | None]] = []
    moment = now or datetime.now(UTC)
    stamp = moment.replace(microsecond=0).isoformat()
    labels: dict[str, dict[str, str]] | None = None
    for question in survey.questions:
        if question.is_note:
            continue
        relevant = is_relevant(question, result, today)
        if question.is_metadata:
            value: str | None = _metadata(question, result, today, stamp)
            if result.get(question.name) != value or question.name not in result:
                result[question.name] = value
                changes.append((question.name, value))
            continue
        if question.trigger and question.name in result:
            before = previous or {}
            if all(result.get(name) == before.get(name) for name in question.trigger):
                continue
        if question.is_computed:
            value = None
            if relevant and question.calculation is not None:
                if labels is None and "jr:choice-name" in question.calculation.source:
                    labels = _choice_labels(survey)
                environment = Environment(
                    answers=result, today=today, now=moment, choice_labels=labels or {}, own=result.get(question.name)
                )
                try:
                    value = evaluate_string(question.calculation, environment)
                except ExpressionError:
                    value = None
            if result.get(question.name) != value or question.name not in result:
                result[question.name] = value
                changes.append((question.name, value))
        elif not relevant and result.get(question.name) is not None:
            result[question.name] = None
            changes.append((question.name, None))
    return result, changes


def _next_from(
    survey: Survey, index: int, answers: Mapping[str, str | None], today: date
) -> tuple[str | None, tuple[Question, ...]]:
    """The first relevant question at or after ``index`` still waiting for an answer, with the
    relevant notes just before it (notes behind answers kept from an earlier pass are not repeated)."""
    notes: list[Question] = []
    for question in survey.questions[index:]:
        if question.is_computed or not is_relevant(question, answers, today):
            continue
        if question.is_note:
            notes.append(question)
        elif question.name not in answers:
            return question.name, tuple(notes)
        else:
            notes = []
    return None, tuple(notes)


def _entering(survey: Survey, name: str | None, answers: Mapping[str, str | None]) -> tuple[str, ...]:
    """The ticks a select_multiple starts with: its answer, else its default."""
    if name is None:
        return ()
    question = survey.question(name)
    if question.type is not QuestionType.SELECT_MULTIPLE:
        return ()
    value = answers.get(name) if name in answers else question.default
    return tuple((value or "").split())


def _moved(
    survey: Survey,
    state: ResponseState,
    answers: dict[str, str | None],
    index: int,
    recorded: list[tuple[str, str | None]],
    feedback: QuizFeedback | None = None,
) -> Outcome:
    current, notes = _next_from(survey, index, answers, _today(state))
    new_state = replace(state, answers=answers, current=current, selection=_entering(survey, current, answers))
    return Outcome(state=new_state, recorded=tuple(recorded), notes=notes, feedback=feedback)


def start(survey: Survey, today: date | None = None, *, now: datetime | None = None) -> Outcome:
    """Begin a survey: the first question, with any notes before it."""
    state = ResponseState(answers={}, current=None, today=today, now=now)
    answers, changes = _recompute(survey, {}, _today(state), _now(state))
    return _moved(survey, state, answers, 0, changes)


def resume(
    survey: Survey, answers: Mapping[str, str | None], today: date | None = None, *, now: datetime | None = None
) -> Outcome:
    """Continue a response from its stored answers: the first relevant question not answered yet.

    Used when a respondent returns to a survey they left, and when the survey file changed
    under a response (answers to questions that no longer exist are kept but not asked again).
    """
    state = ResponseState(answers={}, current=None, today=today, now=now)
    kept = {name: value for name, value in answers.items() if survey.has_question(name)}
    recomputed, changes = _recompute(survey, kept, _today(state), _now(state), kept)
    outcome = _moved(survey, state, recomputed, 0, changes)
    return replace(outcome, notes=())


def _refuse(state: ResponseState, problem: Problem) -> Outcome:
    return Outcome(state=state, problem=problem)


def _check(question: Question, value: str | None, state: ResponseState) -> Problem | None:
    """The question's own rules on a parsed value: required, choices, constraint."""
    today = _today(state)
    if value is None:
        required = question.required
        if question.required_if is not None:
            try:
                required = evaluate_bool(question.required_if, _environment(state.answers, today))
            except ExpressionError:
                required = True
        return Problem("required", message=question.required_message) if required else None
    if question.type in CHOICE_TYPES:
        allowed = {choice.name for choice in visible_choices(question, state)}
        if not set(value.split()) <= allowed:
            return Problem("press_not_expected")
    if question.type is QuestionType.SELECT_MULTIPLE:
        count = len(value.split())
        if question.min_choices is not None and count < question.min_choices:
            return Problem("too_few_choices", {"min": str(question.min_choices)})
        if question.max_choices is not None and count > question.max_choices:
            return Problem("too_many_choices", {"max": str(question.max_choices)})
    if question.max_length is not None and len(value) > question.max_length:
        return Problem("too_long", {"max": str(question.max_length)})
    if question.constraint is not None:
        try:
            allowed_value = evaluate_bool(question.constraint, _environment(state.answers, today, current=value))
        except ExpressionError:
            allowed_value = False
        if not allowed_value:
            return Problem("constraint", message=question.constraint_message)
    return None


def _accept(survey: Survey, state: ResponseState, question: Question, value: str | None) -> Outcome:
    problem = _check(question, value, state)
    if problem is not None:
        return _refuse(state, problem)
    today = _today(state)
    answers, changes = _recompute(survey, {**state.answers, question.name: value}, today, _now(state), state.answers)
    feedback = None
    if survey.is_quiz and question.correct is not None and value is not None:
        feedback = QuizFeedback(question, value == question.correct)
    index = survey.questions.index(question) + 1
    return _moved(survey, state, answers, index, [(question.name, value), *changes], feedback)


def advance(survey: Survey, state: ResponseState, action: Action) -> Outcome:
    """Apply one respondent action to the question in ``state``.

    A refused input leaves the state unchanged and says why in :attr:`Outcome.problem`.
    """
    if state.current is None:
        return _refuse(state, Problem("survey_finished"))
    question = survey.question(state.current)
    if isinstance(action, SkipQuestion):
        return _accept(survey, state, question, None)
    if isinstance(action, UseDefault):
        if question.default is None:
            return _refuse(state, Problem("press_not_expected"))
        if question.type is QuestionType.SELECT_MULTIPLE:
            return _accept(survey, state, question, join_selection(question, question.default.split()))
        if question.type is QuestionType.SELECT_ONE:
            return _accept(survey, state, question, question.default)
        action = TypedAnswer(question.default)
    if isinstance(action, TypedAnswer):
        try:
            value = parse_typed_answer(question, action.text, visible_choices(question, state))
        except InvalidAnswer as refused:
            return _refuse(state, refused.problem)
        return _accept(survey, state, question, value)
    if question.type not in CHOICE_TYPES:
        return _refuse(state, Problem("press_not_expected"))
    if isinstance(action, PickChoice):
        if question.type is not QuestionType.SELECT_ONE or question.choice(action.choice) is None:
            return _refuse(state, Problem("press_not_expected"))
        return _accept(survey, state, question, action.choice)
    if question.type is not QuestionType.SELECT_MULTIPLE:
        return _refuse(state, Problem("press_not_expected"))
    if isinstance(action, ToggleChoice):
        if action.choice not in {choice.name for choice in visible_choices(question, state)}:
            return _refuse(state, Problem("press_not_expected"))
        ticked = set(state.selection) ^ {action.choice}
        selection = tuple(c.name for c in question.choices if c.name in ticked)
        return Outcome(state=replace(state, selection=selection), selection_changed=True)
    # FinishSelection
    if not state.selection:
        if question.required and question.min_choices != 0:
            return _refuse(state, Problem("select_at_least_one", message=question.required_message))
        return _accept(survey, state, question, None)
    return _accept(survey, state, question, join_selection(question, state.selection))


def back(survey: Survey, state: ResponseState) -> Outcome:
    """``/back``: the previous relevant question that was answered; later answers are kept.

    From the end of the survey (a summary being confirmed) it is the last answered question.
    """
    today = _today(state)
    stop = (
        survey.questions.index(survey.question(state.current)) if state.current is not None else len(survey.questions)
    )
    for question in reversed(survey.questions[:stop]):
        if question.is_asked and question.name in state.answers and is_relevant(question, state.answers, today):
            moved = replace(state, current=question.name, selection=_entering(survey, question.name, state.answers))
            return Outcome(state=moved)
    return _refuse(state, Problem("no_previous_question"))


def go_to(survey: Survey, state: ResponseState, name: str) -> Outcome:
    """Ask an answered question again (changing one answer from the summary)."""
    if not survey.has_question(name):
        return _refuse(state, Problem("press_not_expected"))
    question = survey.question(name)
    if not question.is_asked or not is_relevant(question, state.answers, _today(state)):
        return _refuse(state, Problem("press_not_expected"))
    moved = replace(state, current=name, selection=_entering(survey, name, state.answers))
    return Outcome(state=moved)


def asked_questions(survey: Survey, state: ResponseState) -> list[Question]:
    """The questions the respondent is asked given the answers so far, in survey order."""
    today = _today(state)
    return [q for q in survey.questions if q.is_asked and is_relevant(q, state.answers, today)]


def progress(survey: Survey, state: ResponseState) -> Progress:
    """The current question's position among the relevant questions ("3/12")."""
    names = [q.name for q in asked_questions(survey, state)]
    if state.current is not None and state.current not in names:
        names.append(state.current)
    position = names.index(state.current) + 1 if state.current in names else len(names)
    return Progress(position=position, total=len(names))


def answered(survey: Survey, state: ResponseState) -> list[tuple[Question, str | None]]:
    """The relevant questions with their answers, for the summary before submitting."""
    return [(q, state.answers.get(q.name)) for q in asked_questions(survey, state) if q.name in state.answers]


def score(survey: Survey, answers: Mapping[str, str | None]) -> tuple[int, int]:
    """A quiz's score: correct answers, out of the questions that have a correct answer."""
    marked = [q for q in survey.questions if q.correct is not None]
    return sum(1 for q in marked if answers.get(q.name) == q.correct), len(marked)
