"""How a question flow looks: questions, summaries and answers as messages, and what a press means.

Shared by every flow that runs the pure runner (surveys, onboarding, a profile change); nothing
here reads or writes storage.
"""

from __future__ import annotations

from collections.abc import Mapping

from handlers import payloads
from handlers.context import Context
from handlers.messages import Button, Outbound
from storage.records import Conversation
from surveys import markup, repeats, runner, substitution
from surveys.answers import MIN_POINTS, Problem, expected_problem, fold, range_points
from surveys.markup import Rich
from surveys.model import NO, YES, LocalizedText, Question, QuestionType, Survey
from surveys.repeats import Slot

#: The runner's answers so far: answer key -> value (None: skipped). The key is the question's
#: name, or in a repeat its name in a pass (``member[2]/age``, see :mod:`surveys.repeats`).
Answers = dict[str, str | None]

# Buttons this long or longer go one per row, so that a phone shows the whole label.
LONG_LABEL = 18
# Likert scales and short ranges fit on one row of a phone screen.
MAX_PER_ROW = 6


def survey_language(ctx: Context, survey: Survey) -> str:
    """The language the contact reads ``survey`` in."""
    return survey.language_for(ctx.contact.language or ctx.language)


def text_of(ctx: Context, survey: Survey, text: LocalizedText, answers: Mapping[str, str | None] | None = None) -> str:
    """A survey text in the language the contact reads this survey in, as clean text: its
    markdown/HTML dropped, ``${name}`` replaced by the answer (empty without ``answers``)."""
    language = survey_language(ctx, survey)
    return substitution.plain(text.in_language(language, survey.default_language), survey, answers or {}, language)


def said(ctx: Context, survey: Survey, text: LocalizedText, answers: Mapping[str, str | None] | None = None) -> Rich:
    """A survey text as the respondent reads it: formatted spans, ``${name}`` replaced."""
    language = survey_language(ctx, survey)
    return substitution.rich(text.in_language(language, survey.default_language), survey, answers or {}, language)


def message(
    *parts: str | Rich,
    buttons: tuple[tuple[Button, ...], ...] = (),
    replaces_pressed: bool = False,
    expects: str | None = None,
    location_button: str | None = None,
) -> Outbound:
    """One message of the bot's own words (``str``) and survey texts (spans), in order: its clean
    text, and its formatting when a survey text brought some (``expects``, ``location_button``:
    as :class:`Outbound`'s)."""
    spans = tuple(span for part in parts for span in (markup.literal(part) if isinstance(part, str) else part))
    return Outbound(
        text=markup.plain(spans),
        buttons=buttons,
        replaces_pressed=replaces_pressed,
        rich=spans if markup.is_styled(spans) else (),
        expects=expects,
        location_button=location_button,
    )


def _rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def _per_row(question: Question, labels: list[str]) -> int:
    appearance = set((question.appearance or "").split())
    if "vertical" in appearance:
        return 1
    if appearance & {"likert", "horizontal", "horizontal-compact"} or question.type is QuestionType.RANGE:
        return min(len(labels), MAX_PER_ROW) or 1
    return 1 if any(len(label) >= LONG_LABEL for label in labels) else 2


def state_of(ctx: Context, conversation: Conversation, answers: Answers) -> runner.ResponseState:
    """The runner's state for ``conversation`` with ``answers`` so far."""
    return runner.ResponseState(
        answers=answers,
        current=conversation.current_question,
        selection=conversation.selection,
        today=ctx.now.date(),
        now=ctx.now,
        seed=conversation.response_id or "",
    )


def answers_here(survey: Survey, key: str | None, answers: Answers) -> Mapping[str, str | None]:
    """The answers as the question stored under ``key`` sees them: in a repeat, the current
    pass's answers under their bare names. What ``${name}`` in its texts stands for."""
    return repeats.view_at(survey, answers, key)


