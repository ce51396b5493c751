"""The survey conversation: asking questions, taking answers, finishing.

Decisions about what to ask come from the pure runner (:mod:`surveys.runner`); this module
loads and stores the respondent's state and turns questions into messages.
"""

from __future__ import annotations

from dataclasses import replace

from handlers import payloads
from handlers.context import Context
from handlers.messages import Button, Outbound
from handlers.texts import Texts
from storage.records import Conversation
from surveys import runner
from surveys.answers import Problem, range_points
from surveys.model import LocalizedText, Question, QuestionType, Survey

FLOW = "survey"
# Buttons this long or longer go one per row, so that a phone shows the whole label.
LONG_LABEL = 18


def _survey_language(ctx: Context, survey: Survey) -> str:
    return survey.language_for(ctx.contact.language or ctx.language)


def _text(ctx: Context, survey: Survey, text: LocalizedText) -> str:
    return text.in_language(_survey_language(ctx, survey), survey.default_language)


def _rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def render_question(
    ctx: Context, survey: Survey, conversation: Conversation, *, replaces_pressed: bool = False
) -> Outbound:
    """The message that asks the conversation's current question, with its buttons."""
    assert conversation.current_question is not None
    question = survey.question(conversation.current_question)
    position = runner.progress(survey, _state(conversation, {}))
    lines = [f"{position.position}/{position.total} · {_text(ctx, survey, question.label)}"]
    if question.hint is not None:
        lines.append(_text(ctx, survey, question.hint))
    serial = conversation.prompt_serial
    buttons: list[Button] = []
    per_row = 1
    if question.type is QuestionType.SELECT_ONE:
        labels = [_text(ctx, survey, choice.label) for choice in question.choices]
        buttons = [Button(label, payloads.prompt_press(serial, payloads.CHOOSE, i)) for i, label in enumerate(labels)]
        per_row = 1 if any(len(label) >= LONG_LABEL for label in labels) else 2
    elif question.type is QuestionType.SELECT_MULTIPLE:
        for i, choice in enumerate(question.choices):
            tick = "✅" if choice.name in conversation.selection else "◻️"
            label = f"{tick} {_text(ctx, survey, choice.label)}"
            buttons.append(Button(label, payloads.prompt_press(serial, payloads.TOGGLE, i)))
    elif question.type is QuestionType.RANGE:
        points = range_points(question)
        buttons = [Button(point, payloads.prompt_press(serial, payloads.CHOOSE, i)) for i, point in enumerate(points)]
        per_row = len(points) if len(points) <= 6 else 6
    rows = list(_rows(buttons, per_row))
    closing: list[Button] = []
    if question.type is QuestionType.SELECT_MULTIPLE:
        closing.append(Button(ctx.texts("button_done"), payloads.prompt_press(serial, payloads.DONE)))
    if not question.required:
        closing.append(Button(ctx.texts("button_skip"), payloads.prompt_press(serial, payloads.SKIP)))
    if closing:
        rows.append(tuple(closing))
    return Outbound(text="\n".join(lines), buttons=tuple(rows), replaces_pressed=replaces_pressed)


def _state(conversation: Conversation, answers: dict[str, str | None]) -> runner.ResponseState:
    return runner.ResponseState(
        answers=answers, current=conversation.current_question, selection=conversation.selection
    )


def _notes(ctx: Context, survey: Survey, notes: tuple[Question, ...]) -> list[Outbound]:
    return [Outbound(text=_text(ctx, survey, note.label)) for note in notes]


def _problem_text(texts: Texts, problem: Problem) -> str:
    return texts(f"problem_{problem.code}", **problem.params)


async def begin(ctx: Context, survey: Survey) -> list[Outbound]:
    """Start ``survey`` for the contact, or resume their unfinished response to it."""
    current = await ctx.repos.conversations.get(ctx.contact.id)
    if current is not None and current.flow == FLOW and current.survey_id == survey.id:
        return await current_prompt(ctx, current)
    latest = await ctx.repos.responses.latest_for(ctx.contact.id, survey.id)
    if latest is not None and latest.complete:
        return [Outbound(text=ctx.texts("already_answered", title=_text(ctx, survey, survey.title)))]
    messages: list[Outbound] = []
    if latest is not None:
        answers = dict(await ctx.repos.responses.answers(latest.id))
        outcome = runner.resume(survey, answers)
        response_id = latest.id
        messages.append(Outbound(text=ctx.texts("resuming")))
    else:
        outcome = runner.start(survey)
        language = _survey_language(ctx, survey)
        response_id = await ctx.repos.responses.create(
            survey_id=survey.id,
            survey_version=survey.version,
            contact=ctx.contact,
            respondent=ctx.pseudonymize(ctx.contact.channel, ctx.contact.user_key),
            language=language,
            now=ctx.now,
        )
        title = _text(ctx, survey, survey.title)
        intro = f"\n\n{_text(ctx, survey, survey.intro)}" if survey.intro else ""
        messages.append(Outbound(text=f"{title}{intro}\n\n{ctx.texts('survey_start_hint')}"))
    previous_serial = current.prompt_serial if current is not None else 0
    conversation = Conversation(
        contact_id=ctx.contact.id,
        flow=FLOW,
        survey_id=survey.id,
        response_id=response_id,
        current_question=outcome.state.current,
        selection=(),
        prompt_serial=previous_serial + 1,
    )
    return messages + await _after_step(ctx, survey, conversation, outcome)


