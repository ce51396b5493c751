"""The survey conversation: asking questions, taking answers, going back, confirming, finishing.

Decisions about what to ask come from the pure runner (:mod:`surveys.runner`); this module
loads and stores the respondent's state and turns questions into messages.

A conversation whose ``current_question`` is None is at the summary, waiting for the
respondent to submit (surveys with ``confirm: true``).
"""

from __future__ import annotations

from dataclasses import replace

from handlers import payloads
from handlers.context import Context
from handlers.messages import Button, Outbound
from storage.records import Conversation
from surveys import runner
from surveys.answers import Problem, range_points
from surveys.model import LocalizedText, Question, QuestionType, Survey

FLOW = "survey"
# Buttons this long or longer go one per row, so that a phone shows the whole label.
LONG_LABEL = 18
# Likert scales and short ranges fit on one row of a phone screen.
MAX_PER_ROW = 6


def _survey_language(ctx: Context, survey: Survey) -> str:
    return survey.language_for(ctx.contact.language or ctx.language)


def text_of(ctx: Context, survey: Survey, text: LocalizedText) -> str:
    """A survey text in the language the contact reads this survey in."""
    return text.in_language(_survey_language(ctx, survey), survey.default_language)


def _rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def _per_row(question: Question, labels: list[str]) -> int:
    appearance = set((question.appearance or "").split())
    if "vertical" in appearance:
        return 1
    if appearance & {"likert", "horizontal", "horizontal-compact"} or question.type is QuestionType.RANGE:
        return min(len(labels), MAX_PER_ROW) or 1
    return 1 if any(len(label) >= LONG_LABEL for label in labels) else 2


def state_of(ctx: Context, conversation: Conversation, answers: dict[str, str | None]) -> runner.ResponseState:
    return runner.ResponseState(
        answers=answers,
        current=conversation.current_question,
        selection=conversation.selection,
        today=ctx.now.date(),
    )


def shown_value(ctx: Context, survey: Survey, question: Question, value: str | None) -> str:
    """An answer as the respondent sees it: choice labels, or the value itself."""
    if value is None:
        return ctx.texts("skipped")
    if question.type in (QuestionType.SELECT_ONE, QuestionType.SELECT_MULTIPLE):
        chosen = value.split()
        return ", ".join(text_of(ctx, survey, c.label) for c in question.choices if c.name in chosen)
    return value


def render_question(
    ctx: Context,
    survey: Survey,
    conversation: Conversation,
    answers: dict[str, str | None],
    *,
    replaces_pressed: bool = False,
) -> Outbound:
    """The message that asks the conversation's current question, with its buttons."""
    assert conversation.current_question is not None
    question = survey.question(conversation.current_question)
    state = state_of(ctx, conversation, answers)
    position = runner.progress(survey, state)
    lines = [f"{position.position}/{position.total} · {text_of(ctx, survey, question.label)}"]
    if question.hint is not None:
        lines.append(text_of(ctx, survey, question.hint))
    if question.name in answers:
        lines.append(ctx.texts("current_answer", answer=shown_value(ctx, survey, question, answers[question.name])))
    serial = conversation.prompt_serial
    buttons: list[Button] = []
    labels: list[str] = []
    if question.type in (QuestionType.SELECT_ONE, QuestionType.SELECT_MULTIPLE):
        visible = {choice.name for choice in runner.visible_choices(question, state)}
        multiple = question.type is QuestionType.SELECT_MULTIPLE
        for index, choice in enumerate(question.choices):
            if choice.name not in visible:
                continue
            label = text_of(ctx, survey, choice.label)
            labels.append(label)
            if multiple:
                tick = "✅" if choice.name in conversation.selection else "◻️"
                buttons.append(Button(f"{tick} {label}", payloads.prompt_press(serial, payloads.TOGGLE, index)))
            else:
                buttons.append(Button(label, payloads.prompt_press(serial, payloads.CHOOSE, index)))
    elif question.type is QuestionType.RANGE:
        labels = range_points(question)
        buttons = [Button(p, payloads.prompt_press(serial, payloads.CHOOSE, i)) for i, p in enumerate(labels)]
    per_row = 1 if question.type is QuestionType.SELECT_MULTIPLE else _per_row(question, labels)
    rows = list(_rows(buttons, per_row))
    closing: list[Button] = []
    if question.default is not None and question.type is not QuestionType.SELECT_MULTIPLE:
        keep = shown_value(ctx, survey, question, question.default)
        closing.append(Button(ctx.texts("button_keep", value=keep), payloads.prompt_press(serial, payloads.DEFAULT)))
    if question.type is QuestionType.SELECT_MULTIPLE:
        # Done carries the ticks shown with it: another copy of the question (sent again after a
        # lost reply) may have changed the stored ones since this keyboard was drawn.
        ticked = [i for i, choice in enumerate(question.choices) if choice.name in conversation.selection]
        mask = payloads.selection_mask(ticked)
        closing.append(Button(ctx.texts("button_done"), payloads.prompt_press(serial, payloads.DONE, mask)))
    if not question.required and question.required_if is None:
        closing.append(Button(ctx.texts("button_skip"), payloads.prompt_press(serial, payloads.SKIP)))
    if closing:
        rows.append(tuple(closing))
    return Outbound(text="\n".join(lines), buttons=tuple(rows), replaces_pressed=replaces_pressed)