def label_text(ctx: Context, survey: Survey, text: LocalizedText, here: Mapping[str, str | None]) -> str:
    """A survey text shown with a question, as clean text: ``here`` are the answers it sees
    (:func:`answers_here`), for the substitution of ``${name}``."""
    return text_of(ctx, survey, text, here)


def pass_prefix(ctx: Context, survey: Survey, slot: Slot) -> str:
    """The passes a question in a repeat is in, before its label ("household member 2 > ")."""
    if not slot.path:  # most questions: no pass to name
        return ""
    passes = [
        ctx.texts("repeat_pass", label=text_of(ctx, survey, survey.repeat(name).label), number=str(number))
        for name, number in slot.path
    ]
    return "".join(f"{label} › " for label in passes)


def slot_label(ctx: Context, survey: Survey, slot: Slot, answers: Answers) -> str:
    """The text that asks ``slot`` (clean text): the question's label after the pass it is in
    ("household member 2 > " then the label); for the question after a pass, "Add another
    household member?"."""
    here = answers_here(survey, slot.key, answers)
    if slot.another is not None:
        return ctx.texts("repeat_add_another", label=label_text(ctx, survey, slot.another.label, here))
    return pass_prefix(ctx, survey, slot) + label_text(ctx, survey, slot.question.label, here)


def slot_said(ctx: Context, survey: Survey, slot: Slot, answers: Answers) -> list[str | Rich]:
    """:func:`slot_label` with the label's formatting kept."""
    return _slot_said_seeing(ctx, survey, slot, answers, answers_here(survey, slot.key, answers))


def _slot_said_seeing(
    ctx: Context, survey: Survey, slot: Slot, answers: Answers, here: Mapping[str, str | None]
) -> list[str | Rich]:
    """:func:`slot_said` where the answers the slot sees (``here``) are known already."""
    if slot.another is not None:
        return [slot_label(ctx, survey, slot, answers)]
    return [pass_prefix(ctx, survey, slot), said(ctx, survey, slot.question.label, here)]


def shown_value(
    ctx: Context,
    survey: Survey,
    question: Question,
    value: str | None,
    answers: Mapping[str, str | None] | None = None,
) -> str:
    """An answer as the respondent sees it: choice labels, or the value itself."""
    if value is None:
        return ctx.texts("skipped")
    if question.name.endswith("?") and value in (YES, NO):  # "Add another?" after a repeat's pass
        return ctx.texts("button_yes" if value == YES else "button_no")
    if question.type in (QuestionType.SELECT_ONE, QuestionType.SELECT_MULTIPLE):
        chosen = value.split()
        return ", ".join(text_of(ctx, survey, c.label, answers) for c in question.choices if c.name in chosen)
    if question.is_media:
        return ctx.texts("file_received")
    if question.type in MIN_POINTS:
        return ctx.texts("points_so_far", count=str(value.count(";") + 1))
    return value


def expected_input(ctx: Context, question: Question) -> str:
    """How a media or location question is answered ("📷 Send a photo."), as a line of its prompt."""
    problem = expected_problem(question)
    return ctx.texts(f"problem_{problem.code}", **problem.params)


