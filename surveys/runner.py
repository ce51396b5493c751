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

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from surveys.answers import (
    MAX_POINTS,
    MIN_POINTS,
    InvalidAnswer,
    Problem,
    expected_problem,
    format_point,
    join_points,
    join_selection,
    parse_typed_answer,
    point_token,
)
from surveys.expressions import Environment, ExpressionError, evaluate_bool, evaluate_string
from surveys.model import CHOICE_TYPES, MEDIA_TYPES, Choice, Question, QuestionType, Survey


@dataclass(frozen=True)
class ResponseState:
    """Where a respondent is: the answers so far and the question awaiting an answer.

    ``answers`` maps question names to stored values (``None`` for a skipped or no longer
    relevant question). ``current`` is None once every question is answered. ``selection``
    holds the ticks of a select_multiple question being answered, or the points collected so far
    for a geotrace or geoshape (each as :func:`surveys.answers.point_token`). ``today`` is the date that
    ``today()`` means in expressions (the caller's clock; the runner reads none).
    """

    answers: Mapping[str, str | None]
    current: str | None
    selection: tuple[str, ...] = ()
    today: date | None = None


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


@dataclass(frozen=True)
class GiveFile:
    """A file sent for a media question (image, audio, video, file), already kept in the media
    store under ``name``; ``kind`` is what it is (``image``, ``audio``, ``video``, ``file``).

    The caller checks the file (type, size) before storing it; an image question takes only an
    image, an audio or video question only its kind, a file question any kind.
    """

    name: str
    kind: str


@dataclass(frozen=True)
class GiveLocation:
    """A position shared for a geopoint question, or one more point of a geotrace or geoshape
    (which end with :class:`FinishSelection`)."""

    latitude: float
    longitude: float
    altitude: float | None = None
    accuracy: float | None = None


Action = TypedAnswer | PickChoice | ToggleChoice | FinishSelection | SkipQuestion | UseDefault | GiveFile | GiveLocation


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
        return question.choices
    today = _today(state)
    visible: list[Choice] = []
    for choice in question.choices:
        try:
            if evaluate_bool(question.choice_filter, _environment(state.answers, today, choice=choice)):
                visible.append(choice)
        except ExpressionError:
            continue
    return tuple(visible)


def _recompute(
    survey: Survey, answers: Mapping[str, str | None], today: date
) -> tuple[dict[str, str | None], list[tuple[str, str | None]]]:
    """Apply relevance and calculations in survey order; returns the answers and what changed."""
    result = dict(answers)
    changes: list[tuple[str, str | None]] = []
    for question in survey.questions:
        if question.is_note:
            continue
        relevant = is_relevant(question, result, today)
        if question.is_calculate:
            value: str | None = None
            if relevant and question.calculation is not None:
                try:
                    value = evaluate_string(question.calculation, _environment(result, today))
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
        if question.is_calculate or not is_relevant(question, answers, today):
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
    new_state = ResponseState(
        answers=answers, current=current, selection=_entering(survey, current, answers), today=state.today
    )
    return Outcome(state=new_state, recorded=tuple(recorded), notes=notes, feedback=feedback)


def start(survey: Survey, today: date | None = None) -> Outcome:
    """Begin a survey: the first question, with any notes before it."""
    state = ResponseState(answers={}, current=None, today=today)
    answers, changes = _recompute(survey, {}, _today(state))
    return _moved(survey, state, answers, 0, changes)


def resume(survey: Survey, answers: Mapping[str, str | None], today: date | None = None) -> Outcome:
    """Continue a response from its stored answers: the first relevant question not answered yet.

    Used when a respondent returns to a survey they left, and when the survey file changed
    under a response (answers to questions that no longer exist are kept but not asked again).
    """
    state = ResponseState(answers={}, current=None, today=today)
    kept = {name: value for name, value in answers.items() if survey.has_question(name)}
    recomputed, changes = _recompute(survey, kept, _today(state))
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
    answers, changes = _recompute(survey, {**state.answers, question.name: value}, today)
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
    if isinstance(action, GiveFile):
        return _give_file(survey, state, question, action)
    if isinstance(action, GiveLocation):
        try:
            point = format_point(action.latitude, action.longitude, action.altitude, action.accuracy)
        except InvalidAnswer as refused:
            return _refuse(state, refused.problem)
        return _give_point(survey, state, question, point)
    if isinstance(action, TypedAnswer):
        try:
            value = parse_typed_answer(question, action.text, visible_choices(question, state))
        except InvalidAnswer as refused:
            return _refuse(state, refused.problem)
        if question.type in MIN_POINTS:
            return _give_point(survey, state, question, value)
        return _accept(survey, state, question, value)
    if question.type in MIN_POINTS and isinstance(action, FinishSelection):
        return _finish_points(survey, state, question)
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


def accepts_file(question: Question, kind: str) -> bool:
    """Whether a file of ``kind`` answers ``question`` (a file question takes any kind)."""
    return question.type in MEDIA_TYPES and (question.type is QuestionType.FILE or question.type.value == kind)


def _give_file(survey: Survey, state: ResponseState, question: Question, action: GiveFile) -> Outcome:
    if question.type not in MEDIA_TYPES:
        return _refuse(state, Problem("expects_text"))
    if not accepts_file(question, action.kind):
        return _refuse(state, expected_problem(question))
    return _accept(survey, state, question, action.name)


def _give_point(survey: Survey, state: ResponseState, question: Question, point: str) -> Outcome:
    """A geopoint is answered by one point; a geotrace or geoshape collects it until "done"."""
    if question.type is QuestionType.GEOPOINT:
        return _accept(survey, state, question, point)
    if question.type not in MIN_POINTS:
        return _refuse(state, Problem("expects_text"))
    if len(state.selection) >= MAX_POINTS:
        return _refuse(state, Problem("too_many_points", {"max": str(MAX_POINTS)}))
    collected = (*state.selection, point_token(point))
    return Outcome(state=replace(state, selection=collected), selection_changed=True)


def _finish_points(survey: Survey, state: ResponseState, question: Question) -> Outcome:
    if not state.selection and not question.required and question.required_if is None:
        return _accept(survey, state, question, None)
    distinct = len(set(state.selection))
    if distinct < MIN_POINTS[question.type]:
        return _refuse(state, expected_problem(question))
    return _accept(survey, state, question, join_points(question, state.selection))


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
            moved = ResponseState(
                answers=state.answers,
                current=question.name,
                selection=_entering(survey, question.name, state.answers),
                today=state.today,
            )
            return Outcome(state=moved)
    return _refuse(state, Problem("no_previous_question"))


def go_to(survey: Survey, state: ResponseState, name: str) -> Outcome:
    """Ask an answered question again (changing one answer from the summary)."""
    if not survey.has_question(name):
        return _refuse(state, Problem("press_not_expected"))
    question = survey.question(name)
    if not question.is_asked or not is_relevant(question, state.answers, _today(state)):
        return _refuse(state, Problem("press_not_expected"))
    moved = ResponseState(
        answers=state.answers, current=name, selection=_entering(survey, name, state.answers), today=state.today
    )
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