def render_summary(
    ctx: Context, survey: Survey, conversation: Conversation, answers: dict[str, str | None]
) -> Outbound:
    """The answers before submitting, with Submit and Change buttons."""
    state = state_of(ctx, conversation, answers)
    lines = [ctx.texts("summary_title")]
    for question, value in runner.answered(survey, state):
        lines.append(f"• {text_of(ctx, survey, question.label)}\n   → {shown_value(ctx, survey, question, value)}")
    serial = conversation.prompt_serial
    buttons = (
        (Button(ctx.texts("button_submit"), payloads.prompt_press(serial, payloads.SUBMIT)),),
        (Button(ctx.texts("button_change"), payloads.prompt_press(serial, payloads.EDIT)),),
    )
    return Outbound(text="\n".join(lines), buttons=buttons)


def render_question_list(
    ctx: Context, survey: Survey, conversation: Conversation, answers: dict[str, str | None]
) -> Outbound:
    """The answered questions as buttons, to pick the one to change."""
    state = state_of(ctx, conversation, answers)
    serial = conversation.prompt_serial
    buttons = tuple(
        (
            Button(
                text_of(ctx, survey, q.label)[:60],
                payloads.prompt_press(serial, payloads.GO_TO, survey.questions.index(q)),
            ),
        )
        for q, _ in runner.answered(survey, state)
    )
    return Outbound(text=ctx.texts("choose_question"), buttons=buttons, replaces_pressed=True)


def _prompt(
    ctx: Context, survey: Survey, conversation: Conversation, answers: dict[str, str | None], **kwargs: bool
) -> Outbound:
    if conversation.current_question is None:
        return render_summary(ctx, survey, conversation, answers)
    return render_question(ctx, survey, conversation, answers, **kwargs)


def _notes(ctx: Context, survey: Survey, notes: tuple[Question, ...]) -> list[Outbound]:
    return [Outbound(text=text_of(ctx, survey, note.label)) for note in notes]


def problem_text(ctx: Context, survey: Survey, problem: Problem) -> str:
    """Why an answer was refused: the survey's own message if it has one, else the bot's."""
    if problem.message is not None:
        return text_of(ctx, survey, problem.message)
    return ctx.texts(f"problem_{problem.code}", **problem.params)


def availability_problem(ctx: Context, survey: Survey) -> str | None:
    """Why the survey cannot be offered to this contact today, or None."""
    today = ctx.now.date()
    title = text_of(ctx, survey, survey.title)
    if survey.opens is not None and today < survey.opens:
        return ctx.texts("survey_not_open", title=title, date=survey.opens.isoformat())
    if survey.closes is not None and today > survey.closes:
        return ctx.texts("survey_closed", title=title, date=survey.closes.isoformat())
    if survey.audience is not None and not ctx.in_audience(survey.audience):
        return ctx.texts("not_in_audience", title=title)
    return None


async def _answers(ctx: Context, conversation: Conversation) -> dict[str, str | None]:
    """The stored answers of the conversation's response. A conversation read from the database
    brings them along (no handler writes answers before reading them), else they are read."""
    assert conversation.response_id is not None
    if conversation.answers is not None:
        return dict(conversation.answers)
    return dict(await ctx.repos.responses.answers(conversation.response_id))