def render_question(
    ctx: Context,
    survey: Survey,
    conversation: Conversation,
    answers: Answers,
    *,
    replaces_pressed: bool = False,
) -> Outbound:
    """The message that asks the conversation's current question, with its buttons."""
    key = conversation.current_question
    assert key is not None
    slot = runner.slot_of(survey, key)
    assert slot is not None
    question = slot.question
    state = state_of(ctx, conversation, answers)
    here = answers_here(survey, key, answers)
    parts = _slot_said_seeing(ctx, survey, slot, answers, here)
    if slot.another is None:
        position = runner.progress(survey, state)
        parts.insert(0, f"{position.position}/{position.total} · ")
    if question.hint is not None:
        parts += ["\n", said(ctx, survey, question.hint, here)]
    if question.is_media or question.is_geo:
        parts += ["\n", expected_input(ctx, question)]
    if question.type is QuestionType.RANK:  # typed as the numbers in order: "3 1 2"
        ranked = runner.visible_choices(question, state, survey)
        parts += [f"\n{i}. {text_of(ctx, survey, c.label, here)}" for i, c in enumerate(ranked, 1)]
        parts += ["\n", ctx.texts("problem_not_ranking", count=str(len(ranked)))]
    if question.type is QuestionType.OSM:  # the location, then "; key=value" per tag
        parts += ["\n", ctx.texts("problem_expects_osm")]
        for tag in question.osm_tags:
            values = ", ".join(f"{c.name} ({text_of(ctx, survey, c.label, here)})" for c in tag.choices)
            parts.append(f"\n• {tag.key}: {text_of(ctx, survey, tag.label, here)}" + (f" — {values}" if values else ""))
    if question.type in MIN_POINTS and conversation.selection:
        parts += ["\n", ctx.texts("points_so_far", count=str(len(conversation.selection)))]
    if key in answers:
        shown = shown_value(ctx, survey, question, answers[key], here)
        parts += ["\n", ctx.texts("current_answer", answer=shown)]
    serial = conversation.prompt_serial
    buttons: list[Button] = []
    labels: list[str] = []
    if question.type in (QuestionType.SELECT_ONE, QuestionType.SELECT_MULTIPLE):
        visible = {choice.name for choice in runner.visible_choices(question, state, survey)}
        multiple = question.type is QuestionType.SELECT_MULTIPLE
        for index, choice in enumerate(question.choices):
            if choice.name not in visible:
                continue
            if slot.another is not None:
                label = ctx.texts("button_yes" if choice.name == YES else "button_no")
            else:
                label = text_of(ctx, survey, choice.label, here)
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
    closing_row: list[Button] = []
    offered = runner.offered_default(question, answers)
    if offered is not None and question.type is not QuestionType.SELECT_MULTIPLE:
        keep = shown_value(ctx, survey, question, offered, answers)
        closing_row.append(
            Button(ctx.texts("button_keep", value=keep), payloads.prompt_press(serial, payloads.DEFAULT))
        )
    if question.type in MIN_POINTS and conversation.selection:
        closing_row.append(Button(ctx.texts("button_done"), payloads.prompt_press(serial, payloads.DONE)))
    if question.type is QuestionType.SELECT_MULTIPLE:
        # Done carries the ticks shown with it: another copy of the question (sent again after a
        # lost reply) may have changed the stored ones since this keyboard was drawn.
        ticked = [i for i, choice in enumerate(question.choices) if choice.name in conversation.selection]
        mask = payloads.selection_mask(ticked)
        closing_row.append(Button(ctx.texts("button_done"), payloads.prompt_press(serial, payloads.DONE, mask)))
    if not question.required and question.required_if is None:
        closing_row.append(Button(ctx.texts("button_skip"), payloads.prompt_press(serial, payloads.SKIP)))
    if closing_row:
        rows.append(tuple(closing_row))
    expects = question.type.value if question.is_media or question.is_geo else None
    if question.type is QuestionType.OSM:
        expects = QuestionType.GEOPOINT.value  # a channel offers the position; the tags are typed
    location_button = ctx.texts("button_send_location") if question.is_geo or expects == "geopoint" else None
    return message(
        *parts, buttons=tuple(rows), replaces_pressed=replaces_pressed, expects=expects, location_button=location_button
    )


def render_summary(ctx: Context, survey: Survey, conversation: Conversation, answers: Answers) -> Outbound:
    """The answers before submitting, with Submit and Change buttons."""
    state = state_of(ctx, conversation, answers)
    parts: list[str | Rich] = [ctx.texts("summary_title")]
    for slot, value in runner.answered_slots(survey, state):
        shown = shown_value(ctx, survey, slot.question, value, answers_here(survey, slot.key, answers))
        parts += ["\n• ", *slot_said(ctx, survey, slot, answers), f"\n   → {shown}"]
    serial = conversation.prompt_serial
    buttons = (
        (Button(ctx.texts("button_submit"), payloads.prompt_press(serial, payloads.SUBMIT)),),
        (Button(ctx.texts("button_change"), payloads.prompt_press(serial, payloads.EDIT)),),
    )
    return message(*parts, buttons=buttons)


