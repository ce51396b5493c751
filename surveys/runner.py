"""The survey runner: given a survey, where a respondent is and what they did, what comes next.

Pure functions with no I/O, so every path through a survey can be tested directly. The caller
stores :attr:`Outcome.recorded` and :attr:`Outcome.state` (in one transaction) and renders
:attr:`Outcome.notes` and the question named by the new state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from surveys.answers import InvalidAnswer, Problem, join_selection, parse_typed_answer
from surveys.model import CHOICE_TYPES, Question, QuestionType, Survey


@dataclass(frozen=True)
class ResponseState:
    """Where a respondent is: the answers so far and the question awaiting an answer.

    ``answers`` maps question names to stored values (``None`` for a skipped question).
    ``current`` is None once the survey is finished. ``selection`` holds the ticks of a
    select_multiple question that is being answered.
    """

    answers: Mapping[str, str | None]
    current: str | None
    selection: tuple[str, ...] = ()


# What a respondent can do.
@dataclass(frozen=True)
class TypedAnswer:
    text: str


@dataclass(frozen=True)
class PickChoice:
    choice: str


@dataclass(frozen=True)
class ToggleChoice:
    choice: str


@dataclass(frozen=True)
class FinishSelection:
    pass


@dataclass(frozen=True)
class SkipQuestion:
    pass


Action = TypedAnswer | PickChoice | ToggleChoice | FinishSelection | SkipQuestion


@dataclass(frozen=True)
class Outcome:
    """The result of one step.

    ``recorded`` holds the answers given in this step, to be stored. ``problem`` is set when the
    input was refused (the same question stands). ``notes`` are notes to show before the current
    question; ``finished`` is true when the survey has no more questions.
    """

    state: ResponseState
    recorded: tuple[tuple[str, str | None], ...] = ()
    problem: Problem | None = None
    notes: tuple[Question, ...] = ()
    selection_changed: bool = False

    @property
    def finished(self) -> bool:
        return self.state.current is None


@dataclass(frozen=True)
class Progress:
    position: int
    total: int


def _advance_from(
    survey: Survey, index: int, answers: Mapping[str, str | None]
) -> tuple[str | None, tuple[Question, ...]]:
    """The next question at or after ``index`` that needs an answer, and the notes on the way."""
    notes: list[Question] = []
    for question in survey.questions[index:]:
        if question.is_note:
            notes.append(question)
            continue
        return question.name, tuple(notes)
    return None, tuple(notes)


def start(survey: Survey) -> Outcome:
    """Begin a survey: the first question, with any notes before it."""
    current, notes = _advance_from(survey, 0, {})
    return Outcome(state=ResponseState(answers={}, current=current), notes=notes)


def _accept(survey: Survey, state: ResponseState, question: Question, value: str | None) -> Outcome:
    answers = {**state.answers, question.name: value}
    index = survey.questions.index(question) + 1
    current, notes = _advance_from(survey, index, answers)
    return Outcome(
        state=ResponseState(answers=answers, current=current),
        recorded=((question.name, value),),
        notes=notes,
    )


def _refuse(state: ResponseState, problem: Problem) -> Outcome:
    return Outcome(state=state, problem=problem)


def advance(survey: Survey, state: ResponseState, action: Action) -> Outcome:
    """Apply one respondent action to the question in ``state``.

    A refused input leaves the state unchanged and says why in :attr:`Outcome.problem`.
    """
    if state.current is None:
        return _refuse(state, Problem("survey_finished"))
    question = survey.question(state.current)
    if isinstance(action, SkipQuestion):
        if question.required:
            return _refuse(state, Problem("required"))
        return _accept(survey, state, question, None)
    if isinstance(action, TypedAnswer):
        try:
            value = parse_typed_answer(question, action.text)
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
        if question.choice(action.choice) is None:
            return _refuse(state, Problem("press_not_expected"))
        ticked = set(state.selection) ^ {action.choice}
        selection = tuple(c.name for c in question.choices if c.name in ticked)
        return Outcome(state=replace(state, selection=selection), selection_changed=True)
    # FinishSelection
    if not state.selection:
        if question.required:
            return _refuse(state, Problem("select_at_least_one"))
        return _accept(survey, state, question, None)
    return _accept(survey, state, question, join_selection(question, state.selection))


def progress(survey: Survey, state: ResponseState) -> Progress:
    """The current question's position among the questions that take an answer ("3/12")."""
    data_questions = survey.data_questions
    names = [q.name for q in data_questions]
    position = names.index(state.current) + 1 if state.current in names else len(names)
    return Progress(position=position, total=len(names))


def resume(survey: Survey, answers: Mapping[str, str | None]) -> Outcome:
    """Continue a response from its stored answers: the first question not answered yet.

    Used when a respondent returns to a survey they left, and when the survey file changed
    under a response (answers to questions that no longer exist are kept but not asked again).
    """
    kept = {name: value for name, value in answers.items() if survey.has_question(name)}
    for index, question in enumerate(survey.questions):
        if not question.is_note and question.name not in kept:
            current, notes = _advance_from(survey, index, kept)
            return Outcome(state=ResponseState(answers=kept, current=current), notes=notes)
    return Outcome(state=ResponseState(answers=kept, current=None))