async def current_prompt(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """Ask again the question the contact is on (after /start, a reload or a redelivery)."""
    survey = ctx.surveys.get(conversation.survey_id or "")
    if (
        survey is None
        or conversation.current_question is None
        or not survey.has_question(conversation.current_question)
    ):
        return await _survey_changed(ctx, conversation, survey)
    return [render_question(ctx, survey, conversation)]


async def _survey_changed(ctx: Context, conversation: Conversation, survey: Survey | None) -> list[Outbound]:
    """The survey was withdrawn or its current question removed: resume or end cleanly."""
    if survey is None:
        await ctx.repos.conversations.end(ctx.contact.id)
        return [Outbound(text=ctx.texts("unknown_survey", survey=conversation.survey_id or ""))]
    assert conversation.response_id is not None
    answers = dict(await ctx.repos.responses.answers(conversation.response_id))
    outcome = runner.resume(survey, answers)
    moved = replace(
        conversation, current_question=outcome.state.current, selection=(), prompt_serial=conversation.prompt_serial + 1
    )
    return await _after_step(ctx, survey, moved, outcome)


async def on_text(ctx: Context, conversation: Conversation, text: str) -> list[Outbound]:
    """A typed answer (or the skip word) to the current question."""
    action: runner.Action = runner.SkipQuestion() if ctx.texts.is_skip_word(text) else runner.TypedAnswer(text)
    return await _act(ctx, conversation, action, pressed=False)


async def on_press(ctx: Context, conversation: Conversation, press: payloads.PromptPress) -> list[Outbound]:
    """A button press on a question; presses on earlier prompts change nothing."""
    survey = ctx.surveys.get(conversation.survey_id or "")
    if (
        survey is None
        or conversation.current_question is None
        or not survey.has_question(conversation.current_question)
    ):
        return await _survey_changed(ctx, conversation, survey)
    question = survey.question(conversation.current_question)
    action = _press_action(question, press) if press.serial == conversation.prompt_serial else None
    if action is None:
        # A press on an earlier prompt (or a forged one): say so, and show where the user is.
        return [Outbound(text=ctx.texts("stale_button")), render_question(ctx, survey, conversation)]
    return await _act(ctx, conversation, action, pressed=True)


def _press_action(question: Question, press: payloads.PromptPress) -> runner.Action | None:
    if press.op == payloads.SKIP:
        return runner.SkipQuestion()
    if press.op == payloads.DONE:
        return runner.FinishSelection()
    index = press.index if press.index is not None else -1
    if question.type is QuestionType.RANGE and press.op == payloads.CHOOSE:
        points = range_points(question)
        return runner.TypedAnswer(points[index]) if 0 <= index < len(points) else None
    if not 0 <= index < len(question.choices):
        return None
    name = question.choices[index].name
    return runner.PickChoice(name) if press.op == payloads.CHOOSE else runner.ToggleChoice(name)


async def _act(ctx: Context, conversation: Conversation, action: runner.Action, *, pressed: bool) -> list[Outbound]:
    survey = ctx.surveys.get(conversation.survey_id or "")
    if (
        survey is None
        or conversation.current_question is None
        or not survey.has_question(conversation.current_question)
    ):
        return await _survey_changed(ctx, conversation, survey)
    assert conversation.response_id is not None
    answers = dict(await ctx.repos.responses.answers(conversation.response_id))
    question = survey.question(conversation.current_question)
    outcome = runner.advance(survey, _state(conversation, answers), action)
    if outcome.problem is not None:
        return [Outbound(text=_problem_text(ctx.texts, outcome.problem)), render_question(ctx, survey, conversation)]
    if outcome.selection_changed:
        ticked = replace(conversation, selection=outcome.state.selection)
        await ctx.repos.conversations.save(ticked, ctx.now)
        return [render_question(ctx, survey, ticked, replaces_pressed=True)]
    messages: list[Outbound] = []
    if pressed:
        # Close the answered question in place: its buttons go, the answer shows under it.
        messages.append(Outbound(text=_answered_text(ctx, survey, question, outcome), replaces_pressed=True))
    moved = replace(
        conversation, current_question=outcome.state.current, selection=(), prompt_serial=conversation.prompt_serial + 1
    )
    return messages + await _after_step(ctx, survey, moved, outcome)


def _answered_text(ctx: Context, survey: Survey, question: Question, outcome: runner.Outcome) -> str:
    value = dict(outcome.recorded).get(question.name)
    if value is None:
        shown = ctx.texts("button_skip")
    elif question.type in (QuestionType.SELECT_ONE, QuestionType.SELECT_MULTIPLE):
        labels = [_text(ctx, survey, c.label) for c in question.choices if c.name in value.split()]
        shown = ", ".join(labels)
    else:
        shown = value
    return f"{_text(ctx, survey, question.label)}\n→ {shown}"


async def _after_step(
    ctx: Context, survey: Survey, conversation: Conversation, outcome: runner.Outcome
) -> list[Outbound]:
    """Store what the step recorded and the new position, then say what comes next."""
    assert conversation.response_id is not None
    for name, value in outcome.recorded:
        await ctx.repos.responses.record_answer(conversation.response_id, name, value, ctx.now)
    messages = _notes(ctx, survey, outcome.notes)
    if outcome.finished:
        await ctx.repos.responses.complete(conversation.response_id, ctx.now)
        await ctx.repos.conversations.end(ctx.contact.id)
        outro = _text(ctx, survey, survey.outro) if survey.outro else ""
        messages.append(Outbound(text=f"{outro}\n\n{ctx.texts('finished')}".strip()))
        return messages
    await ctx.repos.conversations.save(conversation, ctx.now)
    messages.append(render_question(ctx, survey, conversation))
    return messages


async def cancel(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """Leave the survey; the response stays stored as incomplete."""
    await ctx.repos.conversations.end(ctx.contact.id)
    return [Outbound(text=ctx.texts("cancelled"))]


def survey_title(ctx: Context, survey: Survey) -> str:
    return _text(ctx, survey, survey.title)
