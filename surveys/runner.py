"""The survey runner: given a survey, where a respondent is and what they did, what comes next.

Pure functions with no I/O, so every path through a survey can be tested directly. The caller
stores :attr:`Outcome.recorded` and :attr:`Outcome.state` (in one transaction) and renders
:attr:`Outcome.notes` and the question named by the new state.

XLSForm semantics: a question whose ``relevant`` (or a group's) is false is not asked and its
value is empty, also when an earlier answer changes after ``/back``; calculations are
re-evaluated in survey order after every answer; ``constraint`` is checked with ``.`` bound to
the answer being given.

Repeats (:mod:`surveys.repeats`): the survey is walked as its expansion over the passes, and
``ResponseState.current`` and the answers are keyed as that module says (``member[2]/age``);
after each pass of a repeat without ``repeat_count`` comes its "Add another?" question (a yes/no
select_one stored as ``member[2]?``). ``/back`` passes over those: from a pass's first question
it goes to the previous pass's last one. Expressions of a question in a pass see that pass's
answers under their bare names.

Shuffled groups and experiment wording: the runner walks the survey it is given, in its order;
:func:`surveys.arrangement.for_response` derives the survey one response is asked (its order
drawn from the response's id, the same seed as :attr:`ResponseState.seed`, and its arm's labels).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from surveys import panels, repeats
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
from surveys.repeats import PassPath, Slot


@dataclass(frozen=True)
class ResponseState:
    """Where a respondent is: the answers so far and the question awaiting an answer.

    ``answers`` maps question names to stored values (``None`` for a skipped or no longer
    relevant question); in a wave of a panel it also holds the previous wave's answers under
    ``last_wave.NAME`` (:mod:`surveys.panels`), which expressions read and nothing records. ``current`` is None once every question is answered. ``selection``
    holds the ticks of a select_multiple question being answered, or the points collected so far
    for a geotrace or geoshape (each as :func:`surveys.answers.point_token`). ``today`` is the date
    that ``today()`` means in expressions (the caller's clock; the runner reads none), ``now`` the
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


def _environment_in(
    survey: Survey,
    answers: Mapping[str, str | None],
    path: PassPath,
    today: date,
    current: str | None = None,
    choice: Choice | None = None,
) -> Environment:
    """The environment of an expression of a question in the pass ``path`` (``()``: no repeat)."""
    environment = (
        repeats.environment(survey, answers, path, today, current, choice)
        if survey.repeats
        else _environment(answers, today, current, choice)
    )
    return replace(environment, tables=survey.tables) if survey.tables else environment


class _Plan:
    """What the walks of a survey without repeats need, worked out once per survey (its places do
    not depend on the answers): each step walks the survey three times (recompute, next question,
    progress), and a plain survey then costs little more than a look-up per walk.

    ``recomputed``: the places where :func:`_recompute` may change something (metadata,
    computed, or conditional questions; notes never). ``walked``: the places :func:`_next_from`
    considers (all but computed ones); ``following[key]``: where in ``walked`` the walk after
    ``key`` starts. ``asked``: the places asked when all are relevant; ``conditional``: whether
    some of them have a condition (otherwise they are asked whatever the answers);
    ``positions[key]``: the index of ``key`` in ``asked``.
    """

    __slots__ = ("asked", "conditional", "following", "positions", "recomputed", "walked")

    def __init__(self, survey: Survey) -> None:
        slots = repeats.flat_slots(survey)
        self.recomputed = tuple(
            slot
            for slot in slots
            if not slot.question.is_note and (slot.question.is_computed or slot.question.relevant)
        )
        self.walked = tuple(slot for slot in slots if not slot.question.is_computed)
        self.following: dict[str, int] = {}
        walked = 0
        for slot in slots:
            walked += not slot.question.is_computed
            self.following.setdefault(slot.key, walked)  # the first place of a key, as a walk finds it
        self.asked = tuple(slot for slot in slots if slot.question.is_asked)
        self.conditional = any(slot.question.relevant for slot in self.asked)
        self.positions: dict[str, int] = {}
        for index, slot in enumerate(self.asked):
            self.positions.setdefault(slot.key, index)


#: The plan of a survey without repeats, made once per survey.
_plan = repeats.PerSurvey(_Plan)


def _slot_relevant(survey: Survey, slot: Slot, answers: Mapping[str, str | None], today: date) -> bool:
    if not slot.question.relevant:
        return True
    return _relevant(slot.question, _environment_in(survey, answers, slot.path, today))


def question_at(survey: Survey, key: str) -> Question:
    """The question stored under the answer ``key`` (a question name outside repeats, see
    :mod:`surveys.repeats`); raises ``KeyError`` for a key the survey has no place for."""
    slot = repeats.question_at(survey, key)
    if slot is None:
        raise KeyError(key)
    return slot.question


def has_key(survey: Survey, key: str) -> bool:
    """Whether ``key`` names a place the survey has (a question, in a pass if it is in a repeat)."""
    return repeats.question_at(survey, key) is not None


def slot_of(survey: Survey, key: str) -> Slot | None:
    """The place ``key`` names, with the passes around it."""
    return repeats.question_at(survey, key)


def _path_of(survey: Survey, key: str | None) -> PassPath:
    if key is None or not survey.repeats:
        return ()
    slot = repeats.question_at(survey, key)
    return slot.path if slot is not None else ()


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


def visible_choices(question: Question, state: ResponseState, survey: Survey | None = None) -> tuple[Choice, ...]:
    """The question's choices that pass its ``choice_filter`` given the answers so far (in a
    repeat, ``survey`` tells the pass of the current question, whose answers the filter sees)."""
    if question.choice_filter is None:
        return _ordered(question, question.choices, state.seed)
    today = _today(state)
    path = _path_of(survey, state.current) if survey is not None else ()
    visible: list[Choice] = []
    for choice in question.choices:
        try:
            if survey is not None:
                environment = _environment_in(survey, state.answers, path, today, choice=choice)
            else:
                environment = _environment(state.answers, today, choice=choice)
            if evaluate_bool(question.choice_filter, environment):
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


def _metadata(question: Question, key: str, result: Mapping[str, str | None], today: date, now: str) -> str | None:
    """start: when the response began; end: its latest step; today; the others have no value in a chat."""
    if question.type is QuestionType.START:
        return result.get(key) or now
    if question.type is QuestionType.END:
        return now
    if question.type is QuestionType.TODAY:
        return result.get(key) or today.isoformat()
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
    walk: Iterable[Slot]
    if survey.repeats:
        walk = repeats.slots(survey, result, today)
    else:
        walk = _plan(survey).recomputed
        if not walk:  # nothing relevant, metadata or computed: nothing can change
            return result, changes
    moment = now or datetime.now(UTC)
    stamp = moment.replace(microsecond=0).isoformat()
    labels: dict[str, dict[str, str]] | None = None
    for slot in walk:
        question, key = slot.question, slot.key
        if question.is_note:
            continue
        relevant = _slot_relevant(survey, slot, result, today)
        if question.is_metadata:
            value: str | None = _metadata(question, key, result, today, stamp)
            if result.get(key) != value or key not in result:
                result[key] = value
                changes.append((key, value))
            continue
        if question.trigger and key in result:
            before = previous or {}
            if all(result.get(name) == before.get(name) for name in question.trigger):
                continue
        if question.is_computed:
            value = None
            if relevant and question.calculation is not None:
                if labels is None and "jr:choice-name" in question.calculation.source:
                    labels = _choice_labels(survey)
                environment = replace(
                    _environment_in(survey, result, slot.path, today),
                    now=moment,
                    choice_labels=labels or {},
                    own=result.get(key),
                )
                try:
                    value = evaluate_string(question.calculation, environment)
                except ExpressionError:
                    value = None
            if result.get(key) != value or key not in result:
                result[key] = value
                changes.append((key, value))
        elif not relevant and result.get(key) is not None:
            result[key] = None
            changes.append((key, None))
    return result, changes


def _next_from(
    survey: Survey, after: str | None, answers: Mapping[str, str | None], today: date
) -> tuple[str | None, tuple[Question, ...]]:
    """The first relevant question after the one stored under ``after`` (None: from the start)
    still waiting for an answer, with the relevant notes just before it (notes behind answers
    kept from an earlier pass are not repeated)."""
    notes: list[Question] = []
    for slot in _places_after(survey, after, answers, today):
        question = slot.question
        if question.is_computed or not _slot_relevant(survey, slot, answers, today):
            continue
        if question.is_note:
            notes.append(question)
        elif slot.key not in answers:
            return slot.key, tuple(notes)
        else:
            notes = []
    return None, tuple(notes)


def _places_after(survey: Survey, after: str | None, answers: Mapping[str, str | None], today: date) -> Sequence[Slot]:
    """The places after the one stored under ``after`` (None: all of them; a key the survey does
    not have: all of them too); without repeats, computed places are left out."""
    if not survey.repeats:
        plan = _plan(survey)
        return plan.walked[plan.following.get(after, 0) if after is not None else 0 :]
    expanded = list(repeats.slots(survey, answers, today))
    start = 0
    if after is not None:
        start = next((index + 1 for index, slot in enumerate(expanded) if slot.key == after), 0)
    return expanded[start:]


def _entering(survey: Survey, name: str | None, answers: Mapping[str, str | None]) -> tuple[str, ...]:
    """The ticks a select_multiple starts with: its answer, else its default."""
    if name is None:
        return ()
    question = question_at(survey, name)
    if question.type is not QuestionType.SELECT_MULTIPLE:
        return ()
    value = answers.get(name) if name in answers else offered_default(question, answers)
    return tuple((value or "").split())


def _names_choices(question: Question, value: str) -> bool:
    """Whether ``value`` can answer ``question``: for a choice question, it names its choices (one
    for a select_one); any value for the others."""
    if question.type not in CHOICE_TYPES:
        return True
    names = {choice.name for choice in question.choices}
    return set(value.split()) <= names and not (question.type is QuestionType.SELECT_ONE and " " in value)


def offered_default(question: Question, answers: Mapping[str, str | None]) -> str | None:
    """The value ``question`` offers to keep (its Keep button, the first ticks of a
    select_multiple): with ``prefill``, the previous wave's answer in ``answers`` when there is
    one that can answer it; otherwise its ``default`` (None: nothing is offered)."""
    if question.prefill is not None:
        value = (answers.get(panels.last_wave_key(question.prefill)) or "").strip()
        if value and _names_choices(question, value):
            return value
    return question.default


def _moved(
    survey: Survey,
    state: ResponseState,
    answers: dict[str, str | None],
    after: str | None,
    recorded: list[tuple[str, str | None]],
    feedback: QuizFeedback | None = None,
) -> Outcome:
    current, notes = _next_from(survey, after, answers, _today(state))
    # Built field by field rather than by replace(), which costs twice as much (once a step).
    new_state = ResponseState(
        answers=answers,
        current=current,
        selection=_entering(survey, current, answers),
        today=state.today,
        now=state.now,
        seed=state.seed,
    )
    return Outcome(state=new_state, recorded=tuple(recorded), notes=notes, feedback=feedback)


def prefilled(
    survey: Survey, profile: Mapping[str, str | None], answers: Mapping[str, str | None] | None = None
) -> list[tuple[str, str]]:
    """The answers the contact's ``profile`` (register field -> value) gives to the questions
    with ``from_profile`` not answered yet in ``answers``: a choice question only takes a value
    that names its choices; a question inside a repeat is always asked."""
    given = answers or {}
    found: list[tuple[str, str]] = []
    for question in survey.questions:
        if question.from_profile is None or question.repeats or question.name in given:
            continue
        value = (profile.get(question.from_profile) or "").strip()
        if not value or not _names_choices(question, value):
            continue
        found.append((question.name, value))
    return found


def start(
    survey: Survey,
    today: date | None = None,
    *,
    now: datetime | None = None,
    profile: Mapping[str, str | None] | None = None,
    last_wave: Mapping[str, str | None] | None = None,
) -> Outcome:
    """Begin a survey: the first question, with any notes before it. Questions that the
    contact's ``profile`` answers (:func:`prefilled`) are recorded and not asked. ``last_wave``:
    the person's answers to the previous wave of the survey's panel (question name -> value)."""
    state = ResponseState(answers={}, current=None, today=today, now=now)
    known = dict(prefilled(survey, profile or {}))
    answers, changes = _recompute(survey, panels.with_last_wave(known, last_wave), _today(state), _now(state))
    recorded = [*((name, answers.get(name)) for name in known if answers.get(name) is not None), *changes]
    return _moved(survey, state, answers, None, recorded)


def resume(
    survey: Survey,
    answers: Mapping[str, str | None],
    today: date | None = None,
    *,
    now: datetime | None = None,
    profile: Mapping[str, str | None] | None = None,
    last_wave: Mapping[str, str | None] | None = None,
) -> Outcome:
    """Continue a response from its stored answers: the first relevant question not answered yet.

    Used when a respondent returns to a survey they left, and when the survey file changed
    under a response (answers to questions that no longer exist are kept but not asked again).
    Questions not answered yet that the ``profile`` answers are recorded, and ``last_wave`` is
    read, as in :func:`start`.
    """
    state = ResponseState(answers={}, current=None, today=today, now=now)
    kept = {name: value for name, value in answers.items() if has_key(survey, name)}
    known = dict(prefilled(survey, profile or {}, kept))
    given = panels.with_last_wave({**kept, **known}, last_wave)
    recomputed, changes = _recompute(survey, given, _today(state), _now(state), kept)
    recorded = [*((name, recomputed.get(name)) for name in known if recomputed.get(name) is not None), *changes]
    outcome = _moved(survey, state, recomputed, None, recorded)
    return replace(outcome, notes=())


def _refuse(state: ResponseState, problem: Problem) -> Outcome:
    return Outcome(state=state, problem=problem)


def _check(survey: Survey, slot: Slot, value: str | None, state: ResponseState) -> Problem | None:
    """The question's own rules on a parsed value: required, choices, constraint."""
    today = _today(state)
    question = slot.question
    if value is None:
        required = question.required
        if question.required_if is not None:
            try:
                required = evaluate_bool(question.required_if, _environment_in(survey, state.answers, slot.path, today))
            except ExpressionError:
                required = True
        return Problem("required", message=question.required_message) if required else None
    if question.type in CHOICE_TYPES:
        allowed = {choice.name for choice in visible_choices(question, state, survey)}
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
            allowed_value = evaluate_bool(
                question.constraint, _environment_in(survey, state.answers, slot.path, today, current=value)
            )
        except ExpressionError:
            allowed_value = False
        if not allowed_value:
            return Problem("constraint", message=question.constraint_message)
    return None


def _accept(survey: Survey, state: ResponseState, slot: Slot, value: str | None) -> Outcome:
    problem = _check(survey, slot, value, state)
    if problem is not None:
        return _refuse(state, problem)
    today = _today(state)
    question = slot.question
    answers, changes = _recompute(survey, {**state.answers, slot.key: value}, today, _now(state), state.answers)
    feedback = None
    if survey.is_quiz and question.correct is not None and value is not None:
        feedback = QuizFeedback(question, value == question.correct)
    return _moved(survey, state, answers, slot.key, [(slot.key, value), *changes], feedback)


def advance(survey: Survey, state: ResponseState, action: Action) -> Outcome:
    """Apply one respondent action to the question in ``state``.

    A refused input leaves the state unchanged and says why in :attr:`Outcome.problem`.
    """
    if state.current is None:
        return _refuse(state, Problem("survey_finished"))
    slot = slot_of(survey, state.current)
    if slot is None:
        return _refuse(state, Problem("press_not_expected"))
    question = slot.question
    if isinstance(action, SkipQuestion):
        return _accept(survey, state, slot, None)
    if isinstance(action, UseDefault):
        default = offered_default(question, state.answers)
        if default is None:
            return _refuse(state, Problem("press_not_expected"))
        if question.type is QuestionType.SELECT_MULTIPLE:
            return _accept(survey, state, slot, join_selection(question, default.split()))
        if question.type is QuestionType.SELECT_ONE:
            return _accept(survey, state, slot, default)
        action = TypedAnswer(default)
    if isinstance(action, GiveFile):
        return _give_file(survey, state, slot, action)
    if isinstance(action, GiveLocation):
        try:
            point = format_point(action.latitude, action.longitude, action.altitude, action.accuracy)
        except InvalidAnswer as refused:
            return _refuse(state, refused.problem)
        return _give_point(survey, state, slot, point)
    if isinstance(action, TypedAnswer):
        try:
            value = parse_typed_answer(question, action.text, visible_choices(question, state, survey))
        except InvalidAnswer as refused:
            return _refuse(state, refused.problem)
        if question.type in MIN_POINTS:
            return _give_point(survey, state, slot, value)
        return _accept(survey, state, slot, value)
    if question.type in MIN_POINTS and isinstance(action, FinishSelection):
        return _finish_points(survey, state, slot)
    if question.type not in CHOICE_TYPES:
        return _refuse(state, Problem("press_not_expected"))
    if isinstance(action, PickChoice):
        if question.type is not QuestionType.SELECT_ONE or question.choice(action.choice) is None:
            return _refuse(state, Problem("press_not_expected"))
        return _accept(survey, state, slot, action.choice)
    if question.type is not QuestionType.SELECT_MULTIPLE:
        return _refuse(state, Problem("press_not_expected"))
    if isinstance(action, ToggleChoice):
        if action.choice not in {choice.name for choice in visible_choices(question, state, survey)}:
            return _refuse(state, Problem("press_not_expected"))
        ticked = set(state.selection) ^ {action.choice}
        selection = tuple(c.name for c in question.choices if c.name in ticked)
        return Outcome(state=replace(state, selection=selection), selection_changed=True)
    # FinishSelection
    if not state.selection:
        if question.required and question.min_choices != 0:
            return _refuse(state, Problem("select_at_least_one", message=question.required_message))
        return _accept(survey, state, slot, None)
    return _accept(survey, state, slot, join_selection(question, state.selection))


def accepts_file(question: Question, kind: str) -> bool:
    """Whether a file of ``kind`` answers ``question`` (a file question takes any kind)."""
    return question.type in MEDIA_TYPES and (question.type is QuestionType.FILE or question.type.value == kind)


def _give_file(survey: Survey, state: ResponseState, slot: Slot, action: GiveFile) -> Outcome:
    question = slot.question
    if question.type not in MEDIA_TYPES:
        return _refuse(state, Problem("expects_text"))
    if not accepts_file(question, action.kind):
        return _refuse(state, expected_problem(question))
    return _accept(survey, state, slot, action.name)


def _give_point(survey: Survey, state: ResponseState, slot: Slot, point: str) -> Outcome:
    """A geopoint is answered by one point (an osm feature too: its tags are typed after the
    point, so a shared position gives the feature without tags); a geotrace or geoshape collects
    it until "done"."""
    question = slot.question
    if question.type in (QuestionType.GEOPOINT, QuestionType.OSM):
        return _accept(survey, state, slot, point)
    if question.type not in MIN_POINTS:
        return _refuse(state, Problem("expects_text"))
    if len(state.selection) >= MAX_POINTS:
        return _refuse(state, Problem("too_many_points", {"max": str(MAX_POINTS)}))
    collected = (*state.selection, point_token(point))
    return Outcome(state=replace(state, selection=collected), selection_changed=True)


def _finish_points(survey: Survey, state: ResponseState, slot: Slot) -> Outcome:
    question = slot.question
    if not state.selection and not question.required and question.required_if is None:
        return _accept(survey, state, slot, None)
    distinct = len(set(state.selection))
    if distinct < MIN_POINTS[question.type]:
        return _refuse(state, expected_problem(question))
    return _accept(survey, state, slot, join_points(question, state.selection))


def back(survey: Survey, state: ResponseState) -> Outcome:
    """``/back``: the previous relevant question that was answered; later answers are kept.

    From the end of the survey (a summary being confirmed) it is the last answered question. In a
    repeat, "Add another?" is passed over: from the first question of a pass it is the last
    question of the pass before.
    """
    today = _today(state)
    expanded = list(repeats.slots(survey, state.answers, today))
    keys = [slot.key for slot in expanded]
    stop = keys.index(state.current) if state.current in keys else len(expanded)
    for slot in reversed(expanded[:stop]):
        if (
            slot.another is None
            and slot.question.is_asked
            and slot.key in state.answers
            and _slot_relevant(survey, slot, state.answers, today)
        ):
            moved = replace(state, current=slot.key, selection=_entering(survey, slot.key, state.answers))
            return Outcome(state=moved)
    return _refuse(state, Problem("no_previous_question"))


def go_to(survey: Survey, state: ResponseState, name: str) -> Outcome:
    """Ask an answered question again (changing one answer from the summary); ``name`` is its
    answer key (see :mod:`surveys.repeats`)."""
    slot = slot_of(survey, name)
    if slot is None:
        return _refuse(state, Problem("press_not_expected"))
    if not slot.question.is_asked or name not in {s.key for s in asked_slots(survey, state)}:
        return _refuse(state, Problem("press_not_expected"))
    moved = replace(state, current=name, selection=_entering(survey, name, state.answers))
    return Outcome(state=moved)


def asked_slots(survey: Survey, state: ResponseState) -> list[Slot]:
    """The places the respondent is asked given the answers so far, in order (with each pass's
    questions, and the "Add another?" after it)."""
    today = _today(state)
    if not survey.repeats:
        plan = _plan(survey)
        if not plan.conditional:
            return list(plan.asked)
        return [slot for slot in plan.asked if _slot_relevant(survey, slot, state.answers, today)]
    return [
        slot
        for slot in repeats.slots(survey, state.answers, today)
        if slot.question.is_asked and _slot_relevant(survey, slot, state.answers, today)
    ]


def asked_questions(survey: Survey, state: ResponseState) -> list[Question]:
    """The questions the respondent is asked given the answers so far, in survey order (a
    question in a repeat once per pass)."""
    return [slot.question for slot in asked_slots(survey, state) if slot.another is None]


def progress(survey: Survey, state: ResponseState) -> Progress:
    """The current question's position among the relevant questions ("3/12"). Each pass's
    questions count; "Add another?" does not (it shows the position of the pass's last question)."""
    if not survey.repeats and not _plan(survey).conditional:
        return _unconditional_progress(_plan(survey), state.current)
    slots = asked_slots(survey, state)
    names = [slot.key for slot in slots if slot.another is None]
    if state.current is not None and state.current not in names:
        another = next((index for index, slot in enumerate(slots) if slot.key == state.current), None)
        if another is not None:
            before = sum(1 for slot in slots[:another] if slot.another is None)
            return Progress(position=before, total=len(names))
        names.append(state.current)
    position = names.index(state.current) + 1 if state.current in names else len(names)
    return Progress(position=position, total=len(names))


def _unconditional_progress(plan: _Plan, current: str | None) -> Progress:
    """:func:`progress` where every question is asked whatever the answers (and no repeat): from
    the plan, without a walk. A key the survey does not ask counts as one more, at the end."""
    total = len(plan.asked)
    if current is None:
        return Progress(position=total, total=total)
    index = plan.positions.get(current)
    if index is None:
        return Progress(position=total + 1, total=total + 1)
    return Progress(position=index + 1, total=total)


def answered_slots(survey: Survey, state: ResponseState) -> list[tuple[Slot, str | None]]:
    """The relevant places with their answers, for the summary before submitting ("Add another?"
    left out)."""
    return [
        (slot, state.answers.get(slot.key))
        for slot in asked_slots(survey, state)
        if slot.another is None and slot.key in state.answers
    ]


def answered(survey: Survey, state: ResponseState) -> list[tuple[Question, str | None]]:
    """The relevant questions with their answers, for the summary before submitting."""
    return [(slot.question, value) for slot, value in answered_slots(survey, state)]


def score(survey: Survey, answers: Mapping[str, str | None]) -> tuple[int, int]:
    """A quiz's score: correct answers, out of the questions that have a correct answer."""
    marked = [q for q in survey.questions if q.correct is not None]
    return sum(1 for q in marked if answers.get(q.name) == q.correct), len(marked)
