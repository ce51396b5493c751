"""Onboarding: the privacy notice and consent first, then a short profile for the register.

The conversation is defined in the survey format (``onboarding.yaml``, ``Community.onboarding``)
and run with the pure runner, in a conversation whose flow is ``onboarding``. There is no
response row: each question's name is a contact field (:data:`FIELDS`) and each answer is stored
on the contact, or as subscriptions, the moment it is given. The runner's answers are rebuilt
from the contact when needed (:func:`stored_answers`).

Consent comes first and nothing personal is stored before it: until the person says yes, the
contact holds only what the engine needs to hold the conversation (channel, platform ids, the
platform's language hint, when it was seen). A "no" records ``declined_at`` and nothing else;
the person can go on using the bot anonymously, and surveys that are not anonymous refuse
politely (:func:`consent_gate`). ``conversations.survey_id`` remembers the survey of a deep
link, opened once onboarding is over.

When ``Community.onboarding`` is None, nothing here runs and the bot behaves as without a
register.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date

from common.problems import FileProblem
from handlers import payloads, survey
from handlers.context import Context
from handlers.messages import Button, Outbound
from handlers.survey import press_action, problem_text, text_of
from handlers.texts import LANGUAGE_NAMES, SUPPORTED_LANGUAGES, Texts
from storage.records import Conversation
from storage.repositories import REGISTER_FIELDS
from surveys import runner
from surveys.answers import join_selection
from surveys.model import Question, QuestionType, Survey

FLOW = "onboarding"
CONSENT = "consent"
#: The question names an onboarding file may use: each is where its answer is stored.
FIELDS = ("consent", "language", "user_group", "region", "organisation", "topics")
#: ``o:`` starts onboarding (to give consent); ``o:<survey id>`` opens that survey afterwards.
START_PAYLOAD = "o:"


def is_start_payload(value: str) -> bool:
    return value.startswith(START_PAYLOAD)


# --- Checking the onboarding file --------------------------------------------------------------


def onboarding_problems(definition: Survey, user_groups: Iterable[str], topics: Iterable[str]) -> list[FileProblem]:
    """What makes ``definition`` unusable as the onboarding conversation, as ``FILE:LINE`` problems.

    Consent must come first and every other question must depend on it, so that a mistake in
    the file cannot make the bot store personal data without consent.
    """
    found: list[FileProblem] = []

    def problem(line: int, message: str) -> None:
        found.append(FileProblem(definition.source, line, message))

    asked = [question for question in definition.questions if question.is_asked]
    if not asked or asked[0].name != CONSENT:
        line = asked[0].line if asked else 1
        problem(line, "the onboarding must start with the question 'consent' (the privacy notice)")
    probe = date(2000, 1, 1)
    for question in definition.questions:
        if question.is_note:
            continue
        if question.name not in FIELDS:
            problem(question.line, f"'{question.name}' is not a register field; use {', '.join(FIELDS)}")
            continue
        if question.name != CONSENT and any(
            runner.is_relevant(question, answers, probe) for answers in ({}, {CONSENT: "no"})
        ):
            problem(
                question.line, f"'{question.name}' must only be asked after consent: add relevant: ${{consent}} = 'yes'"
            )
        problem_text = _field_problem(question, tuple(user_groups), tuple(topics))
        if problem_text is not None:
            problem(question.line, problem_text)
    return found


def _choice_names(question: Question) -> set[str]:
    return {choice.name for choice in question.choices}


def _same_names(question: Question, configured: tuple[str, ...], what: str) -> str | None:
    missing = [name for name in configured if name not in _choice_names(question)]
    extra = sorted(_choice_names(question) - set(configured))
    if missing:
        return f"'{question.name}' has no choice for {', '.join(missing)} ({what} in config.yaml)"
    if extra:
        return f"'{question.name}' has choices that are not {what} in config.yaml: {', '.join(extra)}"
    return None


def _field_problem(question: Question, user_groups: tuple[str, ...], topics: tuple[str, ...]) -> str | None:
    kind = question.type
    if question.name == CONSENT:
        if kind is not QuestionType.SELECT_ONE or _choice_names(question) != {"yes", "no"}:
            return "'consent' must be a select_one with the choices yes and no"
    elif question.name == "language":
        if kind is not QuestionType.SELECT_ONE or not _choice_names(question) <= set(SUPPORTED_LANGUAGES):
            return f"'language' must be a select_one among the bot's languages: {', '.join(SUPPORTED_LANGUAGES)}"
    elif question.name == "user_group":
        if kind is not QuestionType.SELECT_ONE:
            return "'user_group' must be a select_one"
        return _same_names(question, user_groups, "register.user_groups")
    elif question.name == "topics":
        if kind is not QuestionType.SELECT_MULTIPLE:
            return "'topics' must be a select_multiple"
        return _same_names(question, topics, "register.topics")
    elif question.name in REGISTER_FIELDS:  # region, organisation
        width = REGISTER_FIELDS[question.name]
        if kind is QuestionType.TEXT and (question.max_length is None or question.max_length > width):
            return f"'{question.name}' needs max_length: {width} or less"
        if kind not in (QuestionType.TEXT, QuestionType.SELECT_ONE):
            return f"'{question.name}' must be a text or a select_one"
        if kind is QuestionType.SELECT_ONE and any(len(name) > width for name in _choice_names(question)):
            return f"the choice names of '{question.name}' must be at most {width} characters"
    return None


# --- Who needs onboarding -----------------------------------------------------------------------


def pending(ctx: Context) -> bool:
    """Whether this contact should see the privacy notice first (neither yes nor no yet)."""
    return ctx.community.onboarding is not None and not ctx.contact.has_answered_consent


async def consent_gate(ctx: Context, definition: Survey) -> list[Outbound] | None:
    """None if the contact may open ``definition``; else what to say instead.

    With onboarding configured, a survey that is not anonymous needs consent: a contact who was
    never asked is onboarded first (then the survey opens); one who said no is told politely.
    """
    if ctx.community.onboarding is None or ctx.contact.has_consented:
        return None
    if not ctx.contact.has_answered_consent:
        return await begin(ctx, then_survey=definition.id)
    if definition.anonymous:
        return None
    return [consent_needed(ctx, definition)]


def consent_needed(ctx: Context, definition: Survey) -> Outbound:
    title = survey.survey_title(ctx, definition)
    button = Button(ctx.texts("button_give_consent"), START_PAYLOAD + definition.id)
    return Outbound(text=ctx.texts("consent_needed", title=title), buttons=((button,),))


# --- Texts and answers --------------------------------------------------------------------------


def topic_label(ctx: Context, topic: str) -> str:
    """A topic as the person reads it: its label in the onboarding file, else its name."""
    definition = ctx.community.onboarding
    if definition is not None and definition.has_question("topics"):
        choice = definition.question("topics").choice(topic)
        if choice is not None:
            return text_of(ctx, definition, choice.label)
    return topic.replace("_", " ").capitalize()


def shown_value(ctx: Context, name: str, value: str | None) -> str:
    """A stored field as the person reads it (choice labels, the language's own name)."""
    definition = ctx.community.onboarding
    if value is None or value == "":
        return ctx.texts("not_given")
    if name == "language":
        return LANGUAGE_NAMES.get(value, value)
    if definition is not None and definition.has_question(name):
        return survey.shown_value(ctx, definition, definition.question(name), value)
    return value


async def stored_answers(ctx: Context, definition: Survey, upto: str | None = None) -> dict[str, str | None]:
    """The runner's answers rebuilt from the contact: every question before ``upto`` (all of
    them when None) counts as answered, with the stored value or None."""
    contact = ctx.contact
    consent = "yes" if contact.has_consented else ("no" if contact.declined_at is not None else None)
    values: dict[str, str | None] = {
        CONSENT: consent,
        "language": contact.language,
        "user_group": contact.user_group,
        "region": contact.region,
        "organisation": contact.organisation,
    }
    answers: dict[str, str | None] = {}
    for question in definition.questions:
        if question.name == upto:
            break
        if not question.is_asked:
            continue
        if question.name == "topics":
            followed = await ctx.repos.subscriptions.topics(contact.id)
            answers["topics"] = join_selection(question, followed) or None
        else:
            answers[question.name] = values.get(question.name)
    return answers


async def store(ctx: Context, name: str, value: str | None) -> Context:
    """Store one answer where it belongs; returns the context with the contact as now stored.

    Only the answer to ``consent`` is stored before consent; anything else without consent is
    dropped, whatever the onboarding file says.
    """
    contacts = ctx.repos.contacts
    contact = ctx.contact
    if name == CONSENT:
        if value == "yes":
            await contacts.give_consent(contact.id, ctx.now)
        elif value == "no":
            await contacts.decline_consent(contact.id, ctx.now)
    elif not contact.has_consented:
        return ctx
    elif name == "language":
        if value not in SUPPORTED_LANGUAGES:
            return ctx  # the language the bot speaks is kept even if the question is skipped
        await contacts.set_language(contact.id, value)
    elif name in REGISTER_FIELDS:
        await contacts.set_field(contact.id, name, value)
    elif name == "topics":
        chosen = tuple(topic for topic in (value or "").split() if topic in ctx.community.topics)
        await ctx.repos.subscriptions.replace(contact.id, chosen, ctx.now)
        return ctx
    else:
        return ctx
    fresh = await contacts.get(contact.id)
    if fresh is None:  # pragma: no cover - the engine created it in this transaction
        return ctx
    return replace(ctx, contact=fresh, texts=Texts(fresh.language) if fresh.language else ctx.texts)


def render(
    ctx: Context,
    definition: Survey,
    conversation: Conversation,
    answers: Mapping[str, str | None],
    *,
    with_position: bool = True,
    replaces_pressed: bool = False,
) -> Outbound:
    """The question the conversation is on, as the survey flow shows questions.

    The privacy notice has no "1/1" in front: before consent, it is the only question.
    """
    message = survey.render_question(ctx, definition, conversation, dict(answers), replaces_pressed=replaces_pressed)
    if with_position and conversation.current_question != CONSENT:
        return message
    position = runner.progress(definition, survey.state_of(ctx, conversation, dict(answers)))
    prefix = f"{position.position}/{position.total} · "
    return replace(message, text=message.text.removeprefix(prefix))


def closing(ctx: Context, definition: Survey, question: Question, value: str | None) -> Outbound:
    """The answered question with its answer, replacing the message whose button was pressed."""
    label = text_of(ctx, definition, question.label)
    return Outbound(text=f"{label}\n→ {survey.shown_value(ctx, definition, question, value)}", replaces_pressed=True)


# --- The onboarding conversation ----------------------------------------------------------------


async def begin(ctx: Context, then_survey: str | None = None, *, greet: bool = True) -> list[Outbound]:
    """Start onboarding at the privacy notice; ``then_survey`` opens once it is over."""
    definition = ctx.community.onboarding
    assert definition is not None
    current = await ctx.repos.conversations.get(ctx.contact.id)
    outcome = runner.start(definition, ctx.now.date())
    conversation = Conversation(
        contact_id=ctx.contact.id,
        flow=FLOW,
        survey_id=then_survey,
        response_id=None,
        current_question=outcome.state.current,
        selection=outcome.state.selection,
        prompt_serial=(current.prompt_serial if current is not None else 0) + 1,
    )
    messages = [Outbound(text=ctx.texts("greeting"))] if greet else []
    if definition.intro is not None:
        messages.append(Outbound(text=text_of(ctx, definition, definition.intro)))
    return messages + await _after_step(ctx, definition, conversation, outcome)


async def _after_step(
    ctx: Context, definition: Survey, conversation: Conversation, outcome: runner.Outcome
) -> list[Outbound]:
    """Store what the step recorded, then ask the next question or finish."""
    for name, value in outcome.recorded:
        ctx = await store(ctx, name, value)
    messages = [Outbound(text=text_of(ctx, definition, note.label)) for note in outcome.notes]
    if outcome.finished:
        return messages + await _finish(ctx, conversation)
    await ctx.repos.conversations.save(conversation, ctx.now)
    messages.append(render(ctx, definition, conversation, outcome.state.answers))
    return messages


async def _finish(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """Onboarding is over: thank, then open the deep link's survey or list the surveys."""
    from handlers import start  # start opens onboarding, so it is imported here, not at the top

    await ctx.repos.conversations.end(ctx.contact.id)
    messages = [Outbound(text=ctx.texts("registered" if ctx.contact.has_consented else "consent_declined"))]
    then = ctx.surveys.get(conversation.survey_id or "")
    if then is None:
        return [*messages, start.survey_list(ctx)]
    if ctx.contact.has_consented or then.anonymous:
        return messages + await survey.begin(ctx, then)
    return [*messages, consent_needed(ctx, then)]


async def _gone(ctx: Context) -> list[Outbound]:
    """Onboarding was switched off, or its question removed, under a conversation: end it."""
    from handlers import start

    await ctx.repos.conversations.end(ctx.contact.id)
    return [Outbound(text=ctx.texts("greeting")), start.survey_list(ctx)]


def _definition(ctx: Context, conversation: Conversation) -> Survey | None:
    definition = ctx.community.onboarding
    current = conversation.current_question
    if definition is None or current is None or not definition.has_question(current):
        return None
    return definition


async def current_prompt(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """Ask again the onboarding question the contact is on."""
    definition = _definition(ctx, conversation)
    if definition is None:
        return await _gone(ctx)
    answers = await stored_answers(ctx, definition, conversation.current_question)
    return [render(ctx, definition, conversation, answers)]


async def on_text(ctx: Context, conversation: Conversation, text: str) -> list[Outbound]:
    action: runner.Action = runner.SkipQuestion() if ctx.texts.is_skip_word(text) else runner.TypedAnswer(text)
    return await _act(ctx, conversation, action, pressed=False)


async def skip(ctx: Context, conversation: Conversation) -> list[Outbound]:
    return await _act(ctx, conversation, runner.SkipQuestion(), pressed=False)


async def on_press(ctx: Context, conversation: Conversation, press: payloads.PromptPress) -> list[Outbound]:
    definition = _definition(ctx, conversation)
    if definition is None:
        return await _gone(ctx)
    if press.serial == conversation.prompt_serial:
        action = press_action(definition.question(conversation.current_question or ""), press)
        if action is not None:
            return await _act(ctx, conversation, action, pressed=True)
    answers = await stored_answers(ctx, definition, conversation.current_question)
    return [Outbound(text=ctx.texts("stale_button")), render(ctx, definition, conversation, answers)]


async def back(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """``/back``: the previous question again (the ones after it are asked again too)."""
    definition = _definition(ctx, conversation)
    if definition is None:
        return await _gone(ctx)
    answers = await stored_answers(ctx, definition, conversation.current_question)
    outcome = runner.back(definition, survey.state_of(ctx, conversation, answers))
    if outcome.problem is not None:
        return [
            Outbound(text=problem_text(ctx, definition, outcome.problem)),
            render(ctx, definition, conversation, answers),
        ]
    moved = _moved(conversation, outcome)
    await ctx.repos.conversations.save(moved, ctx.now)
    return [render(ctx, definition, moved, await stored_answers(ctx, definition, moved.current_question))]


async def cancel(ctx: Context) -> list[Outbound]:
    """``/cancel``: stop onboarding; what was given with consent stays (see /profile)."""
    await ctx.repos.conversations.end(ctx.contact.id)
    return [Outbound(text=ctx.texts("onboarding_cancelled"))]


def _moved(conversation: Conversation, outcome: runner.Outcome) -> Conversation:
    return replace(
        conversation,
        current_question=outcome.state.current,
        selection=outcome.state.selection,
        prompt_serial=conversation.prompt_serial + 1,
    )


async def _act(ctx: Context, conversation: Conversation, action: runner.Action, *, pressed: bool) -> list[Outbound]:
    definition = _definition(ctx, conversation)
    if definition is None:
        return await _gone(ctx)
    question = definition.question(conversation.current_question or "")
    answers = await stored_answers(ctx, definition, question.name)
    outcome = runner.advance(definition, survey.state_of(ctx, conversation, answers), action)
    if outcome.problem is not None:
        return [
            Outbound(text=problem_text(ctx, definition, outcome.problem)),
            render(ctx, definition, conversation, answers),
        ]
    if outcome.selection_changed:
        ticked = replace(conversation, selection=outcome.state.selection)
        await ctx.repos.conversations.save(ticked, ctx.now)
        return [render(ctx, definition, ticked, answers, replaces_pressed=True)]
    messages = [closing(ctx, definition, question, dict(outcome.recorded).get(question.name))] if pressed else []
    return messages + await _after_step(ctx, definition, _moved(conversation, outcome), outcome)