def render_question_list(ctx: Context, survey: Survey, conversation: Conversation, answers: Answers) -> Outbound:
    """The answered questions as buttons, to pick the one to change."""
    state = state_of(ctx, conversation, answers)
    serial = conversation.prompt_serial
    buttons = tuple(
        (Button(slot_label(ctx, survey, slot, answers)[:60], payloads.prompt_press(serial, payloads.GO_TO, index)),)
        for index, (slot, _) in enumerate(runner.answered_slots(survey, state))
    )
    return Outbound(text=ctx.texts("choose_question"), buttons=buttons, replaces_pressed=True)


def closing(ctx: Context, survey: Survey, key: str, value: str | None, answers: Answers) -> Outbound:
    """The question answered under ``key`` with its answer, replacing the message whose button was
    pressed (``answers``: those it was asked with, for its ``${name}``)."""
    slot = runner.slot_of(survey, key)
    assert slot is not None
    shown = shown_value(ctx, survey, slot.question, value, answers_here(survey, key, answers))
    return message(*slot_said(ctx, survey, slot, answers), f"\n→ {shown}", replaces_pressed=True)


def notes(
    ctx: Context, survey: Survey, shown: tuple[Question, ...], here: Mapping[str, str | None] | None = None
) -> list[Outbound]:
    """The notes a step passed, one message each; ``here``: the answers they see (those of the
    question they lead to, :func:`answers_here`). A note left empty (all of it an unanswered
    ``${name}``) is not sent."""
    texts = [said(ctx, survey, note.label, here) for note in shown]
    return [message(text) for text in texts if markup.plain(text).strip()]


def feedback(
    ctx: Context, survey: Survey, quiz: runner.QuizFeedback, answers: Mapping[str, str | None] | None = None
) -> Outbound:
    """Right or wrong after a quiz answer, with the question's explanation."""
    question = quiz.question
    if quiz.correct:
        parts: list[str | Rich] = [ctx.texts("quiz_correct")]
    else:
        right = question.choice(question.correct or "")
        parts = [ctx.texts("quiz_wrong", answer=text_of(ctx, survey, right.label, answers) if right else "")]
    if question.explanation is not None:
        parts += ["\n", said(ctx, survey, question.explanation, answers)]
    return message(*parts)


def problem_text(
    ctx: Context, survey: Survey, problem: Problem, answers: Mapping[str, str | None] | None = None
) -> str:
    """Why an answer was refused: the survey's own message if it has one, else the bot's."""
    return markup.plain(problem_said(ctx, survey, problem, answers))


def problem_said(
    ctx: Context, survey: Survey, problem: Problem, answers: Mapping[str, str | None] | None = None
) -> Rich:
    """:func:`problem_text` with the formatting of the survey's own message."""
    if problem.message is not None:
        return said(ctx, survey, problem.message, answers)
    return markup.literal(ctx.texts(f"problem_{problem.code}", **problem.params))


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


def typed_action(ctx: Context, text: str, question: Question | None = None) -> runner.Action:
    """A typed message as an answer: the skip word skips, "done" ends the points of a geotrace or
    geoshape ``question``, anything else is the answer. To "Add another ...?" (``question``) the
    words of the Yes and No buttons in the user's language answer."""
    if question is not None and question.name.endswith("?"):
        typed = fold(text)
        for choice in (YES, NO):
            if typed and typed == fold(ctx.texts("button_yes" if choice == YES else "button_no")):
                return runner.PickChoice(choice)
    if ctx.texts.is_skip_word(text):
        return runner.SkipQuestion()
    if question is not None and question.type in MIN_POINTS and ctx.texts.is_done_word(text):
        return runner.FinishSelection()
    return runner.TypedAnswer(text)
