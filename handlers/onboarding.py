"""Onboarding: the privacy notice and consent first, then a short profile for the register.

The conversation is defined in the survey format (``onboarding.yaml``, ``Community.onboarding``)
and run with the pure runner, in a conversation whose flow is ``onboarding``. There is no
response row: each question's name is a contact field (:data:`handlers.onboarding_file.FIELDS`) and each answer is stored
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

from dataclasses import dataclass, replace

from handlers import flow_driver, prompts, survey
from handlers.context import Context
from handlers.flow_driver import FlowStore, Recorded, Replies
from handlers.messages import Button, Outbound
from handlers.onboarding_file import CONSENT
from handlers.prompts import Answers, text_of
from handlers.texts import LANGUAGE_NAMES, SUPPORTED_LANGUAGES, Texts
from storage.records import Conversation
from storage.repositories import REGISTER_FIELDS
from surveys import runner
from surveys.answers import InvalidAnswer, join_selection, parse_typed_answer
from surveys.model import Survey

FLOW = "onboarding"
#: ``o:`` starts onboarding (to give consent); ``o:<survey id>`` opens that survey afterwards.
START_PAYLOAD = "o:"


def is_start_payload(value: str) -> bool:
    return value.startswith(START_PAYLOAD)


# --- Who needs onboarding -----------------------------------------------------------------------


def pending(ctx: Context) -> bool:
    """Whether this contact should see the privacy notice first (neither yes nor no yet)."""
    return ctx.community.onboarding is not None and not ctx.contact.has_answered_consent


def awaits_consent(ctx: Context, conversation: Conversation) -> bool:
    """Whether ``conversation`` waits at the privacy question (nothing personal may be kept yet)."""
    return (
        ctx.community.onboarding is not None and conversation.flow == FLOW and conversation.current_question == CONSENT
    )


def answers_consent(ctx: Context, text: str) -> bool:
    """Whether typed ``text`` is an answer to the privacy question ("1", "yes", a choice's label)."""
    definition = ctx.community.onboarding
    if definition is None or not definition.has_question(CONSENT):
        return False
    try:
        parse_typed_answer(definition.question(CONSENT), text)
    except InvalidAnswer:
        return False
    return True


def keeps_personal_data(ctx: Context) -> bool:
    """Whether what this contact does may be kept with their contact (no register, or consent given)."""
    return ctx.community.onboarding is None or ctx.contact.has_consented


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


async def needs_consent(ctx: Context, refusal: str) -> list[Outbound] | None:
    """None if the contact may do something that keeps personal data; else what to say instead.

    That needs the register and consent: without a register it is off; a contact never asked
    gets onboarding; one who said no gets the ``refusal`` text with a button to give consent.
    """
    if ctx.community.onboarding is None:
        return [Outbound(text=ctx.texts("register_off"))]
    if ctx.contact.has_consented:
        return None
    if pending(ctx):
        return await begin(ctx, greet=False)
    button = Button(ctx.texts("button_give_consent"), START_PAYLOAD)
    return [Outbound(text=ctx.texts(refusal), buttons=((button,),))]


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
        return prompts.shown_value(ctx, definition, definition.question(name), value)
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


# --- The onboarding conversation ----------------------------------------------------------------


@dataclass(frozen=True)
class RegisterStore(FlowStore):
    """Onboarding's answers are the contact's register fields, stored the moment they are given.

    The privacy notice has no "1/1" in front (before consent, it is the only question); without
    ``with_position`` no question has (changing one field from /profile).
    """

    with_position: bool = True

    def definition(self, ctx: Context, conversation: Conversation) -> Survey | None:
        definition = ctx.community.onboarding
        current = conversation.current_question
        if definition is None or current is None or not definition.has_question(current):
            return None
        return definition

    async def answers(self, ctx: Context, definition: Survey, conversation: Conversation) -> Answers:
        """The fields asked before the current question (the ones after it are asked again)."""
        return await stored_answers(ctx, definition, conversation.current_question)

    def render(
        self, ctx: Context, survey: Survey, conversation: Conversation, answers: Answers, *, pressed: bool = False
    ) -> Outbound:
        message = prompts.render_question(ctx, survey, conversation, dict(answers), replaces_pressed=pressed)
        if self.with_position and conversation.current_question != CONSENT:
            return message
        position = runner.progress(survey, prompts.state_of(ctx, conversation, dict(answers)))
        prefix = f"{position.position}/{position.total} · "
        rich = message.rich
        if rich and rich[0].text.startswith(prefix):  # a formatted label: its spans lose the position too
            rich = (replace(rich[0], text=rich[0].text.removeprefix(prefix)), *rich[1:])
        return replace(message, text=message.text.removeprefix(prefix), rich=rich)

    async def record(self, ctx: Context, conversation: Conversation, recorded: Recorded) -> Context:
        for name, value in recorded:
            ctx = await store(ctx, name, value)
        return ctx

    async def finish(self, ctx: Context, definition: Survey, conversation: Conversation, answers: Answers) -> Replies:
        """Onboarding is over: thank, then open the deep link's survey or list the surveys."""
        await ctx.repos.conversations.end(ctx.contact.id)
        messages = [Outbound(text=ctx.texts("registered" if ctx.contact.has_consented else "consent_declined"))]
        then = ctx.surveys.get(conversation.survey_id or "")
        if then is None:
            return [*messages, await survey.survey_list(ctx)]
        if ctx.contact.has_consented or then.anonymous:
            return messages + await survey.begin(ctx, then)
        return [*messages, consent_needed(ctx, then)]

    async def gone(self, ctx: Context, conversation: Conversation) -> Replies:
        """Onboarding was switched off, or its question removed, under a conversation: end it."""
        await ctx.repos.conversations.end(ctx.contact.id)
        return [Outbound(text=ctx.texts("greeting")), await survey.survey_list(ctx)]


STORE = RegisterStore()


async def begin(ctx: Context, then_survey: str | None = None, *, greet: bool = True) -> list[Outbound]:
    """Start onboarding at the privacy notice; ``then_survey`` opens once it is over."""
    definition = ctx.community.onboarding
    assert definition is not None
    current = await ctx.repos.conversations.get(ctx.contact.id)
    outcome = runner.start(definition, ctx.now.date())
    messages = [Outbound(text=ctx.texts("greeting"))] if greet else []
    if definition.intro is not None:
        messages.append(Outbound(text=text_of(ctx, definition, definition.intro)))
    return messages + await flow_driver.opened(
        STORE, ctx, definition, outcome, current, flow=FLOW, survey_id=then_survey
    )


async def cancel(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """``/cancel``: stop onboarding; what was given with consent stays (see /profile)."""
    await ctx.repos.conversations.end(ctx.contact.id)
    return [Outbound(text=ctx.texts("onboarding_cancelled"))]