async def begin(ctx: Context, survey: Survey) -> list[Outbound]:
    """Start ``survey`` for the contact, or resume their unfinished response to it."""
    current = await ctx.repos.conversations.get(ctx.contact.id)
    if current is not None and current.flow == FLOW and current.survey_id == survey.id:
        if ctx.inbound.newer_waiting:
            # "Where am I?" while a newer message of the chat waits: its reply shows where the
            # person is. Showing the current question first would show one that the newer
            # message may answer, and the person would answer it again (for the next question).
            return []
        return await current_prompt(ctx, current)
    unavailable = availability_problem(ctx, survey)
    if unavailable is not None:
        return [Outbound(text=unavailable)]
    latest = None if survey.anonymous else await ctx.repos.responses.latest_for(ctx.contact.id, survey.id)
    messages: list[Outbound] = []
    if latest is not None and not latest.complete:
        answers = dict(await ctx.repos.responses.answers(latest.id))
        outcome = runner.resume(survey, answers, ctx.now.date())
        response_id = latest.id
        messages.append(Outbound(text=ctx.texts("resuming")))
    else:
        completed = await ctx.repos.participations.completed(ctx.contact.id, survey.id)
        if completed >= survey.max_responses_per_user:
            return [Outbound(text=ctx.texts("already_answered", title=text_of(ctx, survey, survey.title)))]
        outcome = runner.start(survey, ctx.now.date())
        response_id = await ctx.repos.responses.create(
            survey_id=survey.id,
            survey_version=survey.version,
            contact=None if survey.anonymous else ctx.contact,
            channel=ctx.contact.channel,
            respondent="" if survey.anonymous else ctx.pseudonymize(ctx.contact.channel, ctx.contact.user_key),
            language=_survey_language(ctx, survey),
            now=ctx.now,
        )
        title = text_of(ctx, survey, survey.title)
        intro = f"\n\n{text_of(ctx, survey, survey.intro)}" if survey.intro else ""
        messages.append(Outbound(text=f"{title}{intro}\n\n{ctx.texts('survey_start_hint')}"))
    previous_serial = current.prompt_serial if current is not None else 0
    conversation = Conversation(
        contact_id=ctx.contact.id,
        flow=FLOW,
        survey_id=survey.id,
        response_id=response_id,
        current_question=outcome.state.current,
        selection=outcome.state.selection,
        prompt_serial=previous_serial + 1,
    )
    return messages + await _after_step(ctx, survey, conversation, outcome)


def _survey_of(ctx: Context, conversation: Conversation) -> Survey | None:
    """The conversation's survey, if it still exists and still has the current question."""
    survey = ctx.surveys.get(conversation.survey_id or "")
    if survey is None:
        return None
    if conversation.current_question is not None and not survey.has_question(conversation.current_question):
        return None
    return survey


async def current_prompt(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """Ask again the question the contact is on (after /start, a reload or a redelivery)."""
    survey = _survey_of(ctx, conversation)
    if survey is None:
        return await _survey_changed(ctx, conversation)
    return [_prompt(ctx, survey, conversation, await _answers(ctx, conversation))]


async def _survey_changed(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """The survey was withdrawn or its current question removed: resume or end cleanly."""
    survey = ctx.surveys.get(conversation.survey_id or "")
    if survey is None:
        await ctx.repos.conversations.end(ctx.contact.id)
        return [Outbound(text=ctx.texts("unknown_survey", survey=conversation.survey_id or ""))]
    outcome = runner.resume(survey, await _answers(ctx, conversation), ctx.now.date())
    return await _after_step(ctx, survey, _moved(conversation, outcome), outcome)


def _moved(conversation: Conversation, outcome: runner.Outcome) -> Conversation:
    return replace(
        conversation,
        current_question=outcome.state.current,
        selection=outcome.state.selection,
        prompt_serial=conversation.prompt_serial + 1,
        answers=None,  # the step is about to store answers: what was read with it gets old
    )


async def on_text(ctx: Context, conversation: Conversation, text: str) -> list[Outbound]:
    """A typed answer (or the skip word) to the current question."""
    if conversation.current_question is None:
        survey = _survey_of(ctx, conversation)
        if survey is None:
            return await _survey_changed(ctx, conversation)
        return [
            Outbound(text=ctx.texts("problem_press_not_expected")),
            render_summary(ctx, survey, conversation, await _answers(ctx, conversation)),
        ]
    action: runner.Action = runner.SkipQuestion() if ctx.texts.is_skip_word(text) else runner.TypedAnswer(text)
    return await _act(ctx, conversation, action, pressed=False)


async def skip(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """``/skip``: skip the current question if it is optional."""
    if conversation.current_question is None:
        return await current_prompt(ctx, conversation)
    return await _act(ctx, conversation, runner.SkipQuestion(), pressed=False)


async def back(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """``/back``: the previous answered question, asked again; later answers are kept."""
    survey = _survey_of(ctx, conversation)
    if survey is None:
        return await _survey_changed(ctx, conversation)
    answers = await _answers(ctx, conversation)
    outcome = runner.back(survey, state_of(ctx, conversation, answers))
    if outcome.problem is not None:
        return [Outbound(text=problem_text(ctx, survey, outcome.problem)), _prompt(ctx, survey, conversation, answers)]
    moved = _moved(conversation, outcome)
    await ctx.repos.conversations.save(moved, ctx.now)
    return [render_question(ctx, survey, moved, answers)]


async def on_press(ctx: Context, conversation: Conversation, press: payloads.PromptPress) -> list[Outbound]:
    """A button press on a question or the summary; presses on earlier prompts change nothing."""
    survey = _survey_of(ctx, conversation)
    if survey is None:
        return await _survey_changed(ctx, conversation)
    if press.serial == conversation.prompt_serial:
        if conversation.current_question is None:
            handled = await _on_summary_press(ctx, survey, conversation, press)
            if handled is not None:
                return handled
        else:
            question = survey.question(conversation.current_question)
            action = press_action(question, press)
            if action is not None:
                return await _act(ctx, conversation, action, pressed=True, shown=shown_ticks(question, press))
    # A press on an earlier prompt (or a forged one): say so, and show where the user is.
    answers = await _answers(ctx, conversation)
    return [Outbound(text=ctx.texts("stale_button")), _prompt(ctx, survey, conversation, answers)]


async def _on_summary_press(
    ctx: Context, survey: Survey, conversation: Conversation, press: payloads.PromptPress
) -> list[Outbound] | None:
    answers = await _answers(ctx, conversation)
    if press.op == payloads.SUBMIT:
        return await _finish(
            ctx, survey, conversation, answers, [Outbound(text=ctx.texts("submitted"), replaces_pressed=True)]
        )
    if press.op == payloads.EDIT:
        return [render_question_list(ctx, survey, conversation, answers)]
    if press.op == payloads.GO_TO and press.index is not None and 0 <= press.index < len(survey.questions):
        outcome = runner.go_to(survey, state_of(ctx, conversation, answers), survey.questions[press.index].name)
        if outcome.problem is None:
            moved = _moved(conversation, outcome)
            await ctx.repos.conversations.save(moved, ctx.now)
            return [render_question(ctx, survey, moved, answers, replaces_pressed=True)]
    return None


def press_action(question: Question, press: payloads.PromptPress) -> runner.Action | None:
    """What a button press on ``question`` means, or None for a press that fits no button of it."""
    if press.op == payloads.SKIP:
        return runner.SkipQuestion()
    if press.op == payloads.DONE:
        forged = press.index is not None and press.index >> len(question.choices) != 0
        return None if forged else runner.FinishSelection()
    if press.op == payloads.DEFAULT:
        return runner.UseDefault()
    index = press.index if press.index is not None else -1
    if question.type is QuestionType.RANGE and press.op == payloads.CHOOSE:
        points = range_points(question)
        return runner.TypedAnswer(points[index]) if 0 <= index < len(points) else None
    if not 0 <= index < len(question.choices) or press.op not in (payloads.CHOOSE, payloads.TOGGLE):
        return None
    name = question.choices[index].name
    return runner.PickChoice(name) if press.op == payloads.CHOOSE else runner.ToggleChoice(name)


def shown_ticks(question: Question, press: payloads.PromptPress) -> frozenset[str] | None:
    """The options ticked on the keyboard whose Done was pressed; None for any other press (and
    for a Done without its ticks, which stands for the stored ones)."""
    if press.op != payloads.DONE or press.index is None:
        return None
    return frozenset(choice.name for i, choice in enumerate(question.choices) if press.index >> i & 1)


async def _act(
    ctx: Context,
    conversation: Conversation,
    action: runner.Action,
    *,
    pressed: bool,
    shown: frozenset[str] | None = None,
) -> list[Outbound]:
    """Apply ``action`` to the current question; ``shown`` (for a Done) is the selection the
    person saw when they pressed it, which is the one recorded."""
    survey = _survey_of(ctx, conversation)
    if survey is None or conversation.current_question is None:
        return await _survey_changed(ctx, conversation)
    answers = await _answers(ctx, conversation)
    question = survey.question(conversation.current_question)
    if shown is not None:
        visible = runner.visible_choices(question, state_of(ctx, conversation, answers))
        conversation = replace(conversation, selection=tuple(c.name for c in visible if c.name in shown))
    outcome = runner.advance(survey, state_of(ctx, conversation, answers), action)
    if outcome.problem is not None:
        return [
            Outbound(text=problem_text(ctx, survey, outcome.problem)),
            render_question(ctx, survey, conversation, answers),
        ]
    if outcome.selection_changed:
        ticked = replace(conversation, selection=outcome.state.selection)
        await ctx.repos.conversations.save(ticked, ctx.now)
        return [render_question(ctx, survey, ticked, answers, replaces_pressed=True)]
    messages: list[Outbound] = []
    if pressed:
        # Close the answered question in place: its buttons go, the answer shows under it.
        value = dict(outcome.recorded).get(question.name)
        closing = f"{text_of(ctx, survey, question.label)}\n→ {shown_value(ctx, survey, question, value)}"
        messages.append(Outbound(text=closing, replaces_pressed=True))
    if outcome.feedback is not None:
        messages.append(_feedback(ctx, survey, outcome.feedback))
    return messages + await _after_step(ctx, survey, _moved(conversation, outcome), outcome)


def _feedback(ctx: Context, survey: Survey, feedback: runner.QuizFeedback) -> Outbound:
    question = feedback.question
    if feedback.correct:
        lines = [ctx.texts("quiz_correct")]
    else:
        right = question.choice(question.correct or "")
        lines = [ctx.texts("quiz_wrong", answer=text_of(ctx, survey, right.label) if right else "")]
    if question.explanation is not None:
        lines.append(text_of(ctx, survey, question.explanation))
    return Outbound(text="\n".join(lines))


async def _after_step(
    ctx: Context, survey: Survey, conversation: Conversation, outcome: runner.Outcome
) -> list[Outbound]:
    """Store what the step recorded and the new position, then say what comes next."""
    assert conversation.response_id is not None
    for name, value in outcome.recorded:
        await ctx.repos.responses.record_answer(conversation.response_id, name, value, ctx.now)
    messages = _notes(ctx, survey, outcome.notes)
    answers = dict(outcome.state.answers)
    if outcome.finished and not survey.confirm:
        return await _finish(ctx, survey, conversation, answers, messages)
    await ctx.repos.conversations.save(conversation, ctx.now)
    messages.append(_prompt(ctx, survey, conversation, answers))
    return messages


async def _finish(
    ctx: Context, survey: Survey, conversation: Conversation, answers: dict[str, str | None], messages: list[Outbound]
) -> list[Outbound]:
    assert conversation.response_id is not None
    score = runner.score(survey, answers) if survey.is_quiz else None
    await ctx.repos.responses.complete(conversation.response_id, ctx.now, score=score[0] if score else None)
    await ctx.repos.participations.record_completion(ctx.contact.id, survey.id, ctx.now)
    await ctx.repos.conversations.end(ctx.contact.id)
    if score is not None:
        messages.append(Outbound(text=ctx.texts("quiz_score", score=str(score[0]), total=str(score[1]))))
    outro = text_of(ctx, survey, survey.outro) if survey.outro else ""
    messages.append(Outbound(text=f"{outro}\n\n{ctx.texts('finished')}".strip()))
    return messages


async def cancel(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """Leave the survey; the response stays stored as incomplete."""
    await ctx.repos.conversations.end(ctx.contact.id)
    return [Outbound(text=ctx.texts("cancelled"))]


def survey_title(ctx: Context, survey: Survey) -> str:
    return text_of(ctx, survey, survey.title)
